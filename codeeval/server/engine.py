"""The reward server's engine: admission, a bounded queue, workers, deadlines, draining.

Everything here is independent of HTTP, so it is tested directly. Items of every request
share one pool of threads, each driving one sandboxed run at a time; ``workers`` of them
may start runs (a run waits on its fork, its pipes and the server's bookkeeping for much
of its life, so the server runs four per core: with two per core a loaded 2-core machine
stayed 40% idle). A run still going after ``long_run_s`` gives its place to the next item
and goes on, in one of as many threads again: a few programs that spin until their time
limit (TLE, a second or more of CPU each and seconds of wall time under load) would
otherwise hold most places for seconds while short items queued behind them.
Admission is by item: at most ``workers + max_queue`` items are admitted at once; a
request that would pass that bound is refused whole (:class:`QueueFull`, HTTP 429 with a
``Retry-After`` estimated from the recent completion rate), so a flood of clients gets a
fast, honest "later" instead of timeouts.

A request's deadline covers its items: an item still waiting when it passes is never
started, and one still running is answered as a ``deadline`` error at once (its run ends
at its own limits, then frees its worker). Sandbox failures are retried ``retries`` times
inside the server; if they persist, the item is an ``infra`` error marked retryable, never
a reward of 0. Closing the engine stops admitting, lets admitted items finish, then closes
the backend.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from codeeval import config
from codeeval.datasets.problem import Problem
from codeeval.errors import InputError, SandboxError
from codeeval.languages import get_language
from codeeval.model.verdict import Verdict
from codeeval.sandbox.base import Backend
from codeeval.score.items import (
    ItemOptions,
    ItemOutcome,
    Prepared,
    ProblemBank,
    ProblemUnavailable,
    inline_function_problem,
    inline_stdio_problem,
    score_item,
)
from codeeval.score.samples import program_of
from codeeval.server.metrics import Metrics
from codeeval.server.schemas import (
    InlineFunction,
    Item,
    ItemError,
    ItemResult,
    ScoreRequest,
    ScoreResponse,
    Timings,
)

T = TypeVar("T")
_log = logging.getLogger("codeeval.server")


class QueueFull(Exception):
    """The request would exceed the queue; retry after ``retry_after_s`` seconds."""

    def __init__(self, retry_after_s: int, depth: int) -> None:
        super().__init__(f"queue full ({depth} items admitted); retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class NotReady(Exception):
    """The server is still loading its problems, failed to start, or is draining."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How the engine runs."""

    workers: int = 4
    max_queue: int = 1024
    #: After this long a run no longer counts against ``workers`` (it runs on to its
    #: limits, in one of ``workers`` more threads); 0: every run counts until it ends.
    long_run_s: float = 0.25
    retries: int = 1
    default_deadline_s: float = 300.0
    cache_dir: Path = field(default_factory=lambda: Path(config.settings().cache))
    load_jobs: int = 4


#: Runs one item on some executor: (prepared problem, program, language, options) -> outcome.
ItemRunner = Callable[[Backend, Prepared, str, str, ItemOptions], ItemOutcome]


def local_runner(backend: Backend, prepared: Prepared, program: str, language: str,
                 options: ItemOptions) -> ItemOutcome:
    """Score the item with the engine's own backend, in this thread."""
    return score_item(backend, prepared, program, language=language, options=options)


@dataclass
class _Ticket:
    submitted: float
    expires: float
    cancelled: bool = False


