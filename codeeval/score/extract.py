"""Raw model text -> the Python program to run, and what was cut away to get it.

Bad model text never raises: no usable code gives ``code == ""``, scored as a failure.

1. ``<think>`` sections are removed (an unclosed one runs to the end; a lone closing tag drops
   what precedes it). Candidates are fenced blocks (backticks or tildes, closed by a fence of
   the same kind at least as long; an unterminated one runs to the end) tagged Python or
   untagged; other languages are skipped. Without any, the text outside fences is the one
   candidate, minus leading prose lines when cutting them lowers tree-sitter's error count.
2. The chosen block is the last that defines ``entry_point`` at top level (``def``, ``class``,
   or an assignment such as ``f = lambda ...``), preferring blocks whose kept code parses
   cleanly; else the longest clean block; else the longest block.
3. Kept: imports, definitions, assignments, ``try``/``if`` blocks of imports and plain
   assignments, ``sys.setrecursionlimit(...)``, and unparsable text that starts like code (a
   broken program should reach the sandbox and fail there as a compile error). An assignment
   whose value calls something (``n = int(input())``) is kept only if kept code uses a name it
   binds. All else (``__main__`` guards, calls, asserts, loops, prose) is dropped and listed
   (at most 20 entries, then a count).
4. Names the kept code uses but does not bind are looked up among what other candidates keep
   (nearest earlier block first) and prepended, so helpers split into their own block come too.

Tree-sitter offsets count UTF-8 bytes; text is encoded with ``surrogatepass`` so lone
surrogates (possible from JSON) round-trip instead of raising.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Language, Node, Parser


@dataclass(frozen=True, slots=True)
class Extraction:
    """The program found in a response, where it came from and what was removed from it."""

    code: str  # the program to run ('' if nothing usable)
    source: str  # how it was found, e.g. "fenced block 2 of 3", "whole response"
    dropped: tuple[str, ...]  # short descriptions of removed top-level statements


_THINK = re.compile(r"<(think(?:ing)?)>.*?(?:</\1>|\Z)", re.S | re.I)
_THINK_CLOSE = re.compile(r"^.*</think(?:ing)?>", re.S | re.I)
_FENCE = re.compile(r"^[ \t]*(?P<f>(?P<c>[`~])(?P=c){2,})(?P<info>[^`\n]*)(?:\n|\Z)"
                    r"(?P<body>.*?)(?:^[ \t]*(?P=f)(?P=c)*[ \t]*$|\Z)", re.M | re.S)
_PY_TAGS = {"", "python", "py", "python3", "py3", "python2", "py2", "ipython", "ipython3"}
_CODE_START = re.compile(r"^(?:(?:async[ \t]+)?def[ \t]|class[ \t]|import[ \t]|from[ \t]+\S+"
                         r"[ \t]+import[ \t]|@[A-Za-z_]|[A-Za-z_]\w*[ \t]*(?::[^=\n]*)?=[^=])",
                         re.M)
_KEEP = {"function_definition", "class_definition", "decorated_definition",
         "import_statement", "import_from_statement", "type_alias_statement"}
_CODE_TOKENS = {"def", "class", "async", "decorator", "import", "from"}
_BINDING_PARENTS = {"assignment", "augmented_assignment", "pattern_list", "tuple_pattern",
                    "list_pattern", "list_splat_pattern"}
_KINDS = {"expression_statement": "expression", "assert_statement": "assert",
          "for_statement": "for loop", "while_statement": "while loop"}
_IMPORTS = {"import_statement", "import_from_statement"}
_ALLOWED_CALLS = {"sys.setrecursionlimit", "setrecursionlimit", "sys.set_int_max_str_digits"}
_MAIN_GUARDS = {'__name__=="__main__"', '"__main__"==__name__'}


@dataclass(slots=True)
class _Program:
    """One candidate, parsed: top-level nodes with their fate ('keep', 'drop', ...)."""

    label: str
    text: str
    src: bytes
    errors: int
    parts: list[tuple[Node, str]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def kept(self) -> list[Node]:
        return [n for n, fate in self.parts if fate in ("keep", "future")]

    def clean(self) -> bool:
        kept = self.kept()
        return bool(kept) and not any(n.has_error for n in kept)

    def defines(self, name: str) -> bool:
        return any(n.type not in _IMPORTS and name in _bound(n) for n in self.kept())


def extract_code(response: str, entry_point: str | None, *,
                 keep_script: bool = False) -> Extraction:
    """Find the program in a raw model response.

    With ``keep_script`` (stdin/stdout problems, where top-level code and the
    ``__main__`` guard *are* the program) the chosen block is returned whole.

    Returns:
        The extraction; ``code`` is ``""`` when the response holds no usable code.

    Raises:
        Nothing for any text: a problem with the response is a result, not an error.
    """
    text = _THINK_CLOSE.sub("", _THINK.sub("", response.replace("\r\n", "\n")))
    if not text.strip():
        return Extraction("", "empty response", ())
    from tree_sitter import Parser

    parser = Parser(_language())
    blocks, outside, n_fences = _fenced_blocks(text)
    programs = [_analyse(parser, body, f"fenced block {i} of {n_fences}", entry_point)
                for i, body in blocks]
    if not programs:
        programs = [_whole(parser, outside, entry_point,
                           "whole response" if n_fences == 0 else "text outside fences")]
    chosen = _choose(programs, entry_point)
    if keep_script:
        return Extraction(chosen.text, chosen.label, ())
    borrowed = _borrow(chosen, programs)
    code = _assemble(chosen, borrowed)
    source = chosen.label
    helpers = list(dict.fromkeys(p.label for p, _ in borrowed))
    if helpers:
        source += ", with helpers from " + ", ".join(helpers)
    return Extraction(code, source, tuple(chosen.dropped))


def extract_fenced(response: str, tags: tuple[str, ...]) -> Extraction:
    """Find a program in a language other than Python: the last fenced block tagged with one
    of ``tags`` (``cpp``, ``c++``, ...), else the last untagged block, else the whole text.

    Returns:
        The extraction, never raising; ``code`` is ``""`` for an empty response.
    """
    text = _THINK_CLOSE.sub("", _THINK.sub("", response.replace("\r\n", "\n")))
    if not text.strip():
        return Extraction("", "empty response", ())
    fences = list(_FENCE.finditer(text))
    wanted = {t.lower() for t in tags}
    for accept in (wanted, {""}):
        found = [(i, m) for i, m in enumerate(fences, 1)
                 if (m["info"].split() or [""])[0].strip("{}.").lower() in accept]
        if found:
            i, m = found[-1]
            return Extraction(textwrap.dedent(m["body"]), f"fenced block {i} of {len(fences)}",
                              ())
    return Extraction(text.strip() + "\n", "whole response" if not fences
                      else "whole response (no fenced block in the language)", ())


@lru_cache(maxsize=1)
def _language() -> Language:
    import tree_sitter_python
    from tree_sitter import Language

    return Language(tree_sitter_python.language())


def _fenced_blocks(text: str) -> tuple[list[tuple[int, str]], str, int]:
    """Python/untagged blocks with their number among all fences; text outside; fence count."""
    fences = list(_FENCE.finditer(text))
    blocks = [(i, textwrap.dedent(m["body"])) for i, m in enumerate(fences, 1)
              if (m["info"].split() or [""])[0].strip("{}.").lower() in _PY_TAGS]
    return blocks, _FENCE.sub("", text), len(fences)


def _whole(parser: Parser, text: str, entry: str | None, label: str) -> _Program:
    """The whole text as one candidate, cutting leading prose lines while that helps."""
    text = textwrap.dedent(text)
    best = _analyse(parser, text, label, entry)
    for n, m in enumerate(_CODE_START.finditer(text)):
        if best.errors == 0 or n >= 10:
            break
        line = text.count("\n", 0, m.start()) + 1
        cand = _analyse(parser, text[m.start():], f"{label} from line {line}", entry)
        if cand.errors < best.errors:
            best = cand
    return best


def _choose(programs: list[_Program], entry: str | None) -> _Program:
    """Step 2 of the module docstring; ties go to the later block."""
    defining = [p for p in programs if entry is not None and p.defines(entry)]
    pool = defining or programs
    clean = [p for p in pool if p.clean()] or pool
    if defining:
        return clean[-1]
    return max(reversed(clean), key=lambda p: len(p.text))


def _analyse(parser: Parser, text: str, label: str, entry: str | None) -> _Program:
    """Parse one candidate and decide the fate of each top-level statement (step 3)."""
    src = text.encode("utf-8", "surrogatepass")
    root = parser.parse(src).root_node
    prog = _Program(label, text, src, _count_errors(root))
    for node in root.children:
        fate = _fate(node)
        prog.parts.append((node, "keep" if fate == "assign" and not _calls(node) else fate))
    # An assignment that calls something is kept only if kept code uses a name it binds.
    waiting: dict[str, list[int]] = {}
    for i, (node, fate) in enumerate(prog.parts):
        for name in _bound(node) if fate == "assign" else ():
            waiting.setdefault(name, []).append(i)
    queue = [name for n in prog.kept() for name in _refs(n)] + ([entry] if entry else [])
    while queue:
        for i in waiting.pop(queue.pop(), []):
            node, fate = prog.parts[i]
            if fate == "assign":
                prog.parts[i] = (node, "keep")
                queue.extend(_refs(node))
    prog.parts = [(n, "drop" if fate == "assign" else fate) for n, fate in prog.parts]
    dropped = [n for n, fate in prog.parts if fate == "drop"]
    prog.dropped = [_describe(n) for n in dropped[:20]]
    prog.dropped += [f"... and {len(dropped) - 20} more"] if len(dropped) > 20 else []
    return prog


def _fate(node: Node) -> str:
    """'keep', 'future', 'assign' (decided later), 'neutral' (comments, strings) or 'drop'."""
    t, sole = node.type, _sole_type(node)
    if t == "future_import_statement":
        return "future"
    if t in _KEEP or (sole == "call" and _callee(node) in _ALLOWED_CALLS) or (
            t in ("try_statement", "if_statement") and _only_imports(node)):
        return "keep"
    if t == "ERROR" and node.children and node.children[0].type in _CODE_TOKENS:
        return "keep"  # broken code, not prose: the sandbox reports it as a compile error
    if t == "comment" or sole == "string":
        return "neutral"
    return "assign" if sole in ("assignment", "augmented_assignment") else "drop"


def _only_imports(node: Node) -> bool:
    """True if this try/if holds imports and otherwise only plain assignments and pass."""
    stack, imports = [node], 0
    while stack and not _is_main_guard(node):
        n = stack.pop()
        for c in n.named_children:
            if n.type != "block":  # descend into bodies and except/else/elif/finally clauses
                stack += [c] if c.type == "block" or c.type.endswith("_clause") else []
            elif c.type in ("try_statement", "if_statement"):
                stack.append(c)
            elif c.type in _IMPORTS:
                imports += 1
            elif not (c.type in ("pass_statement", "comment")
                      or (_sole_type(c) == "assignment" and not _calls(c))):
                return False
    return imports > 0


def _is_main_guard(node: Node) -> bool:
    cond = node.child_by_field_name("condition")
    return node.type == "if_statement" and cond is not None and re.sub(
        r"[\s()]", "", _text(cond)).replace("'", '"') in _MAIN_GUARDS


def _describe(node: Node) -> str:
    """A short description of a dropped top-level statement."""
    first = _text(node).split("\n", 1)[0].strip()
    snippet = first if len(first) <= 60 else first[:57] + "..."
    sole = _sole_type(node)
    if _is_main_guard(node):
        return "if __name__ == '__main__' block"
    if sole == "call":
        return f"top-level call {_callee(node)}(...)"
    if node.type == "ERROR":
        return f"unparsable text: {snippet}"
    kind = "assignment" if sole.endswith("assignment") else _KINDS.get(
        node.type, node.type.replace("_", " "))
    return f"top-level {kind}: {snippet}"


def _sole_type(node: Node) -> str:
    """For an expression statement with one named child (comments aside): that child's type."""
    named = [c for c in node.named_children if c.type != "comment"]
    ok = node.type == "expression_statement" and len(named) == 1
    return named[0].type if ok else ""


