"""Write synthesised suites as native problems (the format of ``problems/README.md``).

Each problem becomes a directory holding ``problem.toml``, the prompt, the reference(s),
the known-wrong programs, the validator (the input contract) and its tests: for a
call-based problem ``tests.jsonl``, whose lines are objects ``{"args": [...], "suite":
NAME, "provenance": {...}}``; for a stdin/stdout problem a ``tests/`` directory of
``SUITE_NNNN.in`` files (and the given ``.out`` answers) with ``provenance.jsonl``. The existing
tests keep their suites (``base`` first) with provenance ``{"generator": "original"}``; the
synthesised ones form the suite ``synth``, which (suites being cumulative) holds every test.
``synth.json`` beside them records the report and the key the suite was made under, so a
later run with the same problem and options can skip it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from codeeval.datasets.native import STDIO_PROVENANCE
from codeeval.datasets.problem import ORACLE_EQUAL, FunctionalProblem, StdioProblem
from codeeval.harness.values import encode
from codeeval.languages.registry import get_language
from codeeval.synth.pipeline import SynthResult

SYNTH_SUITE = "synth"
REPORT = "synth.json"


def directory_name(task_id: str) -> str:
    """A file-system-safe directory name for a task id (``HumanEval/0`` -> ``HumanEval_0``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", task_id).strip("._") or "problem"
    return name


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def write_problem(root: Path, result: SynthResult, *, key: str,
                  suites: dict[str, tuple[Any, ...]]) -> Path:
    """Write ``result`` under ``root`` and return the problem's directory.

    ``suites`` are the existing suites to keep (cumulative, in order); the synthesised
    tests follow them as suite ``synth``. Files are written to a temporary directory and
    moved into place, so an interrupted run never leaves half a problem.

    Raises:
        OSError: the directory cannot be written.
    """
    problem = result.problem
    stdio = isinstance(problem, StdioProblem)
    final = root / directory_name(problem.task_id)
    tmp = root / f".{final.name}.tmp{os.getpid()}"
    if tmp.exists():
        _remove_tree(tmp)
    files: dict[str, str | bytes] = {}
    ref_ext = _extension(problem.reference_language) if isinstance(problem, StdioProblem) \
        else ".py"
    files[f"reference{ref_ext}"] = problem.reference
    manifest = [f"id = {_toml_str(problem.task_id)}",
                f"version = {_toml_str(problem.version or '1')}",
                f"kind = {_toml_str('stdio' if stdio else 'function')}"]
    if isinstance(problem, FunctionalProblem):
        manifest.append(f"entry_point = {_toml_str(problem.entry_point)}")
    if problem.prompt:
        prompt_name = "prompt.md" if stdio else "prompt.py"
        files[prompt_name] = problem.prompt
        manifest.append(f"prompt = {_toml_str(prompt_name)}")
    refs = [f"reference{ref_ext}"]
    for i, (name, src) in enumerate(problem.extra.get("alternate_references", ()), 2):
        fname = f"reference_{i}{Path(name).suffix or ref_ext}"
        files[fname] = src
        refs.append(fname)
    manifest.append(f"references = {json.dumps(refs)}")
    wrong = []
    for i, (name, src) in enumerate(problem.known_wrong):
        fname = f"wrong/{i:02d}_{directory_name(Path(name).stem)}{Path(name).suffix or '.py'}"
        files[fname] = src
        wrong.append(fname)
    if wrong:
        manifest.append(f"known_wrong = {json.dumps(wrong)}")
    if problem.validator:
        files["validator.py"] = problem.validator
        manifest.append('validator = "validator.py"')
    manifest.append(f"tests = {_toml_str('tests' if stdio else 'tests.jsonl')}")
    manifest.append(f"suites = {json.dumps([*suites, SYNTH_SUITE])}")
    tables: list[str] = []
    if isinstance(problem, FunctionalProblem):
        if problem.atol:
            manifest.append(f"atol = {problem.atol!r}")
        if problem.oracle != ORACLE_EQUAL:
            manifest.append(f"oracle = {_toml_str(problem.oracle)}")
        files["tests.jsonl"] = _call_lines(problem, result, suites)
    elif isinstance(problem, StdioProblem):
        files.update(_stdio_files(problem, result, suites))
        c = problem.checker
        tables += ["", "[checker]", f"kind = {_toml_str(c.kind)}", f"abs_tol = {c.abs_tol!r}",
                   f"rel_tol = {c.rel_tol!r}"]
        if c.kind == "custom" and c.source is not None:
            files["checker.py"] = c.source
            tables.append('file = "checker.py"')
    limits = problem.limits
    table = [f"{k} = {v!r}" for k, v in (("time_floor_s", limits.time_floor_s),
                                           ("time_factor", limits.time_factor),
                                           ("memory_mb", limits.memory_mb)) if v is not None]
    if table:
        tables += ["", "[limits]", *table]
    files["problem.toml"] = "\n".join(manifest + tables) + "\n"
    files[REPORT] = json.dumps({"key": key, "report": result.report}, indent=1,
                               default=repr) + "\n"
    for name, content in files.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if final.exists():
        _remove_tree(final)
    os.replace(tmp, final)
    return final


def _extension(language: str) -> str:
    exts = get_language(language).extensions
    return exts[0] if exts else ".txt"


def _call_lines(problem: FunctionalProblem, result: SynthResult,
                suites: dict[str, tuple[Any, ...]]) -> str:
    lines = []
    done = 0
    for name, tests in suites.items():
        for args in tests[done:]:
            lines.append({"args": encode(list(args)), "suite": name,
                          "provenance": dict(problem.provenance.get(done, {}))
                          or {"generator": "original"}})
            done += 1
    for t in result.tests:
        lines.append({"args": encode(list(t.args)), "suite": SYNTH_SUITE,
                      "provenance": t.provenance})
    return "".join(json.dumps(line, allow_nan=True) + "\n" for line in lines)


def _stdio_files(problem: StdioProblem, result: SynthResult,
                 suites: dict[str, tuple[Any, ...]]) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {}
    meta = []
    done = 0
    for name, tests in suites.items():
        for stdin in tests[done:]:
            fname = f"{name}_{done:04d}.in"
            files[f"tests/{fname}"] = stdin
            if done in problem.answers:
                files[f"tests/{name}_{done:04d}.out"] = problem.answers[done]
            meta.append({"name": fname, "suite": name,
                         "provenance": dict(problem.provenance.get(done, {}))
                         or {"generator": "original"}})
            done += 1
    for i, t in enumerate(result.tests):
        fname = f"{SYNTH_SUITE}_{i:04d}.in"
        files[f"tests/{fname}"] = t.args[0]
        meta.append({"name": fname, "suite": SYNTH_SUITE, "provenance": t.provenance})
    files[f"tests/{STDIO_PROVENANCE}"] = "".join(json.dumps(m) + "\n" for m in meta)
    return files


def _remove_tree(path: Path) -> None:
    for p in sorted(path.rglob("*"), key=lambda q: len(q.parts), reverse=True):
        if p.is_dir() and not p.is_symlink():
            p.rmdir()
        else:
            p.unlink()
    path.rmdir()


def existing_key(root: Path, task_id: str) -> str | None:
    """The key a problem's suite under ``root`` was written with, if it is there whole."""
    try:
        data = json.loads((root / directory_name(task_id) / REPORT).read_text())
        key = data["key"]
        return key if isinstance(key, str) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
