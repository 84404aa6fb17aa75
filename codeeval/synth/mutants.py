"""First-order AST mutants of a reference program, for mutation testing.

A *mutant* is the reference with exactly one small change that models a plausible bug. A test
suite *kills* a mutant when some test fails on it; the share of mutants killed measures the
suite's strength, and the tests that kill many mutants are the ones to keep when a suite is
reduced. This module only makes mutants: it is pure (standard library, no I/O, no sandbox).

Operators (``OPERATORS``), in the order that decides which one owns a mutant two would make:

- ROR, relational: ``<`` -> ``<=``/``>``, ``<=`` -> ``<``/``>=`` (``>``, ``>=`` mirrored),
  ``==`` <-> ``!=``, ``is`` <-> ``is not``, ``in`` <-> ``not in``.
- AOR, arithmetic, also in augmented assignments: ``+`` <-> ``-``, ``*`` -> ``/``/``+``,
  ``/`` -> ``*``/``//``, ``//`` -> ``/``/``%``, ``%`` -> ``//``, ``**`` -> ``*``, ``<<`` <-> ``>>``,
  ``&`` <-> ``|``, ``^`` -> ``|``.
- COR, boolean: ``and`` <-> ``or``.
- NEG, negation: ``not x`` -> ``x``; the test ``c`` of ``if``, ``while``, ``a if c else b`` and
  comprehension filters -> ``not c``.
- IDX, index off-by-one: ``s[i]`` -> ``s[i + 1]``/``s[i - 1]``, and the same on each slice bound
  present; integer offsets fold (``s[i - 1]`` -> ``s[i]``/``s[i - 2]``).
- RNG, range bounds: ``range(a, b)`` -> ``range(a, b + 1)``/``range(a, b - 1)``/
  ``range(a + 1, b)``/``range(a - 1, b)``; ``range(n)`` -> ``range(n ± 1)``/``range(1, n)``.
- BSR, builtin swap: ``min`` <-> ``max``, ``any`` <-> ``all``, ``sorted(x)`` ->
  ``sorted(x, reverse=True)`` (a literal ``reverse=`` flag is flipped).
- BCR: ``break`` <-> ``continue``.
- UOI, unary minus: ``-x`` -> ``x``; ``a <op> b`` -> ``-a <op> b`` for a name ``a``.
- CRP, constants: int ``c`` -> ``c + 1``/``c - 1``/``0``/``1``; float ``c`` -> ``c + 1.0``/
  ``c - 1.0``/``0.0``; ``True`` <-> ``False``; a non-empty str or bytes -> empty.
- SDL, statement deletion: an assignment (plain, augmented, annotated), an expression
  statement, ``break`` or ``continue`` -> ``pass`` (so no body is left empty).
- GRD, guard removal: an ``if`` without ``else`` whose body ends in ``return``, ``raise``,
  ``continue`` or ``break`` -> ``pass``: a check the program forgot, the most common way a
  plausible program is wrong on edge cases.
- COD, condition operand deletion: ``a and b`` / ``a or b`` -> ``a``, and -> ``b`` (one
  part of a compound condition forgotten).

Only code inside function bodies is mutated: module-level statements, decorators, default values
and annotations are left alone, and so are docstrings (any statement that is a bare string) and
the literal parts of f-strings. Every mutant compiles, and mutants are distinct by source text.
"""

from __future__ import annotations

import ast
import random
import re
import warnings
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

from codeeval import pyast
from codeeval.errors import InputError

__all__ = ["OPERATORS", "Mutant", "make_mutants"]

