"""LLM-free input generators: Hypothesis strategies, type-aware mutation, boundary values.

Each generator takes a problem's :class:`~codeeval.synth.shapes.Signature`, its seed inputs
and an explicit seed, and returns :class:`Candidate` inputs, each carrying its provenance
(generator, seed, index, and how it was made). The same arguments give the same inputs,
in the same order, on every machine: every random choice comes from a
``random.Random`` seeded with the generator's name, the seed and (where it matters) the
index; Hypothesis runs with an explicit ``@seed`` and no example database.

- ``hypothesis``: a strategy built from each argument's shape (its kinds from type hints,
  its domain from the seeds, widened), drawn from without any test to satisfy.
- ``mutation``: EvalPlus's idea of type-aware mutation: take an input from a pool (the
  seeds, then what was made so far), change one argument by an operation that fits its
  type (a number nudged or replaced by one seen elsewhere, a character inserted, an
  element dropped or duplicated ...), and add the result to the pool.
- ``boundary``: each seed with one argument replaced by an edge value of its shape
  (0, ±1, the domain's ends, empty and one-element collections, duplicates, sorted and
  reversed orders).
- ``scale``: each seed with its collections and strings grown (10x, 100x, to the largest
  prime <= ``size`` items) and its numbers magnified, to find slow and overflow-prone
  programs.

Inputs are proposals: the synthesis pipeline drops those the problem's validator rejects
and those the reference fails on.
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from codeeval.synth.shapes import ANY, Shape, Signature

GENERATORS = ("hypothesis", "mutation", "boundary", "scale")
#: Punctuation tried in strings once the seeds hold any.
COMMON_PUNCTUATION = ".,!?;:'-"
#: Pairs of edge values: the first this many edges of each of two arguments, together.
PAIR_EDGES = 4
#: Size control for integers: no generator goes beyond ``max(INT_FLOOR, INT_GROWTH x the
#: largest seed integer)`` in magnitude. A test checks correctness; an input so large that
#: a plainly linear (or, relative to a clever reference, merely slower) algorithm runs out
#: of time is a stress test, which this leaves to ``codeeval perf``.
INT_FLOOR = 10**6
INT_GROWTH = 1000


@dataclass(frozen=True, slots=True)
class Candidate:
    """A proposed test input and where it came from."""

    args: tuple[Any, ...]
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Budget:
    """How many inputs each generator proposes, and how large they may get.

    ``size`` bounds the length of generated collections and strings for ``hypothesis`` and
    ``mutation``; ``scale`` grows inputs up to ``scale_size`` items.
    """

    hypothesis: int = 200
    mutation: int = 400
    boundary: int = 300
    scale: int = 24
    size: int = 20
    scale_size: int = 2000


def generate(name: str, sig: Signature, seeds: Sequence[Sequence[Any]], seed: int,
             budget: Budget) -> list[Candidate]:
    """Run generator ``name`` (one of :data:`GENERATORS`); no input holds an integer
    beyond :func:`int_cap` of the seeds.

    Raises:
        ValueError: an unknown generator name.
    """
    cap = int_cap(seeds)
    if name == "hypothesis":
        out = from_hypothesis(sig, seeds, seed, budget.hypothesis, budget.size)
    elif name == "mutation":
        out = mutate(sig, seeds, seed, budget.mutation, budget.size)
    elif name == "boundary":
        out = boundary(sig, seeds, seed, budget.boundary)
    elif name == "scale":
        out = scale(sig, seeds, seed, budget.scale, budget.scale_size)
    else:
        raise ValueError(f"unknown generator {name!r} (known: {', '.join(GENERATORS)})")
    return [c for c in out if _largest_int(c.args) <= cap]


def _largest_int(value: Any, depth: int = 0) -> int:
    """The largest integer magnitude anywhere in ``value`` (0 when there is none)."""
    if isinstance(value, bool) or depth > 50:
        return 0
    if isinstance(value, int):
        return abs(value)
    if isinstance(value, list | tuple | set | frozenset):
        return max((_largest_int(v, depth + 1) for v in value), default=0)
    if isinstance(value, dict):
        return max((_largest_int(v, depth + 1) for v in (*value, *value.values())),
                   default=0)
    return 0


def int_cap(seeds: Sequence[Sequence[Any]]) -> int:
    """The largest integer magnitude generated inputs may hold (see :data:`INT_FLOOR`)."""
    return max(INT_FLOOR, INT_GROWTH * max((_largest_int(list(s)) for s in seeds), default=0))


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):  # deterministic below 3.3e24
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def big_ints(cap: int) -> list[int]:
    """Large integers worth trying where an integer goes, all within ``cap``: the largest
    primes at and a thousandth below the cap, the largest power of two, the cap itself."""
    out = []
    for top in (cap, cap // 1000):
        n = top
        while n > 2 and not _is_prime(n):
            n -= 1
        if n > 100:
            out.append(n)
    out += [1 << (cap.bit_length() - 1), cap]
    return list(dict.fromkeys(out))


# -- domains, widened ----------------------------------------------------------------

def _int_range(shape: Shape, size: int) -> tuple[int, int]:
    """Integers around the seeds: non-negative if every seed was, reaching a little past
    the largest seen (at least ``size``)."""
    d = shape.domain
    lo = int(d.lo) if d.lo is not None else -size
    hi = int(d.hi) if d.hi is not None else size
    reach = max(abs(lo), abs(hi), size) * 2
    return (0 if lo >= 0 else -reach), reach


def _float_range(shape: Shape, size: int) -> tuple[float, float]:
    d = shape.domain
    lo = d.lo if d.lo is not None else -float(size)
    hi = d.hi if d.hi is not None else float(size)
    reach = max(abs(lo), abs(hi), float(size)) * 2
    return (0.0 if lo >= 0 else -reach), reach


def _alphabet(shape: Shape) -> str:
    """The seeds' characters, widened to whole classes (a letter seen: every letter of both
    cases, and the space; a digit: every digit; a punctuation mark: the common ones)."""
    seen = set(shape.domain.alphabet)
    chars = set(seen)
    for cls in (string.ascii_lowercase, string.ascii_uppercase, string.digits):
        if seen & set(cls):
            chars |= set(cls)
    if seen & set(string.ascii_letters):  # letters seen: both cases, and a space
        chars |= set(string.ascii_letters) | {" "}
    if seen & set(string.punctuation):  # punctuation seen: the common marks too
        chars |= set(COMMON_PUNCTUATION)
    if not chars:
        chars = set(string.ascii_lowercase + string.digits)
    return "".join(sorted(chars))


def _max_len(shape: Shape, size: int) -> int:
    return max(shape.domain.max_len or 0, size)


def _min_len(shape: Shape) -> int:
    # Fixed-length seeds (all the same length, above 0) suggest the length matters.
    d = shape.domain
    return d.min_len if d.min_len is not None and d.min_len == d.max_len and d.min_len > 0 \
        else 0


# -- hypothesis ------------------------------------------------------------------------

def _strategy(shape: Shape, size: int, depth: int = 0) -> Any:
    from hypothesis import strategies as st

    if shape.is_any or depth > 4:
        scalars = st.one_of(st.integers(-size, size), st.text(max_size=size), st.booleans(),
                            st.none(), st.floats(-size, size, allow_nan=False,
                                                 allow_subnormal=False))
        return scalars if depth > 2 else st.one_of(
            scalars, st.lists(scalars, max_size=4), st.dictionaries(st.text(max_size=3),
                                                                     scalars, max_size=3))
    options: list[Any] = []
    for kind in shape.kinds:
        if kind == "none":
            options.append(st.none())
        elif kind == "bool":
            options.append(st.booleans())
        elif kind == "int":
            lo, hi = _int_range(shape, size)
            if lo >= 0:  # seeds never negative: a quarter negative anyway (the contract decides)
                options.append(st.tuples(st.integers(0, 3), st.integers(lo, hi)).map(
                    lambda t: t[1] if t[0] else -t[1] - 1))
            else:
                options.append(st.integers(lo, hi))
        elif kind == "float":
            flo, fhi = _float_range(shape, size)
            options.append(st.floats(flo, fhi, allow_nan=False, allow_infinity=False,
                                     allow_subnormal=False))
        elif kind == "str":
            options.append(st.text(alphabet=_alphabet(shape), min_size=_min_len(shape),
                                   max_size=_max_len(shape, size)))
        elif kind == "tuple" and shape.fields is not None:
            options.append(st.tuples(*(_strategy(f, size, depth + 1) for f in shape.fields)))
        elif kind in ("list", "tuple", "set"):
            n = _max_len(shape, size)
            if kind == "set":
                items = _hashable(shape.items or ANY, size, depth)
                options.append(st.sets(items, max_size=n))
            else:
                items = _strategy(shape.items or ANY, size, depth + 1)
                lists = st.lists(items, min_size=_min_len(shape), max_size=n)
                options.append(lists.map(tuple) if kind == "tuple" else lists)
        elif kind == "dict":
            options.append(st.dictionaries(_hashable(shape.keys or ANY, size, depth),
                                           _strategy(shape.values or ANY, size, depth + 1),
                                           max_size=_max_len(shape, size)))
    return st.one_of(*options) if options else st.none()


def _hashable(shape: Shape, size: int, depth: int) -> Any:
    """A strategy for set members and dict keys: scalars only, when the shape allows more."""
    from hypothesis import strategies as st

    if shape.is_any or set(shape.kinds) - {"none", "bool", "int", "float", "str"}:
        return st.one_of(st.integers(-size, size), st.text(max_size=size), st.booleans())
    return _strategy(shape, size, depth + 1)


def from_hypothesis(sig: Signature, seeds: Sequence[Sequence[Any]], seed: int, count: int,
                    size: int) -> list[Candidate]:
    """``count`` draws from a strategy built from the signature's shapes.

    Raises:
        ImportError: Hypothesis is not installed (the ``synth`` extra).
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    if count <= 0 or not sig.shapes:
        return []
    strategy = st.tuples(*(_strategy(s, size) for s in sig.shapes))
    drawn: list[tuple[Any, ...]] = []

    @hseed(seed)
    @settings(max_examples=count, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck), derandomize=False)
    @given(strategy)
    def collect(args: tuple[Any, ...]) -> None:
        drawn.append(args)

    collect()
    return [Candidate(tuple(a), {"generator": "hypothesis", "seed": seed, "index": i})
            for i, a in enumerate(drawn[:count])]


