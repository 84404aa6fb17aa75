"""What a function's arguments look like: shapes inferred from type hints and seed inputs.

A :class:`Shape` describes the values one argument takes: its kind (``int``, ``str``,
``list`` ...), the kinds inside it, and the *domain* the seed inputs were drawn from
(the range of numbers, the characters of strings, the lengths of collections). Type hints
give the structure when the prompt has them (HumanEval does); seed inputs give it when it
has none (MBPP+ does not) and always give the domain. Generators
(:mod:`codeeval.synth.generators`) read shapes to make new inputs that look like the seeds
but reach further: bigger, smaller, emptier, at the edges.

Inference is deliberately loose: a shape proposes, and the problem's input contract (its
validator) disposes. Nothing here runs the problem's code; hints are read from the AST.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from codeeval import pyast

#: Kinds of values a shape can describe.
SCALARS = ("none", "bool", "int", "float", "str")
COLLECTIONS = ("list", "tuple", "set", "dict")


@dataclass(frozen=True, slots=True)
class Domain:
    """The range the seeds cover: numbers within ``[lo, hi]``, strings of ``alphabet``,
    collections (and strings) of ``min_len..max_len`` items."""

    lo: float | None = None
    hi: float | None = None
    alphabet: str = ""
    min_len: int | None = None
    max_len: int | None = None

    def merge(self, other: Domain) -> Domain:
        """The smallest domain covering both."""
        return Domain(lo=_opt(min, self.lo, other.lo), hi=_opt(max, self.hi, other.hi),
                      alphabet="".join(sorted(set(self.alphabet) | set(other.alphabet))),
                      min_len=_opt(min, self.min_len, other.min_len),
                      max_len=_opt(max, self.max_len, other.max_len))


def _opt(fn: Any, a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else fn(a, b)


@dataclass(frozen=True, slots=True)
class Shape:
    """One argument's shape.

    ``kinds`` lists the alternatives (``("int", "float")`` for a number, ``("none",
    "str")`` for an optional string). For collections, ``items`` holds the element shape
    (``list``, ``set``, homogeneous ``tuple``), ``fields`` the positional shapes of a
    fixed-length tuple, and ``keys``/``values`` a dict's.
    """

    kinds: tuple[str, ...]
    domain: Domain = field(default_factory=Domain)
    items: Shape | None = None
    fields: tuple[Shape, ...] | None = None
    keys: Shape | None = None
    values: Shape | None = None

    @property
    def is_any(self) -> bool:
        """Whether nothing is known (no hint, no seed)."""
        return not self.kinds

    def merge(self, other: Shape) -> Shape:
        """A shape admitting what either admits."""
        kinds = tuple(dict.fromkeys(self.kinds + other.kinds))
        fields_ = self.fields
        if self.fields is not None and other.fields is not None:
            fields_ = (tuple(a.merge(b) for a, b in zip(self.fields, other.fields, strict=True))
                       if len(self.fields) == len(other.fields) else None)
        elif other.fields is not None and "tuple" not in self.kinds:
            fields_ = other.fields
        return Shape(kinds=kinds, domain=self.domain.merge(other.domain),
                     items=_merge_opt(self.items, other.items), fields=fields_,
                     keys=_merge_opt(self.keys, other.keys),
                     values=_merge_opt(self.values, other.values))


def _merge_opt(a: Shape | None, b: Shape | None) -> Shape | None:
    return b if a is None else a if b is None else a.merge(b)


ANY = Shape(kinds=())


def of_value(value: Any, _depth: int = 0) -> Shape:
    """The shape of one seed value, with its domain."""
    if _depth > 20:
        return ANY
    if value is None:
        return Shape(("none",))
    if isinstance(value, bool):
        return Shape(("bool",))
    if isinstance(value, int):
        return Shape(("int",), Domain(lo=value, hi=value))
    if isinstance(value, float):
        finite = math.isfinite(value)
        return Shape(("float",), Domain(lo=value if finite else None,
                                        hi=value if finite else None))
    if isinstance(value, str):
        return Shape(("str",), Domain(alphabet="".join(sorted(set(value))),
                                      min_len=len(value), max_len=len(value)))
    size = Domain(min_len=len(value), max_len=len(value)) if hasattr(value, "__len__") \
        else Domain()
    if isinstance(value, dict):
        return Shape(("dict",), size, keys=_join(of_value(k, _depth + 1) for k in value),
                     values=_join(of_value(v, _depth + 1) for v in value.values()))
    if isinstance(value, tuple):
        parts = tuple(of_value(v, _depth + 1) for v in value)
        return Shape(("tuple",), size, items=_join(parts), fields=parts)
    if isinstance(value, list | set | frozenset):
        kind = "list" if isinstance(value, list) else "set"
        return Shape((kind,), size, items=_join(of_value(v, _depth + 1) for v in value))
    return ANY


def _join(shapes: Iterable[Shape]) -> Shape | None:
    out: Shape | None = None
    for s in shapes:
        out = s if out is None else out.merge(s)
    return out


# -- type hints ----------------------------------------------------------------------

_NAMES = {"int": "int", "float": "float", "str": "str", "bool": "bool", "None": "none",
          "list": "list", "List": "list", "tuple": "tuple", "Tuple": "tuple", "dict": "dict",
          "Dict": "dict", "set": "set", "Set": "set", "frozenset": "set",
          "FrozenSet": "set", "Sequence": "list", "Iterable": "list", "Mapping": "dict"}


def of_hint(node: ast.expr | None) -> Shape:
    """The shape a type annotation describes (``ANY`` for what it cannot read)."""
    if node is None:
        return ANY
    if isinstance(node, ast.Constant) and node.value is None:
        return Shape(("none",))
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:  # a string annotation: "List[int]"
            return of_hint(pyast.parse_expression(node.value).body)
        except SyntaxError:
            return ANY
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # int | None
        return of_hint(node.left).merge(of_hint(node.right))
    name = _name(node.value if isinstance(node, ast.Subscript) else node)
    if name is None:
        return ANY
    if not isinstance(node, ast.Subscript):
        kind = _NAMES.get(name)
        return Shape((kind,)) if kind else ANY
    args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    if name == "Optional":
        return Shape(("none",)).merge(of_hint(args[0]))
    if name == "Union":
        return _join(of_hint(a) for a in args) or ANY
    kind = _NAMES.get(name)
    if kind in ("list", "set"):
        return Shape((kind,), items=of_hint(args[0]))
    if kind == "dict" and len(args) == 2:
        return Shape(("dict",), keys=of_hint(args[0]), values=of_hint(args[1]))
    if kind == "tuple":
        if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is ...:
            return Shape(("tuple",), items=of_hint(args[0]))
        parts = tuple(of_hint(a) for a in args)
        return Shape(("tuple",), items=_join(parts), fields=parts)
    return Shape((kind,)) if kind else ANY


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):  # typing.List
        return node.attr
    return None


@dataclass(frozen=True, slots=True)
class Signature:
    """A function's parameters and their shapes (hints refined by seeds)."""

    names: tuple[str, ...]
    shapes: tuple[Shape, ...]
    returns: Shape = ANY
    #: Per parameter: whether a type hint says what it is (else only the seeds do).
    hinted: tuple[bool, ...] = ()

    def with_shapes(self, shapes: Sequence[Shape]) -> Signature:
        return replace(self, shapes=tuple(shapes))