OPERATORS: tuple[str, ...] = (
    "ROR", "AOR", "COR", "NEG", "IDX", "RNG", "BSR", "BCR", "UOI", "CRP", "SDL", "GRD",
    "COD",
)
"""Every operator name, in priority order (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class Mutant:
    """One first-order mutant of a program.

    ``id`` is ``"{operator}@{line}:{col}#{n}"``, unique within one :func:`make_mutants` call and
    the same whatever ``limit`` and ``seed`` are. ``line`` is 1-based in the original source.
    ``source`` is the whole mutated program (unparsed from the AST, so comments are gone).
    """

    id: str
    operator: str
    line: int
    description: str
    source: str


_SYMBOLS: dict[type[ast.AST], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitAnd: "&", ast.BitOr: "|",
    ast.BitXor: "^", ast.MatMult: "@", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in",
    ast.NotIn: "not in", ast.And: "and", ast.Or: "or",
}
_AOR: dict[type[ast.operator], tuple[type[ast.operator], ...]] = {
    ast.Add: (ast.Sub,), ast.Sub: (ast.Add,), ast.Mult: (ast.Div, ast.Add),
    ast.Div: (ast.Mult, ast.FloorDiv), ast.FloorDiv: (ast.Div, ast.Mod), ast.Mod: (ast.FloorDiv,),
    ast.Pow: (ast.Mult,), ast.LShift: (ast.RShift,), ast.RShift: (ast.LShift,),
    ast.BitAnd: (ast.BitOr,), ast.BitOr: (ast.BitAnd,), ast.BitXor: (ast.BitOr,),
}
_ROR: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE), ast.Gt: (ast.GtE, ast.Lt),
    ast.GtE: (ast.Gt, ast.LtE), ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,),
    ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,), ast.In: (ast.NotIn,), ast.NotIn: (ast.In,),
}
_COR: dict[type[ast.boolop], type[ast.boolop]] = {ast.And: ast.Or, ast.Or: ast.And}
_BSR: dict[str, str] = {"min": "max", "max": "min", "any": "all", "all": "any"}
_BCR: dict[type[ast.AST], type[ast.stmt]] = {ast.Break: ast.Continue, ast.Continue: ast.Break}
_SDL = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Break, ast.Continue)
_ARITH = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_INDEX_LIKE = (ast.Name, ast.Attribute, ast.Subscript, ast.Call)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)
_NOT_WALKED = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)
_RANK = {name: i for i, name in enumerate(OPERATORS)}


@dataclass(frozen=True, slots=True)
class _Slot:
    """A node and the place in its parent that holds it (``index`` when the field is a list)."""

    node: ast.AST
    parent: ast.AST
    field: str
    index: int | None


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A possible mutation: put ``new`` in ``slot``."""

    operator: str
    description: str
    slot: _Slot
    new: ast.AST

    @property
    def key(self) -> tuple[int, int, int]:
        """Source order: line, column, operator rank."""
        at = self.slot.node
        return getattr(at, "lineno", 0), getattr(at, "col_offset", 0), _RANK[self.operator]


def _short(node: ast.AST) -> str:
    text = re.sub(r"\s+", " ", ast.unparse(node)).strip()
    return text if len(text) <= 60 else text[:57] + "..."


def _cand(op: str, slot: _Slot, new: ast.AST, description: str | None = None) -> _Candidate:
    desc = description or f"'{_short(slot.node)}' -> '{_short(new)}'"
    return _Candidate(op, desc, slot, new)


def _number(value: int | float) -> ast.expr:
    """A node for ``value``; a negative number is ``-(abs)`` so unparsing keeps precedence."""
    if value < 0:
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-value))
    return ast.Constant(value=value)