# -- type-aware mutation ---------------------------------------------------------------

def _ingredients(seeds: Sequence[Sequence[Any]]) -> dict[type, list[Any]]:
    """Every scalar seen anywhere in the seeds, by type (EvalPlus's ingredient pool)."""
    pool: dict[type, list[Any]] = {int: [], float: [], str: []}
    stack: list[Any] = [list(s) for s in seeds]
    while stack:
        v = stack.pop()
        if isinstance(v, bool):
            continue
        if type(v) in pool and v not in pool[type(v)] and len(pool[type(v)]) < 200:
            pool[type(v)].append(v)
        elif isinstance(v, list | tuple | set | frozenset):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
    return pool


class _Mutator:
    def __init__(self, rng: random.Random, pool: dict[type, list[Any]], size: int) -> None:
        self.rng = rng
        self.pool = pool
        self.size = size

    def pick(self, kind: type, default: Any) -> Any:
        options = self.pool.get(kind) or []
        return self.rng.choice(options) if options else default

    def value(self, v: Any, shape: Shape, depth: int = 0) -> tuple[Any, str]:
        """A mutated copy of ``v`` and the name of the operation."""
        r = self.rng
        if isinstance(v, bool):
            return (not v), "bool-flip"
        if isinstance(v, int):
            ops: list[tuple[str, Callable[[], int]]] = [
                ("int+1", lambda: v + 1), ("int-1", lambda: v - 1),
                ("int*2", lambda: v * 2), ("int-neg", lambda: -v), ("int-zero", lambda: 0),
                ("int-pick", lambda: self.pick(int, v + 1)),
                ("int-rand", lambda: r.randint(*_int_range(shape, self.size)))]
            name, op = r.choice(ops)
            return op(), name
        if isinstance(v, float):
            fops: list[tuple[str, Callable[[], float]]] = [
                ("float+1", lambda: v + 1.0), ("float-1", lambda: v - 1.0),
                ("float*2", lambda: v * 2), ("float/2", lambda: v / 2),
                ("float-neg", lambda: -v), ("float-zero", lambda: 0.0),
                ("float-jitter", lambda: v + r.uniform(-1, 1)),
                ("float-pick", lambda: self.pick(float, v + 0.5))]
            name, fop = r.choice(fops)
            return fop(), name
        if isinstance(v, str):
            return self.text(v, shape)
        if isinstance(v, list | tuple):
            return self.sequence(v, shape, depth)
        if isinstance(v, set | frozenset):
            items = list(v)
            out, name = self.sequence(items, Shape(("list",), shape.domain, items=shape.items),
                                      depth)
            return type(v)(_hashables(out)), name.replace("list", "set")
        if isinstance(v, dict):
            return self.mapping(v, shape, depth)
        return v, "keep"

    def text(self, v: str, shape: Shape) -> tuple[str, str]:
        r = self.rng
        alphabet = _alphabet(shape)
        i = r.randint(0, len(v))
        ops: list[tuple[str, Callable[[], str]]] = [
            ("str-insert", lambda: v[:i] + r.choice(alphabet) + v[i:]),
            ("str-pick", lambda: self.pick(str, v + r.choice(alphabet))),
            ("str-concat", lambda: v + self.pick(str, v)),
            ("str-empty", lambda: "")]
        if v:
            j = r.randrange(len(v))
            ops += [("str-delete", lambda: v[:j] + v[j + 1:]),
                    ("str-replace", lambda: v[:j] + r.choice(alphabet) + v[j + 1:]),
                    ("str-repeat", lambda: v[:j + 1] + v[j:]),
                    ("str-reverse", lambda: v[::-1]),
                    ("str-slice", lambda: v[j:] if r.random() < 0.5 else v[:j])]
        name, op = r.choice(ops)
        return op(), name

    def sequence(self, v: Sequence[Any], shape: Shape, depth: int) -> tuple[Any, str]:
        r = self.rng
        items = list(v)
        kind = "tuple" if isinstance(v, tuple) else "list"
        if isinstance(v, tuple) and shape.fields is not None and len(shape.fields) == len(v):
            if not items:
                return v, "keep"
            j = r.randrange(len(items))  # a fixed-shape tuple: mutate one field
            items[j], name = self.value(items[j], shape.fields[j], depth + 1)
            return tuple(items), f"tuple-field:{name}"
        item_shape = shape.items or ANY
        ops = ["insert", "empty", "append-pick"]
        if items:
            ops += ["delete", "mutate", "mutate", "duplicate", "swap", "reverse", "sort",
                    "grow"]
        op = r.choice(ops)
        if op == "insert" or op == "append-pick":
            if items and op == "insert":
                new, _ = self.value(copy.deepcopy(r.choice(items)), item_shape, depth + 1)
            else:
                new = self._fresh(item_shape, items)
            items.insert(r.randint(0, len(items)) if op == "insert" else len(items), new)
        elif op == "empty":
            items = []
        elif op == "delete":
            del items[r.randrange(len(items))]
        elif op == "mutate":
            j = r.randrange(len(items))
            items[j], sub = self.value(items[j], item_shape, depth + 1)
            op = f"mutate:{sub}"
        elif op == "duplicate":
            j = r.randrange(len(items))
            items.insert(j, copy.deepcopy(items[j]))
        elif op == "swap" and len(items) > 1:
            a, b = r.sample(range(len(items)), 2)
            items[a], items[b] = items[b], items[a]
        elif op == "reverse":
            items.reverse()
        elif op == "sort":
            try:
                items.sort()
            except TypeError:
                items.reverse()
        elif op == "grow" and len(items) < self.size * 4:
            items = items + [copy.deepcopy(r.choice(items)) for _ in range(r.randint(1, 8))]
        out = tuple(items) if kind == "tuple" else items
        return out, f"{kind}-{op}"

    def mapping(self, v: dict[Any, Any], shape: Shape, depth: int) -> tuple[Any, str]:
        r = self.rng
        d = dict(v)
        if d and r.random() < 0.4:
            k = r.choice(list(d))
            d[k], sub = self.value(d[k], shape.values or ANY, depth + 1)
            return d, f"dict-value:{sub}"
        if d and r.random() < 0.5:
            del d[r.choice(list(d))]
            return d, "dict-delete"
        key = self._fresh(shape.keys or ANY, list(d))
        try:
            d[key] = self._fresh(shape.values or ANY, list(d.values()))
        except TypeError:
            return d, "keep"
        return d, "dict-insert"

    def _fresh(self, shape: Shape, siblings: Sequence[Any]) -> Any:
        """A new value of ``shape``: a mutated sibling, or one from the ingredient pool."""
        if siblings:
            value, _ = self.value(copy.deepcopy(self.rng.choice(list(siblings))), shape)
            return value
        kinds = shape.kinds or ("int", "str", "float", "bool", "none", "list", "dict")
        kind = self.rng.choice(kinds)
        defaults: dict[str, Any] = {"int": 0, "float": 0.0, "str": "a", "bool": False,
                                    "none": None, "list": [], "tuple": (), "set": set(),
                                    "dict": {}}
        seen = {"int": int, "float": float, "str": str}.get(kind)
        return self.pick(seen, defaults[kind]) if seen else defaults.get(kind)


