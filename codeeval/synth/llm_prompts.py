"""Prompts for LLM-written input generators, the generator contract, and reading answers.

Two analyses, after SAGA (arXiv 2507.06920), each asking for one generator program:

- ``multidimensional``: correct solutions are evidence of the problem's constraints. The
  model reads them (the statement, the input contract, the existing tests) for the ranges,
  sizes and special structures they guard against or depend on, lists the boundary cases
  this suggests, and writes a generator aimed at them. Each sample of the analysis gets a
  different emphasis (:data:`FOCUS`), so several programs cover different ground even at
  temperature 0.
- ``differential``: a known-wrong program is shown beside the correct solution most like it
  (by :class:`difflib.SequenceMatcher` ratio; with per-author data this is usually the same
  author's accepted program). The model works out what separates them and writes a
  generator for the inputs on which they disagree. Sample ``k`` uses pair
  ``k mod (number of pairs)``.

Both kinds of problem are served. A call-based problem's prompt shows the function's
signature and its existing inputs as argument lists; a stdin/stdout problem's shows the
statement, a few existing stdin texts (cut to their first lines), every solution with its
language (the reference's ``reference_language``, the others' told by their file names) and
the validator of the whole text, when there is one.

The generator contract (what :mod:`codeeval.synth.llm` runs in the sandbox)::

    def generate(rng, index):   # index = 0, 1, ..., n-1; rng = random.Random(f"{seed}:{index}")
        return [arg1, arg2, ...]  # call-based: ONE input, the entry point's positional arguments
        return "3 4\n"           # stdin/stdout: ONE input, the whole stdin text (str or bytes)

``def generate(rng)`` is accepted too (called without the index). The generator is Python
whatever the solutions' language.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import textwrap
from collections.abc import Sequence
from typing import Any

from codeeval import pyast
from codeeval.datasets.problem import FunctionalProblem, Problem, StdioProblem
from codeeval.errors import UnknownLanguageError
from codeeval.harness.functional import longest_suite
from codeeval.harness.values import ProtocolError, encode
from codeeval.languages import language_for_path

ANALYSES = ("multidimensional", "differential")
#: What each sample of the multidimensional analysis concentrates on, in turn.
FOCUS = (
    "boundary values: each side of every comparison and bound you found, empty and "
    "one-element inputs, zero, negative numbers, equal and repeated values",
    "large and stressful inputs near the maximum sizes and magnitudes the contract allows, "
    "and unusual structures (sorted, reversed, all equal, alternating, nested)",
    "special cases the solutions treat separately (early returns, guards, fallbacks) and "
    "inputs that make different branches of the solutions run",
)
#: How much of each part goes into a prompt.
MAX_SEEDS = 5
SEED_CHARS = 200
#: Lines of each existing stdin text shown (each line cut at SEED_CHARS).
STDIN_LINES = 12
MAX_SOLUTIONS = 3
SOURCE_CHARS = 6000
PROMPT_CHARS = 8000

_SYSTEM = """\
You design test inputs for programming problems. You do not write tests directly: you \
write a small Python program, a generator, that produces them. The generator runs in a \
sandbox; every input it returns is checked against the problem's input contract, and the \
expected output is computed by a correct solution, so you never state expected outputs. \
Good inputs are valid and expose incorrect solutions: off-by-one bounds, missed special \
cases, overflow or precision problems, and programs too slow for large inputs."""

_CONTRACT = """\
# How to answer
First reason briefly (at most about 12 short bullet points). Then give exactly ONE fenced \
```python block, the last thing in your answer, defining

    def generate(rng, index):
        ...
        return [...]  # the positional arguments of `{entry}`, in order

- `generate` is called for index = 0, 1, ..., {last}; `rng` is a fresh `random.Random` \
seeded for that index. Take every random choice from `rng` (no other randomness, no clock).
- Each call returns ONE input: a list with the {arity} argument(s) of `{entry}`, built from \
plain values only (int, float, str, bool, None, list, tuple, dict, set).
- Spread the indices over different cases: for example one specific case per small index, \
then random and larger inputs for the later ones.
- Every input must satisfy the input contract. Stay under {max_bytes} bytes per input and \
{cpu_s:g} s of CPU per call; use only the standard library; do not print, read files or \
use the network; define helper functions at top level if you need them."""


def signature(problem: FunctionalProblem) -> tuple[str, int | None, int | None]:
    """The entry point's ``def`` line (from the reference) and how many positional arguments
    it takes (least, most); ``None`` where that cannot be told (no such function, ``*args``).
    """
    try:
        tree = pyast.parse(problem.reference)
    except SyntaxError:
        tree = ast.Module(body=[], type_ignores=[])
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) \
                and node.name == problem.entry_point:
            args = node.args
            ret = f" -> {ast.unparse(node.returns)}" if node.returns else ""
            line = f"def {node.name}({ast.unparse(args)}){ret}:"
            positional = len(args.posonlyargs) + len(args.args)
            most = None if args.vararg else positional
            return line, positional - len(args.defaults), most
    seeds = _seeds(problem)
    n = len(seeds[0]) if seeds else None
    return f"def {problem.entry_point}(...):", n, n


