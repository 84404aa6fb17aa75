"""The pipes between the supervisor and one sandboxed process tree."""

from __future__ import annotations

import contextlib
import os

from codeeval.model.run import Limits
from codeeval.sandbox.process import CHANNEL_ENV, ProcessTree, SandboxProcess


class Pipes:
    """The pipes between the supervisor and one process tree: stdio, and the channel if asked.

    The supervisor keeps ``stdin_w``, ``stdout_r``, ``stderr_r`` (and ``chan_to``,
    ``chan_from``); the child's ends go to the process (:attr:`child_stdio`, and
    :attr:`child_pass_fds` whose numbers :attr:`env` announces in ``CODEEVAL_CHANNEL``) and
    are closed here with :meth:`close_child_ends` once it has started.
    """

    def __init__(self, channel: bool) -> None:
        made: list[int] = []

        def pipe() -> tuple[int, int]:
            r, w = os.pipe2(os.O_CLOEXEC)
            made.extend((r, w))
            return r, w

        try:
            self.stdin_r, self.stdin_w = pipe()
            self.stdout_r, self.stdout_w = pipe()
            self.stderr_r, self.stderr_w = pipe()
            self.chan_to: int | None = None
            self.chan_from: int | None = None
            self._child_chan: tuple[int, int] | None = None
            if channel:
                in_r, self.chan_to = pipe()
                self.chan_from, out_w = pipe()
                self._child_chan = (in_r, out_w)
        except OSError:
            for fd in made:
                os.close(fd)
            raise
        self._child_open = True

    @property
    def child_stdio(self) -> tuple[int, int, int]:
        """The child's stdin, stdout and stderr."""
        return self.stdin_r, self.stdout_w, self.stderr_w

    @property
    def child_pass_fds(self) -> list[int]:
        """Further fds the child must inherit (the channel's ends)."""
        return list(self._child_chan) if self._child_chan else []

    @property
    def env(self) -> dict[str, str]:
        """The environment entry announcing the channel, if there is one."""
        return {CHANNEL_ENV: f"{self._child_chan[0]},{self._child_chan[1]}"} \
            if self._child_chan else {}

    def ours(self) -> list[int]:
        """The supervisor's ends."""
        fds = [self.stdin_w, self.stdout_r, self.stderr_r]
        return fds + [fd for fd in (self.chan_to, self.chan_from) if fd is not None]

    def close_child_ends(self) -> None:
        """Close the child's ends in the supervisor (once the child holds them). Idempotent."""
        if self._child_open:
            self._child_open = False
            for fd in (*self.child_stdio, *self.child_pass_fds):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def close_all(self) -> None:
        """Close every end still open here (for a process that will never run)."""
        self.close_child_ends()
        for fd in self.ours():
            with contextlib.suppress(OSError):
                os.close(fd)

    def supervise(self, tree: ProcessTree, *, limits: Limits, stdin_data: bytes,
                  outputs: tuple[str, ...]) -> SandboxProcess:
        """Hand the supervisor's ends to a :class:`SandboxProcess` for ``tree``."""
        self.close_child_ends()
        return SandboxProcess(tree, limits=limits, stdin_data=stdin_data, stdin_fd=self.stdin_w,
                              stdout_fd=self.stdout_r, stderr_fd=self.stderr_r,
                              channel_to=self.chan_to, channel_from=self.chan_from,
                              outputs=outputs)


def memfd_with(data: bytes) -> int:
    """A memfd holding ``data``, positioned at its start."""
    fd = os.memfd_create("codeeval-job", os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd
