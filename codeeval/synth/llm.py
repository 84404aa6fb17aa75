"""LLM-written input generators through litellm: asked, cached, run sandboxed, accounted.

For each problem, call-based or stdin/stdout, and each analysis (``multidimensional``,
``differential``; see :mod:`.llm_prompts` for the prompts and the generator contract), the
model is asked for ``programs`` generator programs. Each answer's last fenced Python block is
run in the sandbox like any untrusted code (:func:`~codeeval.harness.outcomes.run_inputs`):
one call per input, with a CPU limit per call, a memory limit, and a cap on each input's
size. Every input it returns becomes a :class:`~codeeval.synth.generators.Candidate` with
provenance ``{"generator": "llm:<analysis>", "model", "program" (12 hex digits of the
program's SHA-256), "sample", "index", "seed"}``: its ``args`` are the entry point's
arguments for a call-based problem, and ``(stdin bytes,)`` (the returned ``str`` in UTF-8)
for a stdin/stdout one. The synthesis pipeline (:mod:`.pipeline`, :mod:`.stdio`) then
validates, oracles and reduces them like any other proposal.

What goes wrong is a value in the problem's report, never an exception of the run:

- a provider error (authentication, rate limit, network, a bad model name: anything
  litellm raises) is a program entry with status ``llm_error`` and the message;
- an answer without a fenced Python block is status ``no_program``;
- a program that does not load, raises, exceeds its CPU time (``timeout``) or memory, prints
  too much (``output``), returns something other than a list of the entry point's arguments
  (call-based) or a ``str`` or bytes stdin text (stdin/stdout) (``bad_output``), or an input
  over the size cap (``flood``) has those failures counted per kind; its good inputs are
  kept (status ``partial``, or ``failed`` when there are none), and the other programs go
  on. After a process-ending failure the next input runs in a new process, at most
  :data:`RESTARTS` times per program.

**Cache.** Every answer is stored as ``<cache_dir>/<key>.json``, where ``key`` is the SHA-256
of the canonical JSON of the request: model, messages, temperature, max_tokens, seed, the
sample index (so several programs can be asked for at temperature 0) and, for mock runs, a
hash of the mock answer. The file holds the request, the answer's text and finish reason,
its token usage and its cost; it is written atomically (a temporary file, then a rename).
A cached answer is used without calling litellm at all. Failed requests are not cached.

**Accounting** (per problem under ``usage``, and for the whole run from
:meth:`LLMProposer.totals`): requests made, cache hits, LLM errors, prompt and completion
tokens and cost in USD of the requests made (``null`` if litellm does not know the price of
some request's model), programs run, programs failed by their first failure kind, inputs
proposed.

litellm is imported only when a proposer is made (it takes seconds and pulls in hundreds of
modules), after :func:`codeeval.config.prepare_litellm` told it to use its bundled price
table instead of downloading one at import.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from codeeval import config
from codeeval.datasets.problem import Problem, StdioProblem, digest
from codeeval.errors import InputError, SandboxError
from codeeval.harness.outcomes import NotLoaded, Outcome, run_inputs
from codeeval.model.verdict import Verdict
from codeeval.sandbox.base import Backend
from codeeval.synth import llm_prompts as prompts
from codeeval.synth.generators import Candidate

ANALYSES = prompts.ANALYSES
CACHE_VERSION = 1
#: New processes a generator program may need after process-ending failures.
RESTARTS = 2
#: How many failures of each program the report shows.
ERROR_EXAMPLES = 3
@dataclass(frozen=True, slots=True)
class LLMOptions:
    """How to ask for and run LLM-written generators.

    Attributes:
        model: a litellm model string (``openai/gpt-4o-mini``, ``anthropic/...``).
        analyses: which analyses to run (a subset of :data:`ANALYSES`).
        programs: generator programs asked for per analysis and problem.
        inputs: inputs asked of each program (``generate(rng, index)`` for each index).
        temperature, max_tokens, seed: passed to the model (``seed`` where the provider
            supports it); ``seed`` also seeds each input's ``rng``.
        cache_dir: where answers are cached (``None``: ``<CODEEVAL_CACHE>/llm``).
        timeout_s: per request; retries: of a failed request, by litellm.
        cpu_s, memory_mb: limits of each generator call, in the sandbox.
        max_input_bytes: inputs larger than this (encoded) are dropped as ``flood``.
        mock_response: an answer litellm returns instead of calling a provider (tests and
            offline demos; part of the cache key).
    """

    model: str
    analyses: tuple[str, ...] = ANALYSES
    programs: int = 2
    inputs: int = 20
    temperature: float = 0.0
    max_tokens: int = 4096
    cache_dir: Path | None = None
    seed: int = 0
    timeout_s: float = 120.0
    retries: int = 2
    cpu_s: float = 2.0
    memory_mb: int = 1024
    max_input_bytes: int = 1 << 20
    mock_response: str | None = None

    def __post_init__(self) -> None:
        bad = [a for a in self.analyses if a not in ANALYSES]
        if not self.model.strip():
            raise InputError("--llm-model: a litellm model name is needed (e.g. "
                             "openai/gpt-4o-mini)")
        if bad or not self.analyses:
            raise InputError(f"LLM analyses must be among {', '.join(ANALYSES)}; got "
                             f"{', '.join(self.analyses) or 'none'}")
        for name in ("programs", "inputs", "max_tokens", "max_input_bytes", "memory_mb"):
            if getattr(self, name) < 1:
                raise InputError(f"LLM option {name} must be at least 1")
        if self.temperature < 0 or self.cpu_s <= 0 or self.timeout_s <= 0 or self.retries < 0:
            raise InputError("LLM options: temperature and retries must not be negative; "
                             "cpu_s and timeout_s must be positive")


@dataclass
class Usage:
    """What LLM generators cost and gave, for a problem or a whole run."""

    requests: int = 0
    cache_hits: int = 0
    llm_errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cost_unknown: int = 0
    programs: int = 0
    programs_failed: Counter[str] = field(default_factory=Counter)
    inputs: int = 0

    def add(self, other: Usage) -> None:
        """Add ``other``'s counts to these."""
        for name in ("requests", "cache_hits", "llm_errors", "prompt_tokens",
                     "completion_tokens", "cost_usd", "cost_unknown", "programs", "inputs"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.programs_failed.update(other.programs_failed)

    def to_json(self) -> dict[str, Any]:
        """The counts as JSON data; ``cost_usd`` is ``None`` when some request's price is
        unknown to litellm (``cost_unknown`` says how many)."""
        return {"requests": self.requests, "cache_hits": self.cache_hits,
                "llm_errors": self.llm_errors, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cost_usd": None if self.cost_unknown else round(self.cost_usd, 8),
                "cost_unknown": self.cost_unknown, "programs": self.programs,
                "programs_failed": dict(sorted(self.programs_failed.items())),
                "inputs": self.inputs}


@dataclass(frozen=True, slots=True)
class Reply:
    """A model's answer to one request, from the provider or the cache."""

    text: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    cached: bool
    finish_reason: str | None = None


class LLMError(Exception):
    """A request failed at the provider (its message is one line)."""


def cache_key(request: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a request (see the module docstring)."""
    return digest(request)


def program_id(code: str) -> str:
    """The short hash naming a generator program in provenance and reports."""
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def import_litellm() -> ModuleType:
    """litellm, imported with no network fetch at import and no banners printed.

    Raises:
        InputError: litellm is not installed.
    """
    config.prepare_litellm()
    try:
        litellm = importlib.import_module("litellm")
    except ImportError:
        raise InputError("LLM generators need litellm: pip install 'codeeval[llm]'") from None
    cast(Any, litellm).suppress_debug_info = True  # no "Provider List" banners on stdout
    return litellm


class LLMProposer:
    """The :data:`codeeval.synth.run.ExtraProposals` hook of the LLM path; thread-safe.

    Calling it with a problem returns the candidates of every program and the problem's
    LLM report; :meth:`totals` sums the usage of every problem so far.
    """

    def __init__(self, options: LLMOptions, backend: Backend, litellm: ModuleType,
                 cache_dir: Path) -> None:
        self.options = options
        self.backend = backend
        self.litellm = litellm
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._total = Usage()
        self._problems = 0

    def totals(self) -> dict[str, Any]:
        """Usage summed over every problem seen so far, with the number of problems."""
        with self._lock:
            return {"problems": self._problems, "model": self.options.model} \
                | self._total.to_json()

    def __call__(self, problem: Problem) -> tuple[list[Candidate], dict[str, Any]]:
        """Ask, run and account for every program of ``problem``: its candidates, and its
        report (programs, skipped analyses, usage).

        Provider errors, programs that fail and sandbox failures while running a program
        (kind ``infra``) are reported in the returned dict; nothing is raised for them.
        """
        o = self.options
        usage = Usage()
        report: dict[str, Any] = {"model": o.model, "programs": [], "skipped": {}}
        out: list[Candidate] = []
        seen: dict[str, str] = {}
        for analysis in o.analyses:
            if analysis == "differential" and not problem.known_wrong:
                report["skipped"][analysis] = "the problem has no known-wrong programs"
                continue
            for sample in range(o.programs):
                entry, got = self._one(problem, analysis, sample, usage, seen)
                report["programs"].append(entry)
                out.extend(got)
        usage.inputs = len(out)
        report["usage"] = usage.to_json()
        with self._lock:
            self._total.add(usage)
            self._problems += 1
        return out, report

    def _one(self, problem: Problem, analysis: str, sample: int, usage: Usage,
             seen: dict[str, str]) -> tuple[dict[str, Any], list[Candidate]]:
        o = self.options
        msgs, about = prompts.messages(problem, analysis, sample, inputs=o.inputs,
                                       max_bytes=o.max_input_bytes, cpu_s=o.cpu_s)
        entry: dict[str, Any] = {"analysis": analysis, "sample": sample} | about
        try:
            reply = self.ask(msgs, sample, usage)
        except LLMError as e:
            return entry | {"status": "llm_error", "error": str(e)}, []
        entry["cached"] = reply.cached
        code, where = prompts.extract_program(reply.text)
        if code is None:
            usage.programs_failed["no_program"] += 1
            return entry | {"status": "no_program", "error": where,
                            "finish_reason": reply.finish_reason}, []
        pid = program_id(code)
        entry |= {"program": pid, "found_in": where}
        if pid in seen:
            return entry | {"status": "duplicate", "same_as": seen[pid]}, []
        seen[pid] = f"{analysis}#{sample}"
        usage.programs += 1
        args, failures = self.run_program(problem, code)
        kinds = Counter(kind for _, kind, _ in failures)
        if failures:
            usage.programs_failed[failures[0][1]] += 1
        entry |= {"status": "failed" if not args else "partial" if failures else "ok",
                  "inputs": len(args), "failures": dict(kinds),
                  "errors": [{"index": i, "kind": k, "message": m}
                             for i, k, m in failures[:ERROR_EXAMPLES]]}
        prov = {"generator": f"llm:{analysis}", "model": o.model, "program": pid,
                "sample": sample, "seed": o.seed}
        return entry, [Candidate(a, prov | {"index": i}) for i, a in args]

    # -- asking ---------------------------------------------------------------------------

    def ask(self, messages: list[dict[str, str]], sample: int, usage: Usage) -> Reply:
        """The answer to ``messages`` (sample ``sample``): from the cache, else from the
        provider (then cached); counted in ``usage``.

        Raises:
            LLMError: the provider failed (anything litellm raised), with a one-line message.
        """
        o = self.options
        request: dict[str, Any] = {
            "v": CACHE_VERSION, "model": o.model, "messages": messages,
            "temperature": o.temperature, "max_tokens": o.max_tokens, "seed": o.seed,
            "sample": sample,
            "mock": None if o.mock_response is None else digest(o.mock_response)}
        key = cache_key(request)
        path = self.cache_dir / f"{key}.json"
        cached = _read_cache(path, key)
        if cached is not None:
            usage.cache_hits += 1
            return cached
        extra: dict[str, Any] = {}
        if o.mock_response is not None:
            extra["mock_response"] = o.mock_response
        usage.requests += 1
        try:
            response = self.litellm.completion(
                model=o.model, messages=messages, temperature=o.temperature,
                max_tokens=o.max_tokens, seed=o.seed, timeout=o.timeout_s,
                num_retries=o.retries, drop_params=True, **extra)
            reply = _reply(response)
        except Exception as e:  # litellm raises its own, openai's and httpx's errors
            usage.llm_errors += 1
            raise LLMError(_one_line(e)) from None
        cost = self._cost(response)
        reply = Reply(reply.text, reply.prompt_tokens, reply.completion_tokens, cost, False,
                      reply.finish_reason)
        usage.prompt_tokens += reply.prompt_tokens
        usage.completion_tokens += reply.completion_tokens
        if cost is None:
            usage.cost_unknown += 1
        else:
            usage.cost_usd += cost
        _write_cache(path, {"key": key, "request": request, "text": reply.text,
                            "finish_reason": reply.finish_reason,
                            "usage": {"prompt_tokens": reply.prompt_tokens,
                                      "completion_tokens": reply.completion_tokens},
                            "cost_usd": cost, "created": time.time()})
        return reply

    def _cost(self, response: Any) -> float | None:
        """litellm's price of a response, or ``None`` when it does not know the model."""
        for kwargs in ({}, {"model": self.options.model}):
            try:
                cost = self.litellm.completion_cost(completion_response=response, **kwargs)
            except Exception:  # ModelNotMappedError, ValueError, ...: an unknown price
                continue
            if isinstance(cost, int | float):
                return float(cost)
        return None

    # -- running --------------------------------------------------------------------------

    def run_program(self, problem: Problem, code: str
                    ) -> tuple[list[tuple[int, tuple[Any, ...]]], list[tuple[int, str, str]]]:
        """Run a generator program in the sandbox for every index.

        Returns:
            The good inputs as (index, arguments), where the arguments of a stdin/stdout
            problem's input are ``(stdin bytes,)``, and the failures as (index, kind,
            message), both in index order; a program that does not load fails at index -1.
        """
        o = self.options
        calls = [(o.seed, i, o.max_input_bytes) for i in range(o.inputs)]
        # run_inputs has the driver send each result before the next call starts, so
        # inputs made before a hang are kept and the hang is blamed on the right index.
        limits = [o.cpu_s] * len(calls)
        try:
            outcomes = run_inputs(self.backend, code + prompts.WRAPPER, prompts.ENTRY,
                                  calls, limits, memory_mb=o.memory_mb,
                                  max_restarts=RESTARTS, must_load=True)
        except NotLoaded as e:
            return [], [(-1, "load", str(e)[:300])]
        except SandboxError as e:
            return [], [(-1, "infra", str(e)[:300])]
        good: list[tuple[int, tuple[Any, ...]]] = []
        failures: list[tuple[int, str, str]] = []
        for i, outcome in enumerate(outcomes):
            if not outcome.returned:
                kind, message = _failure(outcome)
                failures.append((i, kind, message))
                continue
            args, wrong = _usable(problem, outcome.value, o.max_input_bytes)
            if wrong is not None:
                failures.append((i, *wrong))
            else:
                good.append((i, args))
        return good, failures


def proposer(options: LLMOptions, backend: Backend) -> LLMProposer:
    """The hook that adds LLM-written generators' inputs to ``codeeval synth``
    (:data:`codeeval.synth.run.ExtraProposals`), sharing one cache and one usage total.

    Raises:
        InputError: litellm is not installed, or the cache directory cannot be made.
    """
    litellm = import_litellm()
    cache_dir = options.cache_dir or Path(config.settings().cache) / "llm"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{cache_dir}: cannot create the LLM cache directory: {e}") from None
    return LLMProposer(options, backend, litellm, cache_dir)


def totals(hook: LLMProposer) -> dict[str, Any]:
    """Run-wide usage of a proposer (see :meth:`LLMProposer.totals`)."""
    return hook.totals()


# -- helpers ---------------------------------------------------------------------------------

def _reply(response: Any) -> Reply:
    choice = response.choices[0]
    text = choice.message.content
    usage = getattr(response, "usage", None)
    return Reply(text if isinstance(text, str) else None,
                 int(getattr(usage, "prompt_tokens", 0) or 0),
                 int(getattr(usage, "completion_tokens", 0) or 0), None, False,
                 str(choice.finish_reason) if choice.finish_reason else None)


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    name = type(e).__name__
    text = text if name in text else f"{name}: {text}" if text else name
    return text[:300]


def _usable(problem: Problem, value: Any, cap: int
            ) -> tuple[tuple[Any, ...], tuple[str, str] | None]:
    """A generator's return value as an input's arguments, or why it is not one."""
    if isinstance(problem, StdioProblem):
        data, wrong = prompts.stdin_bytes(value, cap)
        return ((data,) if data is not None else ()), wrong
    _, least, most = prompts.signature(problem)
    wrong = prompts.check_input(value, least, most, problem.entry_point, cap)
    return (() if wrong is not None else tuple(value)), wrong


def _failure(outcome: Outcome) -> tuple[str, str]:
    message = (outcome.error or "").strip()
    if not outcome.reached:
        return "not_reached", message
    if outcome.verdict is Verdict.RE and message.startswith(prompts.FLOOD + ":"):
        return "flood", message[len(prompts.FLOOD) + 1:].strip()
    kinds = {Verdict.RE: "raised", Verdict.TLE: "timeout", Verdict.MLE: "memory",
             Verdict.OLE: "output"}
    verdict = outcome.verdict or Verdict.RE
    return kinds.get(verdict, verdict.value.lower()), message[:300]


def _read_cache(path: Path, key: str) -> Reply | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    text = data.get("text")
    usage = data.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    cost = data.get("cost_usd")
    return Reply(text if isinstance(text, str) else None,
                 int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)),
                 float(cost) if isinstance(cost, int | float) else None, True,
                 data.get("finish_reason"))


def _write_cache(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically; a cache that cannot be written is skipped."""
    tmp = None
    try:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent,
                                         prefix=".tmp-", suffix=".json", delete=False) as f:
            tmp = f.name
            json.dump(data, f, indent=1, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