@dataclass
class Engine:
    """Admission, workers and problem bank of one server."""

    datasets: Mapping[str, list[Problem]]
    open_backend: Callable[[], Backend]
    config: EngineConfig = EngineConfig()
    runner: ItemRunner = local_runner
    metrics: Metrics = field(default_factory=Metrics)
    state: str = "starting"
    error: str = ""
    backend: Backend | None = None

    def __post_init__(self) -> None:
        self.bank = ProblemBank(self.datasets)
        # Twice the threads: the second half serves only runs that outlived long_run_s.
        threads = self.config.workers * (2 if self.config.long_run_s > 0 else 1)
        self._pool = ThreadPoolExecutor(max_workers=threads,
                                        thread_name_prefix="codeeval-worker")
        self._places = _Places(self.config.workers)
        self._holders: dict[int, float] = {}  # run number -> its start, while it holds a place
        self._runs = itertools.count()
        self._watching = False
        self._lock = threading.Lock()
        self._holding = threading.Condition(self._lock)  # the first place holder came
        self._admitted = 0
        self._waiting = 0
        self._running = 0
        self._rate = 0.0  # items per second, smoothed
        self._last_done = time.monotonic()
        self._idle = threading.Condition(self._lock)
        self.capacity = self.config.workers + self.config.max_queue
        m = self.metrics
        m.capacity.set(self.capacity)
        m.watch("codeeval_sandbox_pool", "The sandbox backend's pool, by state.", "state",
                lambda: self.backend.pool_state() if self.backend is not None else {})
        m.watch("codeeval_problems", "Problems loaded, by state.", "state",
                lambda: {"ready": len(self.bank.prepared), "failed": len(self.bank.failed)})

    # ------------------------------------------------------------------ life cycle
    def start(self, *, block: bool = False) -> None:
        """Open the backend and load every problem's references, in a thread (or here with
        ``block``); :attr:`state` becomes ``ready``, or ``failed`` with :attr:`error`."""
        if block:
            self._load()
        else:
            threading.Thread(target=self._load, name="codeeval-load", daemon=True).start()

    def _load(self) -> None:
        try:
            self.state = "loading"
            self.backend = self.open_backend()
            self.bank.load(self.backend, self.config.cache_dir, jobs=self.config.load_jobs)
            self.state = "ready"
        except Exception as e:  # surfaced by /healthz and every request, never swallowed
            self.error = f"{type(e).__name__}: {e}"
            self.state = "failed"

    def close(self, timeout_s: float | None = None) -> None:
        """Stop admitting, wait (up to ``timeout_s``) for admitted items, close the backend."""
        with self._lock:
            if self.state != "closed":
                self.state = "draining"
            deadline = None if timeout_s is None else time.monotonic() + timeout_s
            while self._admitted:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._idle.wait(left)
        self._pool.shutdown(wait=timeout_s is None, cancel_futures=True)
        if self.backend is not None:
            self.backend.close()
        with self._lock:
            self.state = "closed"
            self._holding.notify()  # the long-run watcher ends

    def health(self) -> dict[str, Any]:
        """What ``/healthz`` reports."""
        with self._lock:
            waiting, running = self._waiting, self._running
        report: dict[str, Any] = {
            "status": self.state, "workers": self.config.workers, "capacity": self.capacity,
            "queued": waiting, "running": running,
            "problems": {"ready": len(self.bank.prepared), "failed": len(self.bank.failed)},
            "datasets": sorted(self.datasets)}
        if self.backend is not None:
            report["backend"] = self.backend.describe()
        describe = getattr(self.runner, "describe", None)
        report["executor"] = describe() if callable(describe) else {"executor": "local"}
        if self.error:
            report["error"] = self.error
        return report

    # ------------------------------------------------------------------ admission
    def _admit(self, n: int) -> None:
        if self.state != "ready":
            raise NotReady(self.error or f"the server is {self.state}")
        with self._lock:
            if self._admitted + n > self.capacity:
                backlog = self._admitted + n - self.config.workers
                retry = max(1, math.ceil(backlog / self._rate)) if self._rate > 0 else 1
                self.metrics.rejected.inc()
                raise QueueFull(min(retry, 60), self._admitted)
            self._admitted += n
            self._waiting += n
            self.metrics.queue_depth.set(self._waiting)

    def _started(self) -> None:
        with self._lock:
            self._waiting -= 1
            self._running += 1
            self.metrics.queue_depth.set(self._waiting)
            self.metrics.running.set(self._running)

    def _finished(self, ran: bool) -> None:
        with self._lock:
            if ran:
                self._running -= 1
            else:
                self._waiting -= 1
            self._admitted -= 1
            now = time.monotonic()
            gap = max(now - self._last_done, 1e-3)
            self._last_done = now
            # Exponentially smoothed completions per second (about the last 20 items).
            self._rate = 0.95 * self._rate + 0.05 / gap if self._rate else 1.0 / gap
            self.metrics.queue_depth.set(self._waiting)
            self.metrics.running.set(self._running)
            if not self._admitted:
                self._idle.notify_all()

    # ------------------------------------------------------------------ scoring
    async def score(self, request: ScoreRequest) -> ScoreResponse:
        """Score every item of ``request``.

        Raises:
            QueueFull: the items do not fit in the queue now (nothing was started).
            NotReady: the server is loading, failed to load, or is draining.
        """
        began = time.monotonic()
        self._admit(len(request.items))
        deadline_s = request.deadline_s or self.config.default_deadline_s
        ticket = _Ticket(began, began + deadline_s)
        loop = asyncio.get_running_loop()
        futures = [loop.run_in_executor(self._pool, self._work, i, item, request.reward,
                                        ticket)
                   for i, item in enumerate(request.items)]
        done, pending = await asyncio.wait(futures, timeout=max(0.0, ticket.expires
                                                                  - time.monotonic()))
        ticket.cancelled = True
        results = []
        for i, fut in enumerate(futures):
            result = fut.result() if fut in done else None
            if result is None:
                now = time.monotonic()
                result = _error(i, "deadline", f"not done within the deadline of {deadline_s:g} s",
                                True, Timings(queued_s=round(now - began, 4), run_s=0.0,
                                              total_s=round(now - began, 4)))
                self.metrics.item_errors.labels("deadline").inc()
            results.append(result)
        del pending  # still-running items finish in their worker and are discarded
        return ScoreResponse(results=results, elapsed_s=round(time.monotonic() - began, 4))

    async def call(self, fn: Callable[[Backend], T]) -> T:
        """Run ``fn(backend)`` on a worker, admitted like one item (for ``/run_code``).

        Raises:
            QueueFull, NotReady: as for :meth:`score`; whatever ``fn`` raises.
        """
        self._admit(1)
        ran = False

        def work() -> T:
            nonlocal ran
            self._started()
            ran = True
            assert self.backend is not None
            return fn(self.backend)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work)
        finally:
            self._finished(ran)

    def _work(self, index: int, item: Item, reward: str, ticket: _Ticket) -> ItemResult | None:
        left = ticket.expires - time.monotonic()
        placed = not ticket.cancelled and left > 0 and self._places.acquire(left)
        if not placed or ticket.cancelled:
            if placed:
                self._places.release()
            self._finished(ran=False)
            return None
        self._started()
        start = time.monotonic()
        run = next(self._runs)
        with self._lock:
            if not self._holders:
                self._holding.notify()
            self._holders[run] = start
            if not self._watching and self.config.long_run_s > 0:
                self._watching = True
                threading.Thread(target=self._free_long_runs, name="codeeval-long-runs",
                                 daemon=True).start()
        queued = start - ticket.submitted
        self.metrics.item_seconds.labels("queued").observe(queued)
        try:
            return self._score(index, item, reward, ticket, queued, start)
        finally:
            with self._lock:
                held = self._holders.pop(run, None) is not None
            if held:
                self._places.release()
            self.metrics.item_seconds.labels("run").observe(time.monotonic() - start)
            self._finished(ran=True)

    def _free_long_runs(self) -> None:
        """Give back the place of each run as it turns ``long_run_s`` old (sleeping until
        the oldest holder does, or until there is one), until the engine is closed."""
        limit = self.config.long_run_s
        with self._lock:
            while self.state != "closed":
                if not self._holders:
                    self._holding.wait()
                    continue
                now = time.monotonic()
                age = now - min(self._holders.values())  # at most ``workers`` of them
                if age < limit:
                    self._holding.wait(limit - age)
                    continue
                for run in [r for r, start in self._holders.items() if now - start >= limit]:
                    del self._holders[run]
                    self._places.release()  # takes only the places' own lock
                    self.metrics.long_runs.inc()

    def _score(self, index: int, item: Item, reward: str, ticket: _Ticket, queued: float,
               start: float) -> ItemResult:
        def timings() -> Timings:
            now = time.monotonic()
            return Timings(queued_s=round(queued, 4), run_s=round(now - start, 4),
                           total_s=round(now - ticket.submitted, 4))

        assert self.backend is not None
        try:
            prepared = self._prepared(item)
            language = get_language(item.language).name
            field_name, text = item.candidate()
            program, extraction = program_of(prepared.problem, field_name, text, language)
            options = ItemOptions(suite=item.suite, reward=reward,
                                  time_floor_s=item.limits.time_floor_s,
                                  time_factor=item.limits.time_factor,
                                  memory_mb=item.limits.memory_mb, retries=self.config.retries)
            outcome = self.runner(self.backend, prepared, program, language, options)
        except ProblemUnavailable as e:
            self.metrics.item_errors.labels("unavailable").inc()
            return _error(index, "unavailable", str(e), False, timings())
        except InputError as e:
            self.metrics.item_errors.labels("bad_item").inc()
            return _error(index, "bad_item", str(e), False, timings())
        except SandboxError as e:  # an inline problem's reference could not run
            self.metrics.item_errors.labels("infra").inc()
            return _error(index, "infra", str(e)[:500], True, timings())
        except Exception as e:  # a bug of ours: the item's error, retryable, and logged
            _log.exception("scoring item %d failed", index)
            self.metrics.item_errors.labels("infra").inc()
            return _error(index, "infra", f"internal error: {type(e).__name__}: {e}"[:500],
                          True, timings())
        self.metrics.items.labels(outcome.verdict.value).inc()
        error = None
        if outcome.verdict is Verdict.SE:
            self.metrics.item_errors.labels("infra").inc()
            error = ItemError(kind="infra", message=outcome.error or "sandbox failure",
                              retryable=True)
        return ItemResult(index=index, reward=outcome.reward, verdict=outcome.verdict.value,
                          passed=outcome.passed, total=outcome.total, suite=outcome.suite,
                          first_failure=outcome.first_failure, attempts=outcome.attempts,
                          timings=timings(), extraction=extraction, error=error)

    def _prepared(self, item: Item) -> Prepared:
        if item.task_id is not None:
            return self.bank.get(item.dataset, item.task_id)
        spec = item.problem
        assert spec is not None
        assert self.backend is not None
        if isinstance(spec, InlineFunction):
            fproblem, expected = inline_function_problem(
                spec.entry_point, spec.inputs, outputs=spec.outputs, reference=spec.reference,
                prompt=spec.prompt, atol=spec.atol)
            return self.bank.inline(self.backend, fproblem, expected)
        if spec.reference is None and any(t.stdout is None for t in spec.tests):
            raise InputError("every inline stdio test needs 'stdout' unless a 'reference' "
                             "is given")
        sproblem, expected = inline_stdio_problem(
            [t.stdin for t in spec.tests],
            stdouts=None if spec.reference is not None else [t.stdout or "" for t in spec.tests],
            reference=spec.reference, reference_language=spec.reference_language,
            checker=spec.checker)
        return self.bank.inline(self.backend, sproblem, expected)