def correct_solutions(problem: Problem) -> list[tuple[str, str]]:
    """(name, source) of every correct solution: the reference, then the alternates."""
    alternates = [(str(name), str(src))
                  for name, src in problem.extra.get("alternate_references", ())]
    return [("reference", problem.reference), *alternates]


def differential_pairs(problem: Problem) -> list[tuple[str, str, str, str]]:
    """For each known-wrong program: (its name, its source, the name and source of the
    correct solution most similar to it by :class:`difflib.SequenceMatcher` ratio)."""
    solutions = correct_solutions(problem)
    pairs = []
    for name, wrong in problem.known_wrong:
        best = max(solutions, key=lambda s: difflib.SequenceMatcher(None, wrong, s[1],
                                                                    autojunk=False).ratio())
        pairs.append((name, wrong, best[0], best[1]))
    return pairs


def solution_language(problem: Problem, name: str) -> str:
    """The language (registry name) of a solution or known-wrong program of ``problem``
    called ``name``: Python for call-based problems; for stdin/stdout ones the reference's
    language for ``reference`` and for a file name whose extension no language claims,
    else the language of the extension."""
    if isinstance(problem, FunctionalProblem):
        return "python"
    if name != "reference":
        try:
            return language_for_path(name).name
        except UnknownLanguageError:
            pass
    return problem.reference_language


def messages(problem: Problem, analysis: str, sample: int, *, inputs: int,
             max_bytes: int, cpu_s: float) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """The chat messages asking for generator number ``sample`` of ``analysis``, and what
    the prompt was built from (for the report).

    Raises:
        ValueError: an unknown analysis, or ``differential`` for a problem with no
            known-wrong programs.
    """
    if isinstance(problem, StdioProblem):
        parts = [f"# Problem statement\n{_clip(problem.prompt.strip(), PROMPT_CHARS)}",
                 _stdio_contract_text(problem), _stdin_seeds_text(problem)]
        contract = _STDIO_CONTRACT.format(last=max(inputs - 1, 0), max_bytes=max_bytes,
                                          cpu_s=cpu_s)
    else:
        line, least, most = signature(problem)
        parts = [f"# Problem\n{_clip(problem.prompt.strip(), PROMPT_CHARS)}",
                 f"# Function under test\n```python\n{line}\n```", _contract_text(problem),
                 _seeds_text(problem)]
        contract = _CONTRACT.format(entry=problem.entry_point, last=max(inputs - 1, 0),
                                    arity=_arity(least, most),
                                    max_bytes=max_bytes, cpu_s=cpu_s)
    about: dict[str, Any] = {}
    if analysis == "multidimensional":
        solutions = correct_solutions(problem)[:MAX_SOLUTIONS]
        parts.append("# Correct solutions\n" + "\n\n".join(
            f"## Solution {i} ({_label(problem, name)})\n{_program(problem, name, src)}"
            for i, (name, src) in enumerate(solutions, 1)))
        focus = FOCUS[sample % len(FOCUS)]
        parts.append(_MULTI.format(focus=focus))
        about = {"solutions": [name for name, _ in solutions], "focus": focus}
    elif analysis == "differential":
        pairs = differential_pairs(problem)
        if not pairs:
            raise ValueError(f"{problem.task_id}: no known-wrong programs to compare")
        wrong_name, wrong, right_name, right = pairs[sample % len(pairs)]
        parts.append(f"# A wrong program and the correct solution closest to it\n"
                     f"## Wrong program ({_label(problem, wrong_name)})\n"
                     f"{_program(problem, wrong_name, wrong)}\n\n"
                     f"## Correct solution ({_label(problem, right_name)})\n"
                     f"{_program(problem, right_name, right)}")
        parts.append(_DIFF)
        about = {"wrong": wrong_name, "correct": right_name}
    else:
        raise ValueError(f"unknown analysis {analysis!r} (known: {', '.join(ANALYSES)})")
    parts.append(contract)
    return ([{"role": "system", "content": _SYSTEM},
             {"role": "user", "content": "\n\n".join(parts)}], about)


_MULTI = """\
# Your task: multidimensional analysis
1. Treat the correct solutions as evidence about the input space: which ranges, sizes, \
types and special structures do they check for, branch on or rely on (guards, early \
returns, loop bounds, comparison operators, arithmetic that may overflow or lose \
precision)?
2. From that and the statement, list the constraints and the boundary cases they imply.
3. Write a generator aimed at those cases. For this generator, concentrate on: {focus}."""

