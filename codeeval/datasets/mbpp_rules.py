"""MBPP+ inputs as its references expect them, and the tasks judged by a special oracle.

MBPP+ stores inputs as JSON, which has no tuples, sets or complex numbers, so many tasks
need their arguments converted back before the reference (and candidates) see them. The
tables below record, per task number, which conversion applies and which tasks are judged
by something other than equality; they follow the rules EvalPlus 0.3.1 applies to the same
release, so that verdicts agree. The conversions are written here from those facts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Args = tuple[Any, ...]


def _tuple(x: Any) -> Any:
    return tuple(x) if isinstance(x, list) else x


def _deep_tuple(x: Any) -> Any:
    return tuple(_deep_tuple(i) for i in x) if isinstance(x, list) else x


def _each_arg_tuple(args: Args) -> Args:
    return tuple(_tuple(a) for a in args)


def _each_arg_items_tuple(args: Args) -> Args:
    return tuple([_tuple(i) for i in a] for a in args)


def _first_items_tuple(args: Args) -> Args:
    return ([_tuple(i) for i in args[0]], args[1])


def _second_tuple(args: Args) -> Args:
    return (args[0], _tuple(args[1]))


def _first_tuple_of_two(args: Args) -> Args:
    return (_tuple(args[0]), args[1])


def _args_tuples_of_tuples(args: Args) -> Args:
    return tuple(tuple(_tuple(i) for i in a) for a in args)


def _sets_or_empty_dicts(args: Args) -> Args:
    # Non-empty lists become sets; anything else becomes an empty dict (as the release's
    # references were run).
    return ([set(i) if isinstance(i, list) and i else {} for i in args[0]],)


def _float_complex(args: Args) -> Args:
    return (float(args[0]), complex(args[1]))


def _list_items_tuple_then_tuple(args: Args) -> Args:
    return (tuple(_tuple(i) for i in args[0]),)


def _first_tuple_of_three(args: Args) -> Args:
    return (_tuple(args[0]), args[1], args[2])


def _dict_values_tuple(args: Args) -> Args:
    return ({k: _tuple(v) for k, v in args[0].items()}, *args[1:])


def _complex_first(args: Args) -> Args:
    return (complex(args[0]),)


def _all_deep_tuple(args: Args) -> Args:
    return tuple(_deep_tuple(a) for a in args)


_GROUPS: list[tuple[Callable[[Args], Args], tuple[int, ...]]] = [
    (_each_arg_tuple, (2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560,
                       579, 596, 616, 630, 726, 740, 744, 809)),
    (_each_arg_items_tuple, (63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473,
                             614, 780)),
    (_first_items_tuple, (75, 413, 444, 753)),
    (_second_tuple, (106, 750)),
    (_sets_or_empty_dicts, (115,)),
    (_float_complex, (124,)),
    (_first_tuple_of_two, (250, 405, 446, 617, 720, 763, 808)),
    (_args_tuples_of_tuples, (259, 401, 445)),
    (_list_items_tuple_then_tuple, (278,)),
    (_first_tuple_of_three, (307,)),
    (_dict_values_tuple, (722,)),
    (_complex_first, (252,)),
    (_all_deep_tuple, (580, 615, 791)),
]
CONVERSIONS: dict[int, Callable[[Args], Args]] = {
    task: fn for fn, tasks in _GROUPS for task in tasks}

#: Task number -> (entry point, oracle name); see :mod:`codeeval.grading.oracles`. The
#: entry point is checked too, so a renumbered release cannot pick up the wrong rule.
ORACLES: dict[int, tuple[str, str]] = {
    2: ("similar_elements", "set_equal"), 7: ("find_char_long", "set_equal"),
    111: ("common_in_nested_lists", "set_equal"), 140: ("extract_singly", "set_equal"),
    232: ("larg_nnum", "set_equal"), 249: ("intersection_array", "set_equal"),
    579: ("find_dissimilar", "set_equal"), 769: ("Diff", "set_equal"),
    737: ("check_str", "bool_or_not_none"), 787: ("text_match_three", "bool_or_not_none"),
    794: ("text_starta_endb", "bool_or_not_none"),
    164: ("are_equivalent", "any_return"), 295: ("sum_div", "equal_or_zero"),
    558: ("digit_distance_nums", "digit_distance"), 581: ("surface_Area", "surface_area"),
}


def task_number(task_id: str) -> int | None:
    """``Mbpp/123`` -> 123 (``None`` for ids of another form)."""
    tail = task_id.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None
