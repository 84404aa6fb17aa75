"""``codeeval score`` on a stdin/stdout problem with candidates in six languages: the
samples file shipped with ``problems/range_sums`` gets the verdict each sample names.

Skips, naming the missing toolchains, where the host lacks one; ``scripts/install.sh``
installs them all when run as root, so CI skips nothing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from codeeval.errors import BackendUnavailable
from codeeval.languages import get_language
from tests.sandbox.conftest import _backend

PROBLEM = Path(__file__).resolve().parents[2] / "problems" / "range_sums"
SAMPLES = PROBLEM / "samples.jsonl"


def make_samples() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_samples", PROBLEM / "make_samples.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_samples_file_is_up_to_date() -> None:
    assert SAMPLES.read_text() == make_samples().render(), (
        "run: python problems/range_sums/make_samples.py")


def test_samples_cover_six_languages_right_and_wrong() -> None:
    rows = [json.loads(line) for line in SAMPLES.read_text().splitlines()]
    right = {r["language"] for r in rows if r["expect"] == "AC"}
    wrong = {r["language"] for r in rows if r["expect"] != "AC"}
    six = {"python", "cpp", "java", "javascript", "go", "rust"}
    assert right == wrong == six
    assert {r["expect"] for r in rows} == {"AC", "WA", "TLE", "RE", "CE"}


@pytest.mark.slow
def test_six_language_samples_score_as_expected(tmp_path: Path) -> None:
    _backend("namespace")
    missing = []
    for name in ("cpp", "java", "javascript", "go", "rust"):
        try:
            get_language(name).runtime_paths()
            get_language(name).environment()
        except BackendUnavailable as e:
            missing.append(f"{name} ({e})")
    if missing:
        pytest.skip(f"toolchains missing here (scripts/install.sh installs them): {missing}")
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "codeeval", "score", "--dataset", str(PROBLEM),
         "--samples", str(SAMPLES), "--out", str(out)],
        capture_output=True, text=True, timeout=900,
        env={**os.environ, "CODEEVAL_CACHE": str(tmp_path / "cache")})
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in SAMPLES.read_text().splitlines()]
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(results) == len(rows)
    for row, result in zip(rows, results, strict=True):
        verdicts = {name: s["verdict"] for name, s in result["suites"].items()}
        label = f"{row['name']} ({row['language']}): {result['suites']}"
        if row["expect"] == "AC":
            assert set(verdicts.values()) == {"AC"}, label
        else:
            assert verdicts["plus"] == row["expect"], label
    by_name = {row["name"]: r for row, r in zip(rows, results, strict=True)}
    # The quadratic program passes the small tests and runs out of time on large ones.
    quadratic = by_name["wrong/quadratic.js"]["suites"]
    assert (quadratic["base"]["verdict"], quadratic["plus"]["verdict"]) == ("AC", "TLE")
    # A compile error carries the compiler's message.
    ce = by_name["wrong/missing_semicolon.cpp"]["suites"]["base"]["first_failure"]
    assert "expected" in ce["compiler"]
    assert ce["reason"].startswith("compilation failed")
    java_ce = by_name["wrong/ClassNotMain.java"]["suites"]["base"]["first_failure"]
    assert "Solution" in java_ce["compiler"]
    assert by_name["response (reference.cpp)"]["extraction"]["source"] == "fenced block 1 of 1"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["infra_errors"] == 0
    assert summary["distinct_programs_run"] == len(rows) - 1  # the response repeats a reference
    assert summary["time_limits"]["from_problem"]["native/range_sums"]["memory_mb"] == 512
