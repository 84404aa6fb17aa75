"""Fixtures of the server tests: a real ``codeeval serve`` process on a loopback port."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from codeeval import config

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS = ROOT / "problems"


@dataclass
class Server:
    """A running ``codeeval serve``."""

    proc: subprocess.Popen[str]
    url: str

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def post(self, path: str, body: object, timeout: float = 120) -> tuple[int, dict[str, str],
                                                                         object]:
        req = urllib.request.Request(f"{self.url}{path}", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, dict(r.headers), json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), json.loads(e.read() or b"null")

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def start_server(*args: str) -> Server:
    """Start ``codeeval serve --port 0 ARGS`` and wait until ``/healthz`` says ready."""
    proc = subprocess.Popen([sys.executable, "-m", "codeeval", "serve", "--port", "0", *args],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            cwd=ROOT)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    found = re.search(r"serving on (http://\S+)", line)
    if not found:
        proc.kill()
        rest = proc.stderr.read()
        proc.wait()
        raise AssertionError(f"the server did not start: {line}{rest}")
    server = Server(proc, found.group(1))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            code, body = server.get("/healthz")
        except urllib.error.URLError:  # bound, not yet listening
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
            continue
        if code == 200:
            return server
        assert json.loads(body)["status"] in ("starting", "loading"), body
        time.sleep(0.1)
    server.stop()
    raise AssertionError("the server did not become ready")


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start servers; every one is stopped (SIGTERM) at the end and must exit 0."""
    started: list[Server] = []

    def make(*args: str) -> Server:
        server = start_server(*args)
        started.append(server)
        return server

    yield make
    for server in started:
        assert server.stop() == 0
        assert server.proc.stderr is not None
        server.proc.stderr.close()
        assert server_traces(server.proc.pid) == []


def server_traces(pid: int) -> list[str]:
    """What the server with ``pid`` left behind: processes in its runs' cgroups, its runs'
    scratch directories and cgroups (run ids carry the supervisor's pid)."""
    tag = f"run-{pid}-"
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if tag in Path(f"/proc/{entry}/cgroup").read_text():
                    found.append(f"process {entry}")
    scratch = Path(config.settings().tmpdir)
    found += [f"dir {p}" for p in glob.glob(f"{scratch}/codeeval-*/{tag}*")]
    found += [f"cgroup {p}" for p in glob.glob(f"/sys/fs/cgroup/**/{tag}*", recursive=True)]
    return found