def _hashables(items: Sequence[Any]) -> list[Any]:
    out = []
    for x in items:
        try:
            hash(x)
        except TypeError:
            continue
        out.append(x)
    return out


def mutate(sig: Signature, seeds: Sequence[Sequence[Any]], seed: int, count: int,
           size: int) -> list[Candidate]:
    """``count`` inputs by type-aware mutation, each from a pool of seeds and earlier
    mutants (its parent is named in the provenance: ``seed:N`` or ``mutation:N``)."""
    if count <= 0 or not seeds:
        return []
    rng = random.Random(f"mutation:{seed}")
    mutator = _Mutator(rng, _ingredients(seeds), size)
    pool: list[tuple[tuple[Any, ...], str]] = [(tuple(s), f"seed:{i}")
                                                 for i, s in enumerate(seeds)]
    out: list[Candidate] = []
    attempts = 0
    while len(out) < count and attempts < count * 5:
        attempts += 1
        parent, origin = pool[rng.randrange(len(pool))]
        if not parent:
            continue
        j = rng.randrange(len(parent))
        shape = sig.shapes[j] if j < len(sig.shapes) else ANY
        try:
            value, op = mutator.value(copy.deepcopy(parent[j]), shape)
        except (TypeError, ValueError, OverflowError, RecursionError):
            continue
        if _too_big(value, size * 50):
            continue
        args = (*parent[:j], value, *parent[j + 1:])
        out.append(Candidate(args, {"generator": "mutation", "seed": seed, "index": len(out),
                                    "parent": origin, "op": f"arg{j}:{op}"}))
        pool.append((args, f"mutation:{len(out) - 1}"))
    return out


