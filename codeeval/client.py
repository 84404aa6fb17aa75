"""Client of the reward server (``codeeval serve``), sync and async; needs only ``httpx``.

::

    from codeeval.client import Client
    with Client("http://127.0.0.1:8080") as client:
        results = client.score([{"dataset": "humaneval+", "task_id": "HumanEval/0",
                                 "completion": "    return ..."}])
        rewards = [r.reward for r in results]        # None where the server failed

Items are the JSON objects of :mod:`codeeval.server.schemas`. ``score`` splits them into
batches of ``batch_size`` (the async client sends up to ``concurrency`` batches at once)
and returns one :class:`Result` per item, in order. What is retried, with exponential
backoff and jitter, up to ``retries`` times:

* a refused or dropped connection, a timeout, HTTP 429 and 503 (honouring
  ``Retry-After``) and other 5xx answers: the whole batch;
* items whose result carries a retryable error (the sandbox broke, the deadline passed):
  only those items.

An item still failing after the retries keeps its error and has ``reward is None``: the
caller must leave it out, never count it as 0. A malformed request (HTTP 400/422) raises
:class:`RequestRejected` at once; a server that stays unreachable raises
:class:`ServerUnavailable`. ``timeout_s`` bounds each HTTP call and is sent to the server
as the request's deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from codeeval.errors import CodeevalError

try:
    import httpx
except ImportError as e:  # pragma: no cover - depends on the installed extras
    raise ImportError("codeeval.client needs httpx: pip install 'codeeval[client]'") from e

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class ClientError(CodeevalError):
    """Root of the client's errors."""


class RequestRejected(ClientError):
    """The server refused the request as malformed (HTTP 4xx other than 429)."""


class ServerUnavailable(ClientError):
    """The server could not be reached, or kept answering retryable errors."""


@dataclass(frozen=True, slots=True)
class Result:
    """The server's result for one item (see ``ItemResult`` in the server's schemas)."""

    index: int
    reward: float | None
    verdict: str | None
    passed: int
    total: int
    suite: str | None
    first_failure: dict[str, Any] | None
    error: dict[str, Any] | None
    attempts: int
    raw: dict[str, Any] = field(repr=False)

    @property
    def ok(self) -> bool:
        """Whether the item was scored (``reward`` is set)."""
        return self.error is None and self.reward is not None

    @property
    def retryable(self) -> bool:
        """Whether the item failed through the server's fault."""
        return bool(self.error and self.error.get("retryable"))

    @classmethod
    def of(cls, raw: dict[str, Any], index: int) -> Result:
        """Build from one JSON result, renumbered to its place in the caller's list."""
        return cls(index, raw.get("reward"), raw.get("verdict"), int(raw.get("passed", 0)),
                   int(raw.get("total", 0)), raw.get("suite"), raw.get("first_failure"),
                   raw.get("error"), int(raw.get("attempts", 0)), raw | {"index": index})


@dataclass(frozen=True, slots=True)
class _Policy:
    retries: int
    backoff_s: float
    max_backoff_s: float

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        wait = min(self.max_backoff_s, self.backoff_s * 2.0 ** attempt)
        wait *= 0.5 + random.random() / 2  # jitter: clients that failed together spread out
        if retry_after is not None:
            with contextlib.suppress(ValueError):
                wait = max(wait, float(retry_after))
        return wait


def _payload(items: Sequence[Mapping[str, Any]], reward: str, deadline_s: float | None
             ) -> dict[str, Any]:
    body: dict[str, Any] = {"items": list(items), "reward": reward}
    if deadline_s is not None:
        body["deadline_s"] = deadline_s
    return body


def _check(response: httpx.Response) -> dict[str, Any] | None:
    """The JSON body of a 2xx answer; ``None`` for a retryable status.

    Raises:
        RequestRejected: any other status.
    """
    if response.status_code in _RETRY_STATUS:
        return None
    if response.status_code >= 400:
        raise RequestRejected(f"HTTP {response.status_code}: {response.text[:500]}")
    body: dict[str, Any] = response.json()
    return body


def _absorb(todo: list[int], body: dict[str, Any], results: list[Result | None]) -> list[int]:
    """Store the results of the items ``todo`` from ``body``; return those to retry."""
    again = []
    for i, raw in zip(todo, body["results"], strict=True):
        result = results[i] = Result.of(raw, i)
        if result.retryable:
            again.append(i)
    return again


class _Base:
    def __init__(self, url: str, *, timeout_s: float = 300.0, retries: int = 5,
                 backoff_s: float = 0.5, max_backoff_s: float = 30.0, batch_size: int = 64,
                 reward: str = "all") -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.batch_size = batch_size
        self.reward = reward
        self._policy = _Policy(retries, backoff_s, max_backoff_s)

    def _batches(self, items: Sequence[Mapping[str, Any]]) -> list[list[int]]:
        idx = list(range(len(items)))
        return [idx[i:i + self.batch_size] for i in range(0, len(idx), self.batch_size)]

    def _deadline(self) -> float:
        # Leave the server time to answer before this call's own timeout fires.
        return max(1.0, self.timeout_s - 2.0)


