"""The namespace backend: bubblewrap plus cgroups, rlimits and a host-owned supervisor.

Why bubblewrap and not nsjail: bubblewrap is a small, audited tool (Flatpak's sandbox) that
does exactly the namespace and mount setup and nothing else, is packaged in Debian stable
(nsjail is not, in bookworm), and starts in about 4 ms here. nsjail's extra features are
ones codeeval needs to own anyway: nsjail creates and deletes its own cgroup per run, which
throws away the peak-memory and OOM-kill counters that decide MLE, and its time limits
would compete with the supervisor's per-test timers. So bubblewrap builds the box and
codeeval supervises it.

What one run gets (as root, the normal case):

* new PID, mount, network (loopback only), IPC, UTS and (when possible) cgroup namespaces;
* a root made of read-only binds: ``/usr`` (and the usual ``/bin``, ``/lib`` links), the
  language runtime's own directories, a few files of ``/etc``, and synthetic
  ``/etc/passwd``, ``/etc/group`` and ``/etc/hosts``; no host home, project or temp dir;
* ``/work``: a fresh size- and inode-capped tmpfs mounted by the host and owned by the run's
  uid; ``/tmp`` and ``/dev/shm``: private size-capped tmpfs; a minimal ``/dev``; a new ``/proc``;
* the program itself runs as a host uid of its own (``uid_base + slot``), with no
  capabilities, an empty bounding set and ``no_new_privs`` (``setpriv`` just before exec),
  and rlimits (``prlimit``): address space, processes, open files, file size, stack, CPU, core;
* a cleared environment with ``LANG=C.UTF-8``, ``HOME=/work`` and ``TMPDIR=/tmp``;
* memory (swap included), pids and CPU-bandwidth limits in a per-run cgroup (v1 or v2);
  the cgroup's CPU time and OOM-kill counter decide TLE and MLE;
* the supervisor owns the CPU and wall limits, reads output concurrently with caps, and
  ends a run by SIGKILL of the PID namespace's init (the kernel then kills every process in
  the namespace, setsid daemons included) plus every pid left in the cgroup.

The bwrap process is started with ``--block-fd``: it sets up the namespaces and waits while
the supervisor moves it into the run's cgroup, so that no process of the run ever exists
outside the cgroup.

Without root, bubblewrap runs in a user namespace (``--unshare-user --disable-userns``),
there are no cgroups (rlimits are then the only memory and process limits), the program
keeps the caller's uid, and the work dir is a plain directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

from codeeval import config
from codeeval.errors import BackendUnavailable, SandboxCrashed, SandboxError
from codeeval.model.run import WORKDIR, Job, Limits
from codeeval.sandbox import cgroups, workdir
from codeeval.sandbox.base import Backend, register_backend
from codeeval.sandbox.process import CHANNEL_ENV, ProcessTree, SandboxProcess
from codeeval.sandbox.slots import Slot, SlotPool

_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/alternatives",
              "/etc/mime.types")
_SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
_SETUP_TIMEOUT_S = 20.0
_MIB = 1024 * 1024


def address_space_limit(limits: Limits, *, cgroup: bool) -> int:
    """RLIMIT_AS for a run: a loose backstop, since it also counts untouched thread stacks.

    With a memory cgroup the cgroup decides MLE, so the backstop is far away. Without one,
    it is the memory limit plus room for the stacks of up to 16 threads, and MLE is judged
    from the measured peak.
    """
    if cgroup:
        return 4 * limits.memory_bytes + 4096 * _MIB
    return limits.memory_bytes + min(limits.processes, 16) * limits.stack_mb * _MIB


def rlimit_args(limits: Limits, *, address_space: int | None, nproc: bool) -> list[str]:
    """Return ``prlimit`` options (``--name=soft:hard``) for ``limits``.

    Args:
        limits: the run's limits.
        address_space: RLIMIT_AS in bytes, or ``None`` for no address-space limit.
        nproc: whether to set RLIMIT_NPROC (only meaningful for a uid of the run's own).
    """
    cpu_soft = int(limits.time_s) + 1
    args = [
        f"--cpu={cpu_soft}:{cpu_soft + 1}",
        f"--nofile={limits.open_files}",
        f"--fsize={limits.file_size_mb * _MIB}",
        f"--stack={limits.stack_mb * _MIB}",
        "--core=0",
    ]
    if address_space is not None:
        args.append(f"--as={address_space}")
    if nproc:
        args.append(f"--nproc={limits.processes}")
    return args


@register_backend("namespace")
class NamespaceBackend(Backend):
    """Runs jobs under bubblewrap with cgroups; see the module docstring for what it isolates."""

    name = "namespace"

    def __init__(self, settings: config.Settings | None = None) -> None:
        """Check the host and prepare shared state.

        Raises:
            BackendUnavailable: bubblewrap or util-linux tools are missing, or bubblewrap
                cannot create namespaces here. The message says what to install.
        """
        s = settings or config.settings()
        self.settings = s
        bwrap = s.bwrap or shutil.which("bwrap")
        if not bwrap:
            raise BackendUnavailable(
                "bubblewrap is not installed: install the Debian package 'bubblewrap' "
                "(apt-get install bubblewrap), or choose --backend local for trusted code")
        self._bwrap = bwrap
        self._prlimit = shutil.which("prlimit")
        self._setpriv = shutil.which("setpriv")
        if not self._prlimit or not self._setpriv:
            raise BackendUnavailable(
                "prlimit and setpriv are missing: install the Debian package 'util-linux'")
        self.privileged = os.geteuid() == 0
        self.scratch = Path(s.tmpdir) / f"codeeval-{os.geteuid()}"
        self.scratch.mkdir(mode=0o711, parents=True, exist_ok=True)
        self.cgroup_host: cgroups.CgroupHost | None = None
        self.cgroup_note = "disabled by CODEEVAL_CGROUPS=off"
        if s.cgroups:
            self.cgroup_host, self.cgroup_note = cgroups.detect()
        self._slots = SlotPool(self.scratch / "slots", s.uid_base, s.uid_slots)
        self._etc = self._write_etc()
        self.swept = self.sweep()
        self._self_test()

    # ------------------------------------------------------------------ Backend API
    @property
    def capabilities(self) -> frozenset[str]:
        caps = {"isolation", "containment"}
        if self.cgroup_host is not None:
            caps |= {"memory_cgroup", "pids_limit"}
        if self.privileged:
            caps |= {"scratch_cap", "pids_limit"}
        return frozenset(caps)

    def describe(self) -> str:
        mode = "root" if self.privileged else "unprivileged user namespace"
        return f"namespace (bubblewrap {self._bwrap}, {mode}; {self.cgroup_note})"

    def sweep(self) -> list[str]:
        """Remove run directories and cgroups left by supervisors that died; return their names."""
        removed = workdir.sweep_stale(self.scratch)
        if self.cgroup_host is not None:
            removed += cgroups.sweep_stale(self.cgroup_host)
        return removed

    def start(self, job: Job) -> SandboxProcess:
        slot = self._slots.acquire() if self.privileged else None
        uid = slot.uid if slot else os.getuid()
        gid = uid if slot else os.getgid()
        tree = _NsTree(self._slots, slot)
        fds: list[int] = []  # our ends, closed on failure
        child_fds: list[int] = []
        try:
            tree.workdir = workdir.Workdir.create(
                self.scratch, f"run-{os.getpid()}-{time.monotonic_ns()}",
                job.limits.scratch_mb * _MIB, uid, gid, use_tmpfs=self.privileged)
            tree.workdir.place(job.files, uid, gid)
            if self.cgroup_host is not None:
                tree.cgroup = cgroups.RunCgroup.create(self.cgroup_host, job.limits)

            stdin_r, stdin_w = os.pipe2(os.O_CLOEXEC)
            stdout_r, stdout_w = os.pipe2(os.O_CLOEXEC)
            stderr_r, stderr_w = os.pipe2(os.O_CLOEXEC)
            info_r, info_w = os.pipe2(os.O_CLOEXEC)
            block_r, block_w = os.pipe2(os.O_CLOEXEC)
            fds += [stdin_w, stdout_r, stderr_r, info_r, block_w]
            child_fds += [stdin_r, stdout_w, stderr_w, info_w, block_r]
            pass_fds = [info_w, block_r]
            env = dict(job.env)
            chan_to = chan_from = None
            if job.channel:
                in_r, chan_to = os.pipe2(os.O_CLOEXEC)
                chan_from, out_w = os.pipe2(os.O_CLOEXEC)
                fds += [chan_to, chan_from]
                child_fds += [in_r, out_w]
                pass_fds += [in_r, out_w]
                env[CHANNEL_ENV] = f"{in_r},{out_w}"

            argv = self._argv(job, tree.workdir.path, env, info_w, block_r, slot)
            try:
                popen = subprocess.Popen(
                    argv, stdin=stdin_r, stdout=stdout_w, stderr=stderr_w, pass_fds=pass_fds,
                    env=config.host_environment_for_tools(), start_new_session=True,
                    close_fds=True)
            except OSError as e:
                raise SandboxCrashed(f"cannot start bubblewrap: {e}") from e
            tree.pid = popen.pid
            tree.popen = popen
            for fd in child_fds:
                os.close(fd)
            child_fds.clear()

            info = _read_info(info_r, popen, stderr_r)
            tree.set_init(int(info["child-pid"]))
            if tree.cgroup is not None:
                tree.cgroup.attach(tree.init_pid)
            os.write(block_w, b"1")
            os.close(block_w)
            os.close(info_r)
            fds = [fd for fd in fds if fd not in (block_w, info_r)]
            return SandboxProcess(
                tree, limits=job.limits, stdin_data=job.stdin, stdin_fd=stdin_w,
                stdout_fd=stdout_r, stderr_fd=stderr_r, channel_to=chan_to,
                channel_from=chan_from, outputs=job.outputs)
        except BaseException as e:
            for fd in child_fds + fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            tree.abort()
            if isinstance(e, SandboxError | KeyboardInterrupt | SystemExit):
                raise
            raise SandboxCrashed(f"sandbox setup failed: {e}") from e

    # ------------------------------------------------------------------ internals
    def _argv(self, job: Job, work: Path, env: dict[str, str], info_fd: int, block_fd: int,
              slot: Slot | None) -> list[str]:
        lim = job.limits
        scratch = str(lim.scratch_mb * _MIB)
        a = [self._bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
             "--unshare-cgroup-try", "--die-with-parent", "--new-session",
             "--hostname", "codeeval"]
        if not self.privileged:
            a += ["--unshare-user", "--disable-userns"]
        a += ["--ro-bind", "/usr", "/usr"]
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                a += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                a += ["--ro-bind", top, top]
        for f in _ETC_FILES:
            a += ["--ro-bind-try", f, f]
        for name in ("passwd", "group", "hosts"):
            a += ["--ro-bind", str(self._etc / name), f"/etc/{name}"]
        made: set[str] = {"/", "/usr", "/etc"}
        for path in job.runtime_paths:
            real = os.path.realpath(path)
            if real == "/usr" or real.startswith("/usr/"):
                continue
            parts = Path(real).parents
            for parent in reversed(parts):
                p = str(parent)
                if p not in made:
                    a += ["--perms", "0755", "--dir", p]
                    made.add(p)
            a += ["--ro-bind", real, real]
            made.add(real)
        a += ["--proc", "/proc", "--dev", "/dev",
              "--perms", "1777", "--size", scratch, "--tmpfs", "/tmp",
              "--perms", "1777", "--size", scratch, "--tmpfs", "/dev/shm",
              "--bind", str(work), WORKDIR, "--remount-ro", "/", "--chdir", WORKDIR,
              "--clearenv"]
        base_env = {"PATH": _SANDBOX_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                    "HOME": WORKDIR, "TMPDIR": "/tmp"}
        for k, v in {**base_env, **env}.items():
            a += ["--setenv", k, v]
        a += ["--info-fd", str(info_fd), "--block-fd", str(block_fd), "--"]
        if slot is not None:
            a += [self._setpriv or "setpriv", f"--reuid={slot.uid}", f"--regid={slot.uid}",
                  "--clear-groups", "--bounding-set=-all", "--inh-caps=-all",
                  "--no-new-privs", "--"]
        address_space = (address_space_limit(lim, cgroup=self.cgroup_host is not None)
                         if job.limit_address_space else None)
        a += [self._prlimit or "prlimit",
              *rlimit_args(lim, address_space=address_space, nproc=slot is not None), "--"]
        return a + list(job.command)

    def _write_etc(self) -> Path:
        etc = self.scratch / "etc"
        etc.mkdir(mode=0o755, exist_ok=True)
        os.chmod(etc, 0o755)
        base = self.settings.uid_base
        users = ["root:x:0:0:root:/root:/usr/sbin/nologin"]
        groups = ["root:x:0:"]
        if self.privileged:
            for i in range(self.settings.uid_slots):
                users.append(f"sandbox{i}:x:{base + i}:{base + i}:sandbox:{WORKDIR}:/bin/sh")
                groups.append(f"sandbox{i}:x:{base + i}:")
        else:
            users.append(f"sandbox:x:{os.getuid()}:{os.getgid()}:sandbox:{WORKDIR}:/bin/sh")
            groups.append(f"sandbox:x:{os.getgid()}:")
        contents = {
            "passwd": "\n".join(users) + "\n",
            "group": "\n".join(groups) + "\n",
            "hosts": "127.0.0.1 localhost codeeval\n::1 localhost ip6-localhost\n",
        }
        for name, text in contents.items():
            tmp = etc / f".{name}.{os.getpid()}"
            tmp.write_text(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, etc / name)
        return etc

    def _self_test(self) -> None:
        job = Job(command=("/bin/true",), limits=Limits(time_s=5, memory_mb=64))
        try:
            result = self.run(job)
        except SandboxError as e:
            raise BackendUnavailable(f"bubblewrap cannot create a sandbox here: {e}") from e
        if result.exit_code != 0:
            detail = result.stderr.decode(errors="replace").strip().splitlines()
            raise BackendUnavailable(
                "bubblewrap cannot create a sandbox here: "
                + (detail[-1] if detail else result.reason))


def _read_info(info_fd: int, popen: subprocess.Popen[bytes], stderr_fd: int) -> dict[str, int]:
    """Read bwrap's --info-fd JSON (it arrives once the namespaces exist)."""
    data = b""
    deadline = time.monotonic() + _SETUP_TIMEOUT_S
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SandboxCrashed("bubblewrap did not report its child within "
                                 f"{_SETUP_TIMEOUT_S:g} s")
        ready, _, _ = select.select([info_fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(info_fd, 4096)
        if not chunk:
            break
        data += chunk
    try:
        info = json.loads(data)
        if isinstance(info, dict) and isinstance(info.get("child-pid"), int):
            return info
    except ValueError:
        pass
    popen.wait(timeout=_SETUP_TIMEOUT_S)
    err = b""
    with contextlib.suppress(OSError):
        os.set_blocking(stderr_fd, False)
        err = os.read(stderr_fd, 4096)
    raise SandboxCrashed("bubblewrap failed before starting the program: "
                         + (err.decode(errors="replace").strip() or f"exit {popen.returncode}"))


class _NsTree(ProcessTree):
    """Host-side state of one namespace run."""

    def __init__(self, slots: SlotPool, slot: Slot | None) -> None:
        self.pid = -1
        self.popen: subprocess.Popen[bytes] | None = None
        self.init_pid = -1
        self._init_pidfd: int | None = None
        self._slots = slots
        self._slot = slot
        self.workdir: workdir.Workdir | None = None
        self.cgroup: cgroups.RunCgroup | None = None

    def set_init(self, pid: int) -> None:
        self.init_pid = pid
        try:
            self._init_pidfd = os.pidfd_open(pid)
        except OSError as e:
            raise SandboxCrashed(f"sandbox init {pid} vanished during setup: {e}") from e

    def kill(self) -> None:
        if self._init_pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._init_pidfd, signal.SIGKILL)
        if self.cgroup is not None:
            self.cgroup.kill_all()

    def cpu_time_s(self) -> float | None:
        return self.cgroup.cpu_time_s() if self.cgroup is not None else None

    def memory(self) -> tuple[int | None, bool]:
        if self.cgroup is None:
            return None, False
        return self.cgroup.peak_memory_bytes(), self.cgroup.oom_killed()

    def reaped(self, wait_status: int) -> None:
        if self.popen is not None:
            self.popen.returncode = os.waitstatus_to_exitcode(wait_status)

    def decode_status(self, wait_status: int) -> tuple[int | None, int | None]:
        if os.WIFSIGNALED(wait_status):
            return None, os.WTERMSIG(wait_status)
        code = os.waitstatus_to_exitcode(wait_status)
        # bwrap reports a program killed by signal N as exit code 128 + N.
        if 128 < code < 128 + signal.NSIG:
            return None, code - 128
        return code, None

    def cleanup(self, outputs: tuple[str, ...], max_bytes: int) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        errors: list[str] = []
        self.kill()
        if self.workdir is not None:
            try:
                files = self.workdir.collect(outputs, max_bytes)
            except OSError as e:
                errors.append(f"copy-out failed: {e}")
        self._release(errors)
        if errors:
            raise SandboxCrashed("; ".join(errors))
        return files

    def abort(self) -> None:
        """Tear down a run whose setup failed part-way. Never raises."""
        self.kill()
        if self.popen is not None:
            with contextlib.suppress(OSError):
                self.popen.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=10)
        self._release([])

    def _release(self, errors: list[str]) -> None:
        if self.workdir is not None:
            try:
                self.workdir.remove()
            except SandboxCrashed as e:
                errors.append(str(e))
            self.workdir = None
        if self.cgroup is not None:
            try:
                self.cgroup.remove()
            except SandboxCrashed as e:
                errors.append(str(e))
            self.cgroup = None
        if self._init_pidfd is not None:
            os.close(self._init_pidfd)
            self._init_pidfd = None
        if self._slot is not None:
            self._slots.release(self._slot)
            self._slot = None
