"""The long-lived sandboxed process and its structured JSON channel."""

from __future__ import annotations

import os
import textwrap
import uuid

import pytest

from codeeval.languages.registry import PYTHON
from codeeval.model.run import FileSpec, Job, Limits, RunStatus
from codeeval.sandbox import Backend, ReplyKind, SandboxProcess
from tests.sandbox.conftest import TOKEN_VAR, Runner

pytestmark = pytest.mark.conformance

DRIVER = textwrap.dedent("""
    import json, os, sys, time
    r, w = map(int, os.environ["CODEEVAL_CHANNEL"].split(","))
    inp = os.fdopen(r, "rb")
    out = os.fdopen(w, "wb", buffering=0)
    def send(obj):
        out.write((json.dumps(obj) + "\\n").encode())
    for line in inp:
        msg = json.loads(line)
        op = msg["op"]
        if op == "square":
            send({"result": msg["x"] ** 2})
        elif op == "echo":
            send({"result": msg["data"]})
        elif op == "noise":
            print("not a channel message", flush=True)
            send({"result": "quiet"})
        elif op == "loop":
            while True:
                pass
        elif op == "sleep":
            time.sleep(60)
        elif op == "garbage":
            out.write(b"this is not json\\n")
        elif op == "huge":
            out.write(b"[" + b"1," * (msg["n"] // 2))
        elif op == "close":
            out.close()
            time.sleep(0.5)
            sys.exit(0)
        elif op == "exit":
            os._exit(msg["code"])
""")


class Session:
    def __init__(self, backend: Backend, runner: Runner) -> None:
        self.backend = backend
        self.runner = runner
        self.token = uuid.uuid4().hex
        self.fds = set(os.listdir("/proc/self/fd"))

    def start(self, **limits: object) -> SandboxProcess:
        lim = {"time_s": 5.0, "memory_mb": 256}
        lim.update(limits)  # type: ignore[arg-type]
        job = Job(command=PYTHON.substitute(PYTHON.run),
                  files={PYTHON.source_name: FileSpec(DRIVER.encode())},
                  env={TOKEN_VAR: self.token}, limits=Limits(**lim),  # type: ignore[arg-type]
                  channel=True, runtime_paths=PYTHON.runtime_paths())
        return self.backend.start(job)

    def check(self) -> None:
        self.runner.check_leaks(self.token, self.fds)
        assert not self.runner.leaks, self.runner.leaks


@pytest.fixture
def session(runner: Runner) -> Session:
    return Session(runner.backend, runner)


def test_many_calls_in_one_process(session: Session) -> None:
    with session.start() as p:
        for x in range(200):
            assert p.send({"op": "square", "x": x})
            reply = p.receive(timeout_s=5)
            assert reply.kind is ReplyKind.MESSAGE, reply
            assert reply.value == {"result": x * x}
        result = p.finish()
    assert result.status is RunStatus.OK, result
    session.check()


def test_program_stdout_does_not_mix_with_channel(session: Session) -> None:
    with session.start() as p:
        p.send({"op": "noise"})
        assert p.receive(timeout_s=5).value == {"result": "quiet"}
        result = p.finish()
    assert result.stdout == b"not a channel message\n"
    session.check()


def test_large_messages_both_ways(session: Session) -> None:
    data = "y" * (5 << 20)
    with session.start() as p:
        p.send({"op": "echo", "data": data})
        reply = p.receive(timeout_s=10)
        assert reply.kind is ReplyKind.MESSAGE
        assert reply.value == {"result": data}
        p.finish()
    session.check()


def test_per_call_wall_timeout_kills_and_is_tle(session: Session) -> None:
    with session.start() as p:
        p.send({"op": "square", "x": 3})
        assert p.receive(timeout_s=5).value == {"result": 9}
        p.send({"op": "sleep"})
        reply = p.receive(timeout_s=0.3)
        assert reply.kind is ReplyKind.TIMEOUT
        assert 0.3 <= reply.wall_time_s < 2.0
        assert not p.send({"op": "square", "x": 1})
        result = p.finish()
    assert result.status is RunStatus.TLE
    session.check()


def test_per_call_cpu_budget(session: Session) -> None:
    with session.start() as p:
        p.send({"op": "loop"})
        reply = p.receive(timeout_s=10, cpu_time_s=0.3)
        assert reply.kind is ReplyKind.TIMEOUT
        assert reply.detail == "cpu"
        assert reply.cpu_time_s >= 0.3
        result = p.finish()
    assert result.status is RunStatus.TLE
    session.check()


def test_run_wide_time_limit_applies_to_sessions(session: Session) -> None:
    with session.start(time_s=0.5) as p:
        p.send({"op": "loop"})
        reply = p.receive()
        assert reply.kind is ReplyKind.LIMIT
        result = p.finish()
    assert result.status is RunStatus.TLE
    session.check()


def test_garbage_on_channel_is_malformed_and_conversation_goes_on(session: Session) -> None:
    with session.start() as p:
        p.send({"op": "garbage"})
        assert p.receive(timeout_s=5).kind is ReplyKind.MALFORMED
        p.send({"op": "square", "x": 4})
        assert p.receive(timeout_s=5).value == {"result": 16}
        p.finish()
    session.check()


def test_oversized_message_is_refused(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("codeeval.sandbox.process.MAX_MESSAGE_BYTES", 1 << 20)
    with session.start() as p:
        p.send({"op": "huge", "n": 8 << 20})
        assert p.receive(timeout_s=5).kind is ReplyKind.OVERSIZE
        p.finish()
    session.check()


def test_program_exit_mid_conversation(session: Session) -> None:
    with session.start() as p:
        p.send({"op": "exit", "code": 7})
        assert p.receive(timeout_s=5).kind in (ReplyKind.EXITED, ReplyKind.CLOSED)
        result = p.finish()
    assert result.status is RunStatus.RE
    assert result.exit_code == 7
    session.check()


def test_program_closing_channel(session: Session) -> None:
    with session.start() as p:
        p.send({"op": "close"})
        assert p.receive(timeout_s=5).kind is ReplyKind.CLOSED
        result = p.finish()
    assert result.status is RunStatus.OK
    session.check()


def test_leaving_the_block_kills_and_cleans_up(session: Session) -> None:
    with session.start() as p:
        p.send({"op": "sleep"})
    assert not p.running
    session.check()


def test_finish_without_channel_use(session: Session) -> None:
    with session.start() as p:
        result = p.finish()
    assert result.status is RunStatus.OK  # EOF on the channel ends the driver's loop
    session.check()


def test_send_after_the_program_ended_returns_false(session: Session) -> None:
    with session.start() as p:
        p.send({"op": "exit", "code": 0})
        assert p.receive(timeout_s=5).kind in (ReplyKind.EXITED, ReplyKind.CLOSED)
        assert p.finish().status is RunStatus.OK
        assert p.send({"op": "square", "x": 2}) is False
    session.check()


def test_send_without_channel_is_a_sandbox_error(runner: Runner) -> None:
    from codeeval.errors import SandboxCrashed

    job = Job(command=PYTHON.substitute(PYTHON.run), files={"main.py": FileSpec(b"pass")},
              limits=Limits(time_s=2), runtime_paths=PYTHON.runtime_paths())
    with runner.backend.start(job) as p:
        with pytest.raises(SandboxCrashed, match="without a channel"):
            p.send({"x": 1})
        p.finish()