def _int_value(node: ast.expr) -> int | None:
    """The value of an integer literal, ``-k`` included; None for anything else."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = node.operand
        if isinstance(inner, ast.Constant) and type(inner.value) is int:
            return -inner.value
    return None


def _shift(node: ast.expr, delta: int) -> ast.expr:
    """``node + delta``, folding integer literals and ``e + k`` / ``e - k`` offsets."""
    literal = _int_value(node)
    if literal is not None:
        return _number(literal + delta)
    base, offset = node, 0
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        k = _int_value(node.right)
        if k is not None:
            base, offset = node.left, k if isinstance(node.op, ast.Add) else -k
    total = offset + delta
    if total == 0:
        return base
    op: ast.operator = ast.Add() if total > 0 else ast.Sub()
    return ast.BinOp(left=base, op=op, right=ast.Constant(value=abs(total)))


def _is_index(node: ast.expr) -> bool:
    if _int_value(node) is not None or isinstance(node, _INDEX_LIKE):
        return True
    return isinstance(node, ast.BinOp) and isinstance(node.op, _ARITH)


def _ror(s: _Slot) -> Iterator[_Candidate]:
    n = s.node
    if isinstance(n, ast.Compare):
        for i, op in enumerate(n.ops):
            for new_op in _ROR.get(type(op), ()):
                ops = [*n.ops[:i], new_op(), *n.ops[i + 1:]]
                new = ast.Compare(left=n.left, ops=ops, comparators=n.comparators)
                yield _cand("ROR", s, new, f"'{_SYMBOLS[type(op)]}' -> '{_SYMBOLS[new_op]}'")


def _aor(s: _Slot) -> Iterator[_Candidate]:
    n = s.node
    if isinstance(n, ast.BinOp | ast.AugAssign):
        eq = "=" if isinstance(n, ast.AugAssign) else ""
        for new_op in _AOR.get(type(n.op), ()):
            new: ast.AST
            if isinstance(n, ast.BinOp):
                new = ast.BinOp(left=n.left, op=new_op(), right=n.right)
            else:
                new = ast.AugAssign(target=n.target, op=new_op(), value=n.value)
            yield _cand("AOR", s, new, f"'{_SYMBOLS[type(n.op)]}{eq}' -> '{_SYMBOLS[new_op]}{eq}'")


def _cor(s: _Slot) -> Iterator[_Candidate]:
    n = s.node
    if isinstance(n, ast.BoolOp):
        other = _COR[type(n.op)]
        new = ast.BoolOp(op=other(), values=n.values)
        yield _cand("COR", s, new, f"'{_SYMBOLS[type(n.op)]}' -> '{_SYMBOLS[other]}'")


def _is_not(node: ast.AST) -> bool:
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)


def _neg(s: _Slot) -> Iterator[_Candidate]:
    n = s.node
    if isinstance(n, ast.UnaryOp) and _is_not(n):
        yield _cand("NEG", s, n.operand)
    tests: list[tuple[ast.expr, int | None]] = []
    if isinstance(n, ast.If | ast.While | ast.IfExp):
        tests = [(n.test, None)]
    elif isinstance(n, ast.comprehension):
        tests = [(cond, i) for i, cond in enumerate(n.ifs)]
    for test, i in tests:  # `not` of a negation or a literal would only repeat another mutant
        if not (_is_not(test) or isinstance(test, ast.Constant)):
            slot = _Slot(test, n, "test" if i is None else "ifs", i)
            yield _cand("NEG", slot, ast.UnaryOp(op=ast.Not(), operand=test))


def _idx(s: _Slot) -> Iterator[_Candidate]:
    n = s.node
    if not isinstance(n, ast.Subscript):
        return
    sl = n.slice
    for delta in (1, -1):
        if isinstance(sl, ast.Slice):
            for bound in ("lower", "upper"):
                value = getattr(sl, bound)
                if value is not None and _is_index(value):
                    new_slice = ast.Slice(lower=sl.lower, upper=sl.upper, step=sl.step)
                    setattr(new_slice, bound, _shift(value, delta))
                    yield _cand("IDX", s, ast.Subscript(value=n.value, slice=new_slice, ctx=n.ctx))
        elif _is_index(sl):
            yield _cand("IDX", s, ast.Subscript(value=n.value, slice=_shift(sl, delta), ctx=n.ctx))


def _called(n: ast.AST, *names: str) -> str | None:
    """The builtin name when ``n`` calls one of ``names`` with plain positional arguments."""
    if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in names):
        return None
    return None if any(isinstance(a, ast.Starred) for a in n.args) else n.func.id


def _rng(s: _Slot) -> Iterator[_Candidate]:
    n = s.node
    if not (isinstance(n, ast.Call) and _called(n, "range")) or n.keywords:
        return
    args = n.args
    if not 1 <= len(args) <= 3:
        return
    for i in ((0,) if len(args) == 1 else (1, 0)):
        for delta in (1, -1):
            new_args = [*args[:i], _shift(args[i], delta), *args[i + 1:]]
            yield _cand("RNG", s, ast.Call(func=n.func, args=new_args, keywords=[]))
    if len(args) == 1:
        yield _cand("RNG", s, ast.Call(func=n.func, args=[ast.Constant(1), *args], keywords=[]))


def _bsr(s: _Slot) -> Iterator[_Candidate]:
    n = s.node
    name = _called(n, *_BSR, "sorted")
    if not isinstance(n, ast.Call) or name is None:
        return
    if name in _BSR:
        func = ast.Name(id=_BSR[name], ctx=ast.Load())
        yield _cand("BSR", s, ast.Call(func=func, args=n.args, keywords=n.keywords),
                    f"'{name}' -> '{_BSR[name]}'")
        return
    flags = [k for k in n.keywords if k.arg == "reverse"]
    if not flags:
        keywords = [*n.keywords, ast.keyword(arg="reverse", value=ast.Constant(True))]
    elif isinstance(flags[0].value, ast.Constant) and isinstance(flags[0].value.value, bool):
        flipped = ast.keyword(arg="reverse", value=ast.Constant(not flags[0].value.value))
        keywords = [flipped if k is flags[0] else k for k in n.keywords]
    else:
        return
    yield _cand("BSR", s, ast.Call(func=n.func, args=n.args, keywords=keywords))


def _bcr(s: _Slot) -> Iterator[_Candidate]:
    other = _BCR.get(type(s.node))
    if other is not None:
        yield _cand("BCR", s, other())


def _uoi(s: _Slot) -> Iterator[_Candidate]:
    n = s.node
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
        yield _cand("UOI", s, n.operand)
    elif isinstance(n, ast.BinOp) and isinstance(n.op, _ARITH) and isinstance(n.left, ast.Name):
        minus = ast.UnaryOp(op=ast.USub(), operand=n.left)
        yield _cand("UOI", s, ast.BinOp(left=minus, op=n.op, right=n.right))


_Literal = bool | int | float | str | bytes


def _constant_replacements(value: object) -> list[_Literal]:
    options: tuple[_Literal, ...] = ()
    if isinstance(value, bool):
        options = (not value,)
    elif isinstance(value, int):
        options = (value + 1, value - 1, 0, 1)
    elif isinstance(value, float):
        options = (value + 1.0, value - 1.0, 0.0)
    elif isinstance(value, str | bytes) and value:
        options = (value[:0],)
    return [option for option in dict.fromkeys(options) if option != value]


def _crp(s: _Slot) -> Iterator[_Candidate]:
    n, p = s.node, s.parent
    offset = isinstance(p, ast.BinOp) and isinstance(p.op, ast.Add | ast.Sub) and n is p.right
    if isinstance(n, ast.Constant):
        for value in _constant_replacements(n.value):
            if offset and value == 0:
                continue  # `x - 0` is `x`, which IDX or RNG already make when it matters
            new = _number(value) if isinstance(value, int | float) else ast.Constant(value)
            yield _cand("CRP", s, new, f"{n.value!r} -> {value!r}")


def _sdl(s: _Slot) -> Iterator[_Candidate]:
    n = s.node
    declaration = isinstance(n, ast.AnnAssign) and n.value is None
    if isinstance(n, _SDL) and s.index is not None and not declaration:
        yield _cand("SDL", s, ast.Pass(), f"delete '{_short(n)}'")


def _grd(s: _Slot) -> Iterator[_Candidate]:
    n = s.node
    if (isinstance(n, ast.If) and not n.orelse and s.index is not None and n.body
            and isinstance(n.body[-1], ast.Return | ast.Raise | ast.Continue | ast.Break)):
        yield _cand("GRD", s, ast.Pass(), f"remove the guard 'if {_short(n.test)}: ...'")


def _cod(s: _Slot) -> Iterator[_Candidate]:
    n = s.node
    if isinstance(n, ast.BoolOp):
        for i in range(len(n.values)):
            rest = n.values[:i] + n.values[i + 1:]
            new = rest[0] if len(rest) == 1 else ast.BoolOp(op=n.op, values=rest)
            yield _cand("COD", s, new, f"drop '{_short(n.values[i])}' from '{_short(n)}'")


_RULES: tuple[Callable[[_Slot], Iterator[_Candidate]], ...] = (
    _ror, _aor, _cor, _neg, _idx, _rng, _bsr, _bcr, _uoi, _crp, _sdl, _grd, _cod,
)


def _walk(node: ast.AST, parent: ast.AST, field: str, index: int | None) -> Iterator[_Slot]:
    """Every slot under ``node`` that may be mutated, in source order.

    Skipped: annotations, decorators, default values, docstrings (any bare string statement),
    the literal parts and format specs of f-strings.
    """
    if isinstance(node, _NOT_WALKED) or (isinstance(parent, ast.JoinedStr) and isinstance(
            node, ast.Constant)):
        return
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(
            node.value.value, str):
        return
    yield _Slot(node, parent, field, index)
    children: list[tuple[str, object]] = list(ast.iter_fields(node))
    if isinstance(node, (*_DEFS, ast.Lambda, ast.ClassDef)):
        children = [("body", node.body)]
    elif isinstance(node, ast.AnnAssign | ast.FormattedValue):
        children = [(name, v) for name, v in children if name in ("target", "value")]
    for name, value in children:
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield from _walk(item, node, name, i)
        elif isinstance(value, ast.AST):
            yield from _walk(value, node, name, None)


def _find_functions(node: ast.AST, names: frozenset[str] | None) -> Iterator[ast.AST]:
    """The outermost function definitions to mutate, in source order."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, _DEFS) and (names is None or child.name in names):
            yield child
        else:
            yield from _find_functions(child, names)


