"""codeeval.client against a real server: sync and async, batching, retries, errors."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import pytest

from codeeval.client import AsyncClient, Client, RequestRejected, ServerUnavailable
from tests.server.conftest import PROBLEMS, Server
from tests.server.test_server import RIGHT, TWO_SUM, sleeper

pytestmark = pytest.mark.slow

WRONG = "def two_sum(nums, target):\n    return (0, 1)\n"


def test_sync_client_batches_and_keeps_order(serve: Any) -> None:
    server: Server = serve("--dataset", str(PROBLEMS))
    items = [{"task_id": TWO_SUM, "solution": RIGHT if i % 3 else WRONG, "suite": "base"}
             for i in range(10)]
    with Client(server.url, batch_size=3) as client:
        assert client.health()["status"] == "ready"
        results = client.score(items)
    assert [r.index for r in results] == list(range(10))
    assert [r.reward for r in results] == [0.0 if i % 3 == 0 else 1.0 for i in range(10)]
    assert all(r.ok for r in results)
    assert results[0].verdict == "WA"


def test_async_client(serve: Any) -> None:
    server: Server = serve("--dataset", str(PROBLEMS))
    items = [{"task_id": TWO_SUM, "solution": RIGHT}, {"task_id": "native/nope",
                                                       "solution": RIGHT}]

    async def go() -> list[Any]:
        async with AsyncClient(server.url, batch_size=1, concurrency=2) as client:
            return await client.score(items)

    ok, bad = asyncio.run(go())
    assert ok.reward == 1.0
    assert bad.reward is None
    assert not bad.retryable
    assert bad.error is not None
    assert bad.error["kind"] == "bad_item"


def test_client_retries_429_until_there_is_room(serve: Any) -> None:
    server: Server = serve("--dataset", str(PROBLEMS), "--workers", "1", "--max-queue", "0")
    slow = {"task_id": TWO_SUM, "solution": sleeper(0.5), "suite": "base",
            "limits": {"time_floor_s": 2}}
    out: list[Any] = []

    def one() -> None:
        with Client(server.url, backoff_s=0.1, retries=20) as client:
            out.extend(client.score([slow]))

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.reward for r in out] == [1.0, 1.0, 1.0]
    _, metrics = server.get("/metrics")
    rejected = next(line for line in metrics.splitlines()
                    if line.startswith("codeeval_rejected_total"))
    assert float(rejected.split()[1]) >= 1  # some were refused, and retried


def test_client_errors() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Client(f"http://127.0.0.1:{port}", retries=2, backoff_s=0.01) as client, \
            pytest.raises(ServerUnavailable):
        client.score([{"task_id": TWO_SUM, "solution": RIGHT}])


def test_malformed_items_raise_request_rejected(serve: Any) -> None:
    server: Server = serve("--dataset", str(PROBLEMS))
    with Client(server.url) as client, pytest.raises(RequestRejected, match="422"):
        client.score([{"task_id": TWO_SUM}])