def _too_big(value: Any, limit: int) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return value.bit_length() > 256
    if isinstance(value, str | list | tuple | set | frozenset | dict):
        return len(value) > limit
    return False


# -- boundary values -------------------------------------------------------------------

def edges(shape: Shape, example: Any, cap: int = INT_FLOOR, *,
          hinted: bool = True) -> list[tuple[Any, str]]:
    """Edge values of ``shape`` (with names), built around one seed value ``example``;
    integers stay within ``cap``. A bool is an int to Python, but not where a top-level
    integer argument is expected (it is tried inside collections of numbers instead).
    Where no type hint fixes the argument's type (``hinted`` false), the empty value of
    the other sequence types is an edge too."""
    out: list[tuple[Any, str]] = []
    d = shape.domain
    for kind in shape.kinds:
        if kind == "bool":
            out += [(True, "true"), (False, "false")]
        elif kind == "none":
            out.append((None, "none"))
        elif kind == "int":
            values = [0, 1, -1, 2]
            if d.lo is not None and d.hi is not None:
                values += [int(d.lo), int(d.hi), int(d.lo) - 1, int(d.hi) + 1,
                           int(d.hi) * 10]
            big = big_ints(cap)
            values += big + ([-v for v in big] if (d.lo or 0) < 0 else [])
            out += [(v, f"int={v}") for v in dict.fromkeys(values)]
        elif kind == "float":
            fvalues = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-9, 1e9, -1e9]
            if d.lo is not None and d.hi is not None:
                fvalues += [float(d.lo), float(d.hi)]
            out += [(v, f"float={v!r}") for v in fvalues]
        elif kind == "str":
            alphabet = _alphabet(shape)
            text = example if isinstance(example, str) else alphabet[:3]
            half = len(text) // 2
            out += [("", "str-empty"), (alphabet[0], "str-one"), (alphabet[-1], "str-one-last"),
                    (alphabet[0] * 2, "str-twice"), (text + text, "str-doubled"),
                    (text[::-1], "str-reversed"), (" ", "str-space"),
                    (text.upper(), "str-upper"), (text.lower(), "str-lower"),
                    (text[:half] + " " + text[half:], "str-space-inside"),
                    (" " + text + " ", "str-padded"), (text.capitalize(), "str-capitalized"),
                    (text.swapcase(), "str-swapcase")]
        elif kind in ("list", "tuple", "set"):
            items = list(example) if isinstance(example, list | tuple | set | frozenset) \
                else []
            cases: list[tuple[list[Any], str]] = [([], "empty")]
            if items:
                cases += [(items[:1], "one"), ([items[0]] * 2, "same-twice"),
                          ([items[0]] * 5, "all-same"), (items[::-1], "reversed"),
                          (items + items, "doubled"), (items[:-1], "drop-last"),
                          (items[1:], "drop-first")]
                with contextlib.suppress(TypeError):
                    cases += [(sorted(items), "sorted"), (sorted(items, reverse=True),
                                                          "sorted-desc")]
            item_kinds = shape.items.kinds if shape.items is not None else ()
            if not item_kinds or "int" in item_kinds:
                cases += [([True, False], "bools"), ([*items, True], "with-bool")]
            if not item_kinds:
                cases += [([None], "none"), ([*items, None, 1.5, "x", [], {}], "mixed")]
            if shape.fields is not None and kind == "tuple":
                continue  # a fixed-shape tuple keeps its arity: its fields vary instead
            for value, name in cases:
                if kind == "tuple":
                    out.append((tuple(value), f"tuple-{name}"))
                elif kind == "set":
                    out.append((set(_hashables(value)), f"set-{name}"))
                else:
                    out.append((value, f"list-{name}"))
        elif kind == "dict":
            out.append(({}, "dict-empty"))
            if isinstance(example, dict) and example:
                k = next(iter(example))
                out.append(({k: example[k]}, "dict-one"))
    # The empty value of another sequence type ('' where a list goes, [] where a string
    # goes) where only the seeds say what the argument is: a robustness edge, kept only
    # where the problem's contract admits it. A hinted type is the contract's word.
    kinds = set(shape.kinds)
    if not hinted and kinds & {"list", "tuple", "str"}:
        for other, name in (("", "str"), ([], "list"), ((), "tuple")):
            if name not in kinds:
                out.append((other, f"other-empty-{name}"))
    return out


