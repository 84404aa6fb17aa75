"""The local backend: a plain subprocess with rlimits. For trusted code only.

It isolates nothing: the program sees the host's files, network and environment-free but
otherwise ordinary process context, runs as the caller's user, and a program that calls
``setsid`` can outlive the run. It exists for debugging and for hosts where no sandbox is
possible, and refuses to be built unless the caller explicitly chose it
(``--backend local``, or ``CODEEVAL_BACKEND=local``), so untrusted code never lands here by
accident or fallback.

Limits: rlimits set with ``prlimit`` (a loose address-space backstop, CPU, open files, file
size, stack, and processes when not root) and the supervisor's CPU, wall and memory
checks, which sample the process group in ``/proc`` (:mod:`codeeval.sandbox.procfs`). The
tree is killed by process group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from codeeval import config
from codeeval.errors import BackendUnavailable, SandboxCrashed, UnsafeBackendRefused
from codeeval.model.run import Job
from codeeval.sandbox import workdir
from codeeval.sandbox.base import Backend, register_backend
from codeeval.sandbox.pipes import Pipes
from codeeval.sandbox.process import ProcessTree, SandboxProcess
from codeeval.sandbox.procfs import TreeMeter
from codeeval.sandbox.rlimits import address_space_limit, prlimit_options, rlimits, thread_env


@register_backend("local")
class LocalBackend(Backend):
    """Unisolated subprocess runner; see the module docstring before using it."""

    name = "local"
    isolates = False

    def __init__(self, settings: config.Settings | None = None, *, trusted: bool = False) -> None:
        """Build the backend.

        Args:
            settings: process settings (default: from the environment).
            trusted: must be ``True``: the caller states that the code it will run is trusted.

        Raises:
            UnsafeBackendRefused: ``trusted`` was not set.
            BackendUnavailable: ``prlimit`` (util-linux) is missing.
        """
        if not trusted:
            raise UnsafeBackendRefused(
                "the local backend runs code on the host without any isolation; choose it "
                "explicitly (--backend local or CODEEVAL_BACKEND=local) and only for trusted code")
        s = settings or config.settings()
        prlimit = shutil.which("prlimit")
        if not prlimit:
            raise BackendUnavailable("prlimit is missing: install the Debian package 'util-linux'")
        self._prlimit = prlimit
        self._scratch = Path(s.tmpdir) / f"codeeval-{os.geteuid()}-local"

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset() if os.geteuid() == 0 else frozenset({"pids_limit"})

    def describe(self) -> str:
        return "local (NO ISOLATION: trusted code only)"

    def start(self, job: Job) -> SandboxProcess:
        self._scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="run-", dir=self._scratch))
        tree = _LocalTree(work)
        pipes: Pipes | None = None
        try:
            workdir.Workdir(work, work, mounted=False).place(job.files, os.getuid(), os.getgid())
            pipes = Pipes(job.channel)
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                   "HOME": str(work), "TMPDIR": str(work), **thread_env(job.limits), **job.env,
                   **pipes.env}
            lim = job.limits
            address_space = (address_space_limit(lim, cgroup=False)
                             if job.limit_address_space else None)
            argv = [self._prlimit,
                    *prlimit_options(rlimits(lim, address_space=address_space,
                                             nproc=os.geteuid() != 0)),
                    "--", *job.command]
            stdin, stdout, stderr = pipes.child_stdio
            try:
                popen = workdir.spawn(argv, stdin=stdin, stdout=stdout, stderr=stderr,
                                      pass_fds=pipes.child_pass_fds, env=env, cwd=work,
                                      start_new_session=True, close_fds=True)
            except OSError as e:
                raise SandboxCrashed(f"cannot start {argv[0]}: {e}") from e
            tree.pid = popen.pid
            tree.popen = popen
            return pipes.supervise(tree, limits=lim, stdin_data=job.stdin, outputs=job.outputs)
        except BaseException:
            if pipes is not None:
                pipes.close_all()
            tree.kill()
            shutil.rmtree(work, ignore_errors=True)
            raise


class _LocalTree(ProcessTree):
    def __init__(self, work: Path) -> None:
        self.work = work

    def kill(self) -> None:
        if self.pid > 0:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    def new_meter(self) -> TreeMeter:
        return TreeMeter(pgid=self.pid)

    def cpu_time_s(self) -> float | None:
        return self.sampled().cpu_s

    def memory(self) -> tuple[int | None, bool]:
        return self.sampled_peak(), False

    def memory_now(self) -> int | None:
        return self.sampled().rss_bytes

    def reap_group(self, timeout_s: float = 2.0) -> None:
        """Reap the run's processes that this process adopted (it may be a child subreaper).

        Descendants orphaned by the kill are re-parented to a subreaper ancestor when there
        is one (the namespace backend makes this process one); they keep the run's process
        group, so ``waitpid(-pgid)`` finds exactly them. Never raises.
        """
        deadline = time.monotonic() + timeout_s
        while self.pid > 0:
            try:
                pid, _ = os.waitpid(-self.pid, os.WNOHANG)
            except ChildProcessError:
                return  # none of the group is (or is still) our child
            if pid == 0:  # adopted, but not dead yet
                if time.monotonic() > deadline:
                    return
                time.sleep(0.001)

    def cleanup(self, outputs: tuple[str, ...], max_bytes: int) -> dict[str, bytes]:
        self.kill()
        self.reap_group()
        try:
            return workdir.Workdir(self.work, self.work, mounted=False).collect(outputs, max_bytes)
        finally:
            shutil.rmtree(self.work, ignore_errors=True)