def _render(tree: ast.Module, cand: _Candidate) -> str:
    """The program with ``cand`` applied; the tree is restored before returning."""
    slot = cand.slot

    def put(new: ast.AST) -> None:
        if slot.index is None:
            setattr(slot.parent, slot.field, new)
        else:
            getattr(slot.parent, slot.field)[slot.index] = new

    put(cand.new)
    try:
        return ast.unparse(tree)
    finally:
        put(slot.node)


def _compiles(text: str) -> bool:
    try:
        compile(text, "<mutant>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def _parse(source: str) -> ast.Module:
    try:
        compile(source, "<source>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise InputError(f"source does not compile: line {exc.lineno}: {exc.msg}") from None
    except ValueError as exc:
        raise InputError(f"source does not compile: {exc}") from None
    return pyast.parse(source)


def _spread(mutants: list[Mutant], limit: int, seed: int) -> list[Mutant]:
    """``limit`` mutants: round-robin over operators, each operator's queue shuffled with
    ``seed`` and then interleaved over lines; returned in the original order."""
    rng = random.Random(seed)
    queues: list[deque[int]] = []
    for op in OPERATORS:
        picks = [i for i, m in enumerate(mutants) if m.operator == op]
        rng.shuffle(picks)
        seen: Counter[int] = Counter()
        ranked: list[tuple[int, int]] = []
        for i in picks:
            ranked.append((seen[mutants[i].line], i))
            seen[mutants[i].line] += 1
        queues.append(deque(i for _, i in sorted(ranked, key=lambda pair: pair[0])))
    chosen: list[int] = []
    while len(chosen) < limit and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.popleft())
    return [mutants[i] for i in sorted(chosen)]


def _all_mutants(tree: ast.Module, targets: list[ast.AST]) -> list[Mutant]:
    """Every distinct compiling mutant of the bodies of ``targets``, in source order."""
    candidates = [c for fn in targets for slot in _walk(fn, tree, "body", None)
                  if slot.node is not fn for rule in _RULES for c in rule(slot)]
    order = sorted(range(len(candidates)), key=lambda i: (_RANK[candidates[i].operator], i))
    seen = {ast.unparse(tree)}
    kept: list[tuple[int, str]] = []
    for i in order:  # the earlier operator owns a mutant that two of them make
        text = _render(tree, candidates[i])
        if text not in seen:
            seen.add(text)
            if _compiles(text):
                kept.append((i, text))
    kept.sort(key=lambda it: (*candidates[it[0]].key, it[0]))
    mutants: list[Mutant] = []
    counts: Counter[str] = Counter()
    for i, text in kept:
        c = candidates[i]
        line, col, _ = c.key
        at = f"{c.operator}@{line}:{col}"
        mutants.append(Mutant(f"{at}#{counts[at]}", c.operator, line, c.description, text))
        counts[at] += 1
    return mutants


def make_mutants(source: str, *, functions: Collection[str] | None = None,
                 limit: int | None = None, seed: int = 0) -> list[Mutant]:
    """Make the first-order mutants of ``source`` (see the module docstring for the operators).

    Only the bodies of function definitions are mutated; with ``functions``, only the
    definitions with those names (methods and nested definitions included, and everything
    defined inside them). Mutants that unparse to the original or to an earlier mutant, and
    mutants that do not compile, are dropped.

    Returns the mutants in source order (line, column, operator). With ``limit`` smaller than
    the number of mutants, returns ``limit`` of them chosen with ``random.Random(seed)``, spread
    round-robin over operators and, within an operator, over lines; ids do not depend on
    ``limit`` or ``seed``. The same arguments always give the same list. A source without any
    function gives [].

    Raises:
        InputError: ``source`` does not compile (the message names the line); ``functions`` is
            a string or names a function that ``source`` does not define; ``limit`` is negative.
    """
    if isinstance(functions, str):
        raise InputError("functions must be a collection of names, not one string")
    if limit is not None and limit < 0:
        raise InputError(f"limit must be at least 0, not {limit}")
    with warnings.catch_warnings():  # `x is 1`, "\\d": errors where warnings are errors
        warnings.simplefilter("ignore")
        tree = _parse(source)
        names = None if functions is None else frozenset(functions)
        targets = list(_find_functions(tree, names))
        if names is not None:
            defined = {t.name for t in ast.walk(tree) if isinstance(t, _DEFS)}
            if missing := sorted(names - defined):
                raise InputError(f"source defines no function named {', '.join(missing)}")
        mutants = _all_mutants(tree, targets)
    if limit is not None and limit < len(mutants):
        return _spread(mutants, limit, seed)
    return mutants