def boundary(sig: Signature, seeds: Sequence[Sequence[Any]], seed: int,
             count: int) -> list[Candidate]:
    """Edge values of each argument's shape, put into the seeds: every edge of every
    argument into the first seed, pairs of small edges of two arguments into the first
    seed, then single edges into the other seeds (a seeded sample of these when there are
    more than ``count`` in all)."""
    if count <= 0 or not seeds:
        return []
    first: list[Candidate] = []
    rest: list[Candidate] = []
    per_arg: list[list[tuple[Any, str]]] = []
    cap = int_cap(seeds)
    for si, s in enumerate(seeds):
        for j, value in enumerate(s):
            shape = sig.shapes[j] if j < len(sig.shapes) else ANY
            found = edges(shape, value, cap,
                          hinted=sig.hinted[j] if j < len(sig.hinted) else False)
            if si == 0:
                per_arg.append(found)
            for edge, name in found:
                args = (*tuple(s[:j]), edge, *tuple(s[j + 1:]))
                (first if si == 0 else rest).append(Candidate(args, {
                    "generator": "boundary", "seed": seed, "parent": f"seed:{si}",
                    "op": f"arg{j}:{name}"}))
    s0 = tuple(seeds[0])
    for a in range(len(per_arg)):
        for b in range(a + 1, len(per_arg)):
            for ea, na in per_arg[a][:PAIR_EDGES]:
                for eb, nb in per_arg[b][:PAIR_EDGES]:
                    pair: list[Any] = list(s0)
                    pair[a], pair[b] = ea, eb
                    first.append(Candidate(tuple(pair), {
                        "generator": "boundary", "seed": seed, "parent": "seed:0",
                        "op": f"arg{a}:{na},arg{b}:{nb}"}))
    rng = random.Random(f"boundary:{seed}")
    if len(first) > count:
        first = sorted(rng.sample(first, count), key=first.index)
    room = count - len(first)
    if len(rest) > room:
        rest = sorted(rng.sample(rest, room), key=rest.index)
    return [Candidate(c.args, c.provenance | {"index": i})
            for i, c in enumerate(first + rest)]