_DIFF = """\
# Your task: differential analysis
1. Compare the two programs: where do they differ (a missing check, a bound off by one, a \
special case handled wrongly, overflow or precision, an approach too slow for large inputs)?
2. Describe the valid inputs on which the wrong program's result differs from the correct \
one's, or on which it is much slower.
3. Write a generator that produces such inputs in several variations, together with nearby \
inputs that probe the same difference from other sides. Only valid inputs count: the \
wrong program's assumptions do not make an input valid."""


_STDIO_CONTRACT = """\
# How to answer
First reason briefly (at most about 12 short bullet points). Then give exactly ONE fenced \
```python block, the last thing in your answer, defining

    def generate(rng, index):
        ...
        return text  # the whole standard input of ONE test, as a str

- `generate` is called for index = 0, 1, ..., {last}; `rng` is a fresh `random.Random` \
seeded for that index. Take every random choice from `rng` (no other randomness, no clock).
- Each call returns ONE test: a single string holding everything the program reads from \
standard input, laid out exactly as the input format says (line breaks, separators, counts \
that agree with the data after them) and ending with a newline. Build long texts with \
"\\n".join(...) rather than by repeated concatenation.
- Spread the indices over different cases: for example one specific case per small index, \
then random and larger inputs for the later ones.
- Every input must satisfy the input contract. Stay under {max_bytes} bytes per input and \
{cpu_s:g} s of CPU per call. The generator is Python whatever language the solutions are \
written in; use only the standard library; do not print, read files or use the network; \
define helper functions at top level if you need them."""


def _arity(least: int | None, most: int | None) -> str:
    if least is None:
        return "usual"
    if least == most:
        return str(least)
    return f"{least} to {most}" if most is not None else f"{least} or more"


def _contract_text(problem: FunctionalProblem) -> str:
    if problem.validator:
        return ("# Input contract\nEvery input must pass this validator, called with the "
                "arguments; it raises on an input the problem does not admit:\n"
                + _code(problem.validator))
    return ("# Input contract\nNo validator is given: infer the constraints from the "
            "statement and the solutions, and stay within what the statement allows.")


def _stdio_contract_text(problem: StdioProblem) -> str:
    if problem.validator:
        return ("# Input contract\nEvery input must pass this validator, called with the "
                "whole stdin text as a str; it raises on an input the problem does not "
                "admit:\n" + _code(problem.validator))
    return ("# Input contract\nNo validator is given: take the input format and the limits "
            "from the statement and keep to them exactly.")


def _stdin_seeds_text(problem: StdioProblem) -> str:
    seeds = _seeds(problem)
    if not seeds:
        return "# Existing test inputs\nNone."
    shown = []
    for i, data in enumerate(seeds[:MAX_SEEDS], 1):
        text = _abbreviate(data)
        fence = "````" if "```" in text else "```"
        shown.append(f"## Input {i}\n{fence}text\n{text}\n{fence}")
    more = f"\n\n({len(seeds)} in all; {MAX_SEEDS} shown)" if len(seeds) > MAX_SEEDS else ""
    return ("# Existing test inputs (stdin; long ones cut)\n" + "\n\n".join(shown) + more)