def signature(source: str, entry_point: str) -> Signature | None:
    """The hinted signature of ``entry_point`` in ``source`` (its last definition), or
    ``None`` when the source does not parse or does not define it."""
    try:
        tree = pyast.parse(source)
    except SyntaxError:
        return None
    found: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry_point:
            found = node
    if found is None:
        return None
    params = found.args.posonlyargs + found.args.args
    shapes = tuple(of_hint(p.annotation) for p in params)
    return Signature(names=tuple(p.arg for p in params), shapes=shapes,
                     returns=of_hint(found.returns),
                     hinted=tuple(not sh.is_any for sh in shapes))


def infer(source: str, entry_point: str, seeds: Sequence[Sequence[Any]]) -> Signature:
    """The argument shapes of ``entry_point``: hints from ``source`` refined by ``seeds``.

    When hints and seeds disagree on structure, both are kept as alternatives; the seeds
    alone decide the domain. The number of arguments is the seeds' when there are seeds
    (defaults may be left out), else the signature's.
    """
    hinted = signature(source, entry_point)
    arity = max((len(s) for s in seeds), default=len(hinted.names) if hinted else 0)
    names = list(hinted.names[:arity]) if hinted else []
    names += [f"arg{i}" for i in range(len(names), arity)]
    shapes: list[Shape] = []
    typed: list[bool] = []
    for i in range(arity):
        seen = _join(of_value(s[i]) for s in seeds if len(s) > i)
        hint = hinted.shapes[i] if hinted and i < len(hinted.shapes) else ANY
        shapes.append(_refine(hint, seen))
        typed.append(not hint.is_any)
    return Signature(names=tuple(names), shapes=tuple(shapes),
                     returns=hinted.returns if hinted else ANY, hinted=tuple(typed))


def _refine(hint: Shape, seen: Shape | None) -> Shape:
    """``hint``'s structure with the seeds' domain; the seeds' shape where hints are silent."""
    if seen is None:
        return hint
    if hint.is_any:
        return seen
    kinds = hint.kinds
    # A number hinted float but seeded with ints (or the reverse) takes both.
    if "float" in kinds and "int" in seen.kinds and "int" not in kinds:
        kinds = (*kinds, "int")
    return Shape(kinds=kinds, domain=seen.domain,
                 items=_refine(hint.items or ANY, seen.items) if (hint.items or seen.items)
                 else None,
                 fields=(tuple(_refine(h, s) for h, s in zip(hint.fields, seen.fields,
                                                               strict=True))
                         if hint.fields and seen.fields and len(hint.fields) == len(seen.fields)
                         else hint.fields or seen.fields),
                 keys=_refine(hint.keys or ANY, seen.keys) if (hint.keys or seen.keys) else None,
                 values=_refine(hint.values or ANY, seen.values)
                 if (hint.values or seen.values) else None)