# -- scale -------------------------------------------------------------------------------

def _grow(v: Any, factor: int, cap: int, rng: random.Random) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return v * factor if abs(v * factor).bit_length() <= 64 else v
    if isinstance(v, float):
        return v * factor if math.isfinite(v * factor) else v
    if isinstance(v, str):
        return (v * factor)[:cap] if v else v
    if isinstance(v, list | tuple):
        items = list(v)
        if items:
            n = min(cap, len(items) * factor)
            items = [copy.deepcopy(items[i % len(items)]) for i in range(n)]
            rng.shuffle(items)
        return tuple(items) if isinstance(v, tuple) else items
    return v


def _prime_at_most(n: int) -> int:
    """The largest prime <= ``n`` (``n`` itself below 2)."""
    for m in range(n, 1, -1):
        if all(m % d for d in range(2, math.isqrt(m) + 1)):
            return m
    return n


def scale(sig: Signature, seeds: Sequence[Sequence[Any]], seed: int, count: int,
          size: int) -> list[Candidate]:
    """Seeds grown by 10x, 100x and up to the largest prime <= ``size`` items (numbers
    multiplied, at most 64 bits), shuffled where order is not the point; at most
    ``count``."""
    if count <= 0 or not seeds:
        return []
    rng = random.Random(f"scale:{seed}")
    out: list[Candidate] = []
    # The largest step goes to a prime size, not a round one: lengths and counts that are
    # odd, prime and past 100 expose what round sizes hide (a hard-coded table of small
    # primes, an assumption of even length).
    prime = _prime_at_most(max(2, size))
    for factor, cap in ((10, size), (100, size), (prime, prime)):
        for si, s in enumerate(seeds):
            args = tuple(_grow(a, factor, cap, rng) for a in s)
            if args == tuple(s):
                continue
            out.append(Candidate(args, {"generator": "scale", "seed": seed,
                                        "parent": f"seed:{si}", "op": f"x{factor}"}))
    if len(out) > count:
        out = sorted(rng.sample(out, count), key=out.index)
    return [Candidate(c.args, c.provenance | {"index": i}) for i, c in enumerate(out)]
