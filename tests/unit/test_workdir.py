"""Copy-out refuses symlinks at every level; the slot pool hands out distinct uids."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codeeval.errors import SandboxCrashed
from codeeval.sandbox.namespace.slots import SlotPool
from codeeval.sandbox.workdir import Workdir


def test_collect_refuses_symlinks_and_special_files(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    (work / "ok.txt").write_text("fine")
    (work / "sub").mkdir()
    (work / "sub" / "deep.txt").write_text("deep")
    os.symlink(secret, work / "link.txt")
    os.symlink(tmp_path, work / "dirlink")
    os.mkfifo(work / "fifo")
    wd = Workdir(tmp_path, work, mounted=False)
    got = wd.collect(("ok.txt", "sub/deep.txt", "link.txt", "dirlink/secret.txt", "fifo",
                      "nothing", "sub"), max_bytes=1 << 20)
    assert got == {"ok.txt": b"fine", "sub/deep.txt": b"deep"}


def test_collect_caps_size(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 5000)
    assert Workdir(tmp_path, tmp_path, mounted=False).collect(("big",), 100) == {"big": b"x" * 100}


def test_slots_are_distinct_and_reusable(tmp_path: Path) -> None:
    pool = SlotPool(tmp_path, 70000, 3)
    a, b, c = pool.acquire(), pool.acquire(), pool.acquire()
    assert len({a.uid, b.uid, c.uid}) == 3
    assert all(70000 <= s.uid < 70003 for s in (a, b, c))
    other = SlotPool(tmp_path, 70000, 3)  # another supervisor sees them taken
    with pytest.raises(SandboxCrashed, match="busy"):
        other.acquire()
    pool.release(b)
    assert other.acquire().uid == b.uid


def test_slots_released_last_are_claimed_first(tmp_path: Path) -> None:
    """A pool claims the slot it released most recently (whose fork-server init is warm),
    unless another supervisor holds it meanwhile; the lock directory is made on first use,
    and again if it goes."""
    locks = tmp_path / "slots"
    pool = SlotPool(locks, 70000, 8)
    first = [pool.acquire() for _ in range(3)]
    assert locks.is_dir()
    pool.release(first[0])
    pool.release(first[2])
    assert pool.acquire().index == first[2].index
    assert pool.acquire().index == first[0].index
    again = pool.acquire()  # nothing released is left: the next free one round the range
    assert again.index not in {s.index for s in first}
    pool.release(again)
    other = SlotPool(locks, 70000, 8)
    held = other.acquire()  # the other supervisor's search finds it first
    assert held.index == again.index
    assert pool.acquire().index not in {s.index for s in (*first, again)}
    for f in locks.iterdir():
        f.unlink()
    locks.rmdir()
    fresh = SlotPool(locks, 70000, 8).acquire()
    assert 70000 <= fresh.uid < 70008
    assert locks.is_dir()


def test_run_ids_and_staleness() -> None:
    import subprocess
    import sys

    from codeeval.sandbox.runid import is_stale, new_run_id

    a, b = new_run_id(), new_run_id()
    assert a != b
    assert a.startswith(f"run-{os.getpid()}-")
    assert not is_stale(a)  # ours
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert is_stale(f"run-{dead}-0")
    assert not is_stale("run-1-0")  # init is alive
    assert not is_stale("etc")
    assert not is_stale("run-x-1")


def test_executables_are_written_under_the_spawn_lock(tmp_path: Path) -> None:
    """While an executable is open for writing no child may be started (a child forked
    meanwhile would hold it open and make running it fail with 'Text file busy');
    other files do not wait for the lock."""
    import threading

    from codeeval.model.run import FileSpec
    from codeeval.sandbox.workdir import SPAWN_LOCK

    wd = Workdir(tmp_path, tmp_path, mounted=False)
    uid, gid = os.geteuid(), os.getegid()
    with SPAWN_LOCK:
        wd.place({"data.txt": FileSpec(b"x")}, uid, gid)  # not blocked
        writer = threading.Thread(
            target=wd.place, args=({"main": FileSpec(b"\x7fELF", executable=True)}, uid, gid))
        writer.start()
        writer.join(0.3)
        assert writer.is_alive()  # waits for the lock
        assert not (tmp_path / "main").exists()
    writer.join(10)
    assert not writer.is_alive()
    assert (tmp_path / "main").read_bytes() == b"\x7fELF"
    assert os.stat(tmp_path / "main").st_mode & 0o111


def test_children_are_started_under_the_spawn_lock() -> None:
    import threading

    from codeeval.sandbox.workdir import SPAWN_LOCK, spawn

    started: list[int] = []

    def start() -> None:
        proc = spawn(["true"])
        started.append(proc.wait())

    with SPAWN_LOCK:
        starter = threading.Thread(target=start)
        starter.start()
        starter.join(0.3)
        assert starter.is_alive()  # waits for the lock
        assert started == []
    starter.join(10)
    assert started == [0]
