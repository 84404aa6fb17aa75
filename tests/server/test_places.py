"""The engine's places: a semaphore that serves its waiters strictly in turn."""

from __future__ import annotations

import threading
import time
from collections.abc import Sized

from codeeval.server.engine import _Places


def _wait_for_len(things: Sized, n: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while len(things) != n:
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_waiters_get_places_in_the_order_they_came_and_newcomers_do_not_jump_in() -> None:
    places = _Places(1)
    assert places.acquire(0)
    order: list[int] = []

    def waiter(n: int) -> None:
        assert places.acquire(10)
        order.append(n)

    threads = []
    for n in range(5):
        t = threading.Thread(target=waiter, args=(n,))
        t.start()
        threads.append(t)
        _wait_for_len(places._waiters, n + 1)
    for n in range(5):
        places.release()
        # The place went to the longest waiter: a newcomer finds none free.
        assert not places.acquire(0)
        _wait_for_len(order, n + 1)
    for t in threads:
        t.join()
    assert order == [0, 1, 2, 3, 4]
    places.release()
    assert places.acquire(0)  # the last place came back


def test_a_waiter_that_times_out_leaves_the_queue_without_a_place() -> None:
    places = _Places(1)
    assert places.acquire(0)
    started = time.monotonic()
    assert not places.acquire(0.05)
    assert time.monotonic() - started >= 0.05
    assert not places._waiters
    places.release()
    assert places.acquire(0)
    assert not places.acquire(0)