class Client(_Base):
    """Synchronous client. Use as a context manager, or call :meth:`close`."""

    def __init__(self, url: str, *, transport: httpx.BaseTransport | None = None,
                 **options: Any) -> None:
        super().__init__(url, **options)
        self._http = httpx.Client(timeout=self.timeout_s, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def health(self) -> dict[str, Any]:
        """``GET /healthz`` (ready or not).

        Raises:
            ServerUnavailable: the server cannot be reached.
        """
        try:
            body: dict[str, Any] = self._http.get(f"{self.url}/healthz").json()
            return body
        except (httpx.HTTPError, ValueError) as e:
            raise ServerUnavailable(f"{self.url}: {e}") from None

    def score(self, items: Sequence[Mapping[str, Any]], *, reward: str | None = None
              ) -> list[Result]:
        """Score ``items``; one result per item, in order.

        Raises:
            RequestRejected: the server refused a batch as malformed.
            ServerUnavailable: the server stayed unreachable or busy through the retries.
        """
        results: list[Result | None] = [None] * len(items)
        for batch in self._batches(items):
            self._score_batch(items, batch, reward or self.reward, results)
        return [r for r in results if r is not None]

    def _score_batch(self, items: Sequence[Mapping[str, Any]], batch: list[int], reward: str,
                     results: list[Result | None]) -> None:
        todo = batch
        for attempt in range(self._policy.retries + 1):
            body, retry_after = self._post(_payload([items[i] for i in todo], reward,
                                                    self._deadline()))
            if body is None:
                if attempt == self._policy.retries:
                    raise ServerUnavailable(f"{self.url}: no answer after {attempt + 1} tries")
                time.sleep(self._policy.delay(attempt, retry_after))
                continue
            todo = _absorb(todo, body, results)
            if not todo or attempt == self._policy.retries:
                return
            time.sleep(self._policy.delay(attempt))

    def _post(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        try:
            response = self._http.post(f"{self.url}/v1/score", json=body)
        except httpx.TransportError:
            return None, None
        return _check(response), response.headers.get("retry-after")

    def run_code(self, code: str, language: str = "python", **fields: Any) -> dict[str, Any]:
        """``POST /run_code`` (SandboxFusion's request fields); retried like :meth:`score`.

        Raises:
            RequestRejected: the request is malformed.
            ServerUnavailable: no answer through the retries.
        """
        body = {"code": code, "language": language, **fields}
        for attempt in range(self._policy.retries + 1):
            try:
                response = self._http.post(f"{self.url}/run_code", json=body)
                answer = _check(response)
                retry_after = response.headers.get("retry-after")
            except httpx.TransportError:
                answer, retry_after = None, None
            if answer is not None:
                return answer
            if attempt < self._policy.retries:
                time.sleep(self._policy.delay(attempt, retry_after))
        raise ServerUnavailable(f"{self.url}: no answer after {self._policy.retries + 1} tries")


class AsyncClient(_Base):
    """Asynchronous client; sends up to ``concurrency`` batches at once."""

    def __init__(self, url: str, *, concurrency: int = 8,
                 transport: httpx.AsyncBaseTransport | None = None, **options: Any) -> None:
        super().__init__(url, **options)
        self._sem = asyncio.Semaphore(max(1, concurrency))
        limits = httpx.Limits(max_connections=max(1, concurrency),
                              max_keepalive_connections=max(1, concurrency))
        self._http = httpx.AsyncClient(timeout=self.timeout_s, transport=transport,
                                       limits=limits)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def health(self) -> dict[str, Any]:
        """``GET /healthz`` (ready or not).

        Raises:
            ServerUnavailable: the server cannot be reached.
        """
        try:
            body: dict[str, Any] = (await self._http.get(f"{self.url}/healthz")).json()
            return body
        except (httpx.HTTPError, ValueError) as e:
            raise ServerUnavailable(f"{self.url}: {e}") from None

    async def score(self, items: Sequence[Mapping[str, Any]], *, reward: str | None = None
                    ) -> list[Result]:
        """Score ``items``; one result per item, in order.

        Raises:
            RequestRejected: the server refused a batch as malformed.
            ServerUnavailable: the server stayed unreachable or busy through the retries.
        """
        results: list[Result | None] = [None] * len(items)
        await asyncio.gather(*(self._score_batch(items, b, reward or self.reward, results)
                               for b in self._batches(items)))
        return [r for r in results if r is not None]

    async def _score_batch(self, items: Sequence[Mapping[str, Any]], batch: list[int],
                           reward: str, results: list[Result | None]) -> None:
        todo = batch
        for attempt in range(self._policy.retries + 1):
            async with self._sem:
                body, retry_after = await self._post(_payload([items[i] for i in todo],
                                                              reward, self._deadline()))
            if body is None:
                if attempt == self._policy.retries:
                    raise ServerUnavailable(f"{self.url}: no answer after {attempt + 1} tries")
                await asyncio.sleep(self._policy.delay(attempt, retry_after))
                continue
            todo = _absorb(todo, body, results)
            if not todo or attempt == self._policy.retries:
                return
            await asyncio.sleep(self._policy.delay(attempt))

    async def _post(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        try:
            response = await self._http.post(f"{self.url}/v1/score", json=body)
        except httpx.TransportError:
            return None, None
        return _check(response), response.headers.get("retry-after")