class _Places:
    """A semaphore that serves its waiters in the order they came: a released place goes
    to the longest waiter directly. (``threading.Semaphore`` lets a newcomer take a place
    before the waiter it woke, which then waits again at the back: under load, an item
    waited seconds that way while others took a third of a second.)"""

    def __init__(self, count: int) -> None:
        self._free = count
        self._waiters: deque[threading.Event] = deque()
        self._lock = threading.Lock()

    def acquire(self, timeout: float) -> bool:
        """Take a place, waiting at most ``timeout`` seconds; whether one was taken."""
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return True
            granted = threading.Event()
            self._waiters.append(granted)
        if granted.wait(timeout):
            return True
        with self._lock:
            if granted.is_set():  # handed over just as the wait ran out
                return True
            self._waiters.remove(granted)
            return False

    def release(self) -> None:
        """Give a place back: to the longest waiter, if any."""
        with self._lock:
            if self._waiters:
                self._waiters.popleft().set()
            else:
                self._free += 1


def _error(index: int, kind: str, message: str, retryable: bool, timings: Timings
           ) -> ItemResult:
    return ItemResult(index=index, reward=None, verdict=None, timings=timings,
                      error=ItemError(kind=kind, message=message,  # type: ignore[arg-type]
                                      retryable=retryable))