def _abbreviate(data: bytes | str) -> str:
    """The first lines of a stdin text, each cut at SEED_CHARS, and what was left out."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    lines = text.splitlines()
    shown = [_clip(line, SEED_CHARS) for line in lines[:STDIN_LINES]]
    if len(lines) > STDIN_LINES:
        shown.append(f"... [{len(lines) - STDIN_LINES} more lines; {len(data)} bytes in all]")
    return "\n".join(shown)


def _label(problem: Problem, name: str) -> str:
    if isinstance(problem, FunctionalProblem):
        return name
    return f"{name}, {solution_language(problem, name)}"


def _program(problem: Problem, name: str, source: str) -> str:
    return _code(source, solution_language(problem, name))


def _seeds(problem: Problem) -> Sequence[Any]:
    return problem.suites.get("base") or longest_suite(problem)


def _seeds_text(problem: FunctionalProblem) -> str:
    seeds = _seeds(problem)
    if not seeds:
        return "# Existing test inputs\nNone."
    shown = [f"- {_clip(repr(list(s)), SEED_CHARS)}" for s in seeds[:MAX_SEEDS]]
    more = f"\n({len(seeds)} in all; {MAX_SEEDS} shown)" if len(seeds) > MAX_SEEDS else ""
    return ("# Existing test inputs (argument lists)\n" + "\n".join(shown) + more)


def _code(source: str, language: str = "python") -> str:
    return f"```{language}\n{_clip(source.strip(), SOURCE_CHARS)}\n```"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " ...[cut]"


# -- the contract, enforced in the sandbox and on the host --------------------------------

#: The name under which inputs are asked of a generator program (appended by WRAPPER).
ENTRY = "__codeeval_llm_generate__"
#: The exception a generator raises (through the wrapper) for an input over the cap.
FLOOD = "__codeeval_flood__"
#: Appended to a generator program: calls ``generate`` as the contract says and refuses an
#: input past the size cap before it is encoded for the channel.
WRAPPER = f'''

class {FLOOD}(Exception):
    pass


def __codeeval_llm_size__(value, cap):
    # A lower bound of the encoded size; stops counting once past the cap.
    total, stack = 0, [value]
    while stack and total <= cap:
        v = stack.pop()
        if isinstance(v, (str, bytes, bytearray)):
            total += len(v) + 2
        elif isinstance(v, int):
            total += v.bit_length() // 4 + 1
        elif isinstance(v, dict):
            total += 2 + 2 * len(v)
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, (list, tuple, set, frozenset)):
            total += 2 + len(v)
            stack.extend(v)
        else:
            total += 8
    return total


def __codeeval_llm_generate__(seed, index, cap):
    import inspect
    import random
    try:
        with_index = len(inspect.signature(generate).parameters) >= 2
    except (TypeError, ValueError):
        with_index = True
    rng = random.Random(f"{{seed}}:{{index}}")
    value = generate(rng, index) if with_index else generate(rng)
    if __codeeval_llm_size__(value, cap) > cap:
        raise {FLOOD}(f"input {{index}} is larger than {{cap}} bytes")
    return value
'''


def stdin_bytes(value: Any, cap: int) -> tuple[bytes | None, tuple[str, str] | None]:
    """The stdin a stdio generator's return value stands for (a ``str`` as UTF-8, or
    bytes), or why it is not usable (kind, message): not text (``bad_output``), or over
    ``cap`` bytes (``flood``)."""
    if isinstance(value, str):
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError as e:
            return None, ("bad_output", f"text not encodable as UTF-8: {e}"[:300])
    elif isinstance(value, bytes | bytearray):
        data = bytes(value)
    else:
        return None, ("bad_output", f"returned {type(value).__name__}, not the stdin text "
                                    "(a str)")
    if len(data) > cap:
        return None, ("flood", f"input of {len(data)} bytes (over {cap})")
    return data, None


def check_input(value: Any, least: int | None, most: int | None, entry: str,
                 cap: int) -> tuple[str, str] | None:
    """Why a generator's return value is not a usable input (kind, message), or ``None``."""
    if not isinstance(value, list | tuple):
        return "bad_output", f"returned {type(value).__name__}, not a list of arguments"
    n = len(value)
    if (least is not None and n < least) or (most is not None and n > most):
        takes = least if least == most else f"{least} to {most}"
        return "bad_output", f"{n} argument(s); {entry} takes {takes}"
    try:
        size = len(json.dumps(encode(list(value)), allow_nan=True))
    except (ProtocolError, ValueError) as e:
        return "bad_output", f"unencodable input: {e}"[:300]
    if size > cap:
        return "flood", f"input of {size} bytes (over {cap})"
    return None


# -- reading the answer ------------------------------------------------------------------

_FENCE = re.compile(r"^[ \t]*(?P<f>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)\n(?P<body>.*?)"
                    r"^[ \t]*(?P=f)[ \t]*$", re.M | re.S)
_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*(python|py|python3)?[ \t]*$", re.M | re.I)
_PY_TAGS = {"python", "py", "python3", "py3"}


def extract_program(text: str | None) -> tuple[str | None, str]:
    """The generator program in a model's answer: the last fenced block tagged Python (else
    the last untagged block that defines ``generate``), and where it was found; ``None`` and
    why when there is none."""
    if not text or not text.strip():
        return None, "empty response"
    text = text.replace("\r\n", "\n")
    blocks = [(m["info"].strip().split()[0].lower() if m["info"].strip() else "",
               textwrap.dedent(m["body"])) for m in _FENCE.finditer(text)]
    tagged = [(i, b) for i, (tag, b) in enumerate(blocks, 1) if tag in _PY_TAGS]
    plain = [(i, b) for i, (tag, b) in enumerate(blocks, 1)
             if not tag and re.search(r"^def generate\(", b, re.M)]
    for found in (tagged, plain):
        if found:
            i, body = found[-1]
            if body.strip():
                return body, f"fenced block {i} of {len(blocks)}"
    if len(_OPEN.findall(text)) > len(blocks) * 2:
        return None, "no program: the answer ends inside a code block (cut off by max_tokens?)"
    return None, "no program: the answer has no fenced Python block"