def _callee(node: Node) -> str:
    func = node.named_children[0].child_by_field_name("function")
    return _text(func) if func is not None else "?"


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "surrogatepass")


def _descendants(node: Node, prune: Callable[[Node], bool] = lambda n: False) -> list[Node]:
    """Nodes below and including ``node`` in source order, not entering pruned ones; iterative,
    because model output can nest deeper than Python's recursion limit."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack += [] if prune(n) else reversed(n.children)
    return out


def _count_errors(root: Node) -> int:
    return sum(n.type == "ERROR" or n.is_missing
               for n in _descendants(root, lambda n: not n.has_error))


def _calls(node: Node) -> bool:
    """True if running this statement calls something (lambda bodies aside)."""
    return any(n.type == "call" for n in _descendants(node, lambda n: n.type == "lambda"))


def _refs(node: Node) -> set[str]:
    """Identifiers the node uses, leaving out attribute names and keyword-argument names."""
    names: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "identifier":
            names.add(_text(n))
        elif n.type in ("attribute", "keyword_argument"):
            part = n.child_by_field_name("object" if n.type == "attribute" else "value")
            stack += [part] if part is not None else []
        else:
            stack += n.children
    return names


def _bound(node: Node) -> set[str]:
    """Top-level names a statement binds."""
    t, kids = node.type, node.children
    if t == "decorated_definition":
        inner = node.child_by_field_name("definition")
        return _bound(inner) if inner is not None else set()
    if t in ("function_definition", "class_definition"):
        name = node.child_by_field_name("name")
        return {_text(name)} if name is not None else set()
    if t == "ERROR":  # broken code starting with `def name` or `class name`
        return {_text(kids[1])} if len(kids) > 1 and kids[1].type == "identifier" else set()
    if t in _IMPORTS:  # `import a.b` binds a, `from a import b` binds b; aliases win
        part = 0 if t == "import_statement" else -1
        return {_text(c.child_by_field_name("alias") or c).split(".")[part].strip()
                for c in node.children_by_field_name("name")}
    if t in ("try_statement", "if_statement"):
        return {name for n in _descendants(node)[1:] if n.type in _IMPORTS
                or n.type == "expression_statement" for name in _bound(n)}
    names, stack = set(), [c for c in kids if t == "expression_statement"]
    while stack:  # assignments, including chained ones (a = b = 1) and unpacking
        a = stack.pop()
        left, right = a.child_by_field_name("left"), a.child_by_field_name("right")
        if a.type.endswith("assignment") and left is not None:
            names |= {_text(n) for n in _descendants(left) if n.type == "identifier"
                      and n.parent is not None and n.parent.type in _BINDING_PARENTS}
            stack += [right] if right is not None else []
    return names


def _borrow(chosen: _Program, programs: list[_Program]) -> list[tuple[_Program, Node]]:
    """What other candidates keep and the chosen code needs (transitively), in source order."""
    idx = programs.index(chosen)
    order = [*programs[idx - 1::-1], *programs[idx + 1:]] if idx else programs[1:]
    offers: dict[str, tuple[int, Node]] = {}  # name -> first binding in the nearest block
    for prog in reversed(order):
        for node in reversed(prog.kept()):
            for name in _bound(node) if node.type != "ERROR" else ():
                offers[name] = (programs.index(prog), node)
    kept = chosen.kept()
    bound = {name for n in kept for name in _bound(n)}
    need = [name for n in kept for name in _refs(n)]
    found: dict[tuple[int, int], tuple[_Program, Node]] = {}
    while need:
        name = need.pop()
        if name in bound or name not in offers:
            continue
        i, node = offers[name]
        found[(i, node.start_byte)] = (programs[i], node)
        bound |= _bound(node) | {name}
        need += _refs(node)
    return [found[k] for k in sorted(found)]


def _assemble(chosen: _Program, borrowed: list[tuple[_Program, Node]]) -> str:
    """Futures first, then borrowed helpers, then runs of the chosen block's kept text."""
    pieces = [_text(n) for n, fate in chosen.parts if fate == "future"]
    pieces += [_text(n) for _, n in borrowed]
    runs: list[list[int]] = []  # [start, end] byte spans; comments between kept nodes stay
    extend = False
    for node, fate in chosen.parts:
        if fate == "keep" and extend:
            runs[-1][1] = node.end_byte
        elif fate == "keep":
            runs.append([node.start_byte, node.end_byte])
        extend = fate == "keep" or (extend and fate == "neutral")
    pieces += [chosen.src[a:b].decode("utf-8", "surrogatepass") for a, b in runs]
    return "\n\n".join(pieces) + "\n" if pieces else ""
