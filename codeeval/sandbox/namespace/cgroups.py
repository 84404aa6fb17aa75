"""Per-run control groups: memory, pids and CPU limits, CPU and peak-memory accounting, kill.

Both cgroup versions are handled:

* **v1** (separate hierarchies per controller, as on this project's build machines): one
  directory per run under ``<controller mount>/<our own cgroup>/codeeval/`` for each of
  ``memory``, ``pids``, ``cpuacct`` and, when mounted, ``cpu``.
* **v2** (unified hierarchy): one directory per run under ``<our own cgroup>/codeeval/``,
  with ``memory``, ``pids`` and ``cpu`` enabled in the parent's ``subtree_control``. v2
  forbids enabling controllers for children of a cgroup that holds processes, so when our
  own cgroup is not the root and holds processes we report v2 as unusable rather than move
  the caller's processes around.

Run cgroups live under the supervisor's own cgroup, so the host's limits on the supervisor
also bound its sandboxes. Each run's directory is named ``run-<supervisor pid>-<n>``, which
lets :func:`sweep_stale` find and remove what a crashed supervisor left behind.

On v1, the runs of one uid slot of the fork server share their ``pids``, ``cpuacct`` and
``cpu`` cgroups (:class:`SlotCgroup`, named like a run's), since a slot serves one run at a
time; each run keeps a ``memory`` cgroup of its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from codeeval.errors import SandboxCrashed
from codeeval.model.run import Limits
from codeeval.sandbox import runid
from codeeval.sandbox.procfs import read_all

_V1_CONTROLLERS = ("memory", "pids", "cpuacct", "cpu")
#: v1 controllers the runs of one slot share (see :class:`SlotCgroup`).
_SLOT_CONTROLLERS = ("pids", "cpuacct", "cpu")
_V1_REQUIRED = ("memory", "pids", "cpuacct")
_V2_REQUIRED = ("memory", "pids")


@dataclass(frozen=True, slots=True)
class CgroupHost:
    """Where per-run cgroups can be made on this host.

    Attributes:
        version: 1 or 2.
        parents: for v1, one parent directory per controller; for v2 a single entry ``""``.
    """

    version: int
    parents: dict[str, Path]

    def describe(self) -> str:
        """One line naming the version and parent directories."""
        return f"cgroup v{self.version}: " + ", ".join(str(p) for p in self.parents.values())


def _mounts() -> Iterator[tuple[str, str, str, str]]:
    """Yield (fstype, mount point, mount root, super options) of cgroup mounts."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            rfields = right.split()
            if len(fields) < 5 or len(rfields) < 3:
                continue
            if rfields[0] in ("cgroup", "cgroup2"):
                yield rfields[0], fields[4], fields[3], rfields[2]


def _own_paths() -> dict[str, str]:
    """Map controller name (or "" for v2) to this process's cgroup path."""
    own: dict[str, str] = {}
    with open("/proc/self/cgroup", encoding="utf-8") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                own[c] = path
    return own


def _join(mountpoint: str, mount_root: str, own: str) -> Path:
    rel = own
    if mount_root != "/" and (own == mount_root or own.startswith(mount_root + "/")):
        rel = own[len(mount_root):]
    return Path(mountpoint + rel.rstrip("/")) if rel not in ("", "/") else Path(mountpoint)


def detect() -> tuple[CgroupHost | None, str]:
    """Find a usable cgroup setup for per-run limits.

    Returns:
        ``(host, note)``: ``host`` is ``None`` when cgroups cannot be used here (then
        ``note`` says why); otherwise ``note`` describes what will be used.
    """
    if os.geteuid() != 0:
        return None, "not running as root: no cgroups, rlimits only"
    own = _own_paths()
    v1: dict[str, Path] = {}
    v2: Path | None = None
    for fstype, mountpoint, root, opts in _mounts():
        if fstype == "cgroup":
            for c in opts.split(","):
                if c in _V1_CONTROLLERS and c in own:
                    v1[c] = _join(mountpoint, root, own[c]) / "codeeval"
        elif fstype == "cgroup2" and "" in own:
            v2 = _join(mountpoint, root, own[""])
    if all(c in v1 for c in _V1_REQUIRED):
        host = CgroupHost(1, v1)
    elif v2 is not None:
        try:
            available = (v2 / "cgroup.controllers").read_text().split()
        except OSError as e:
            return None, f"cgroup v2 at {v2} is unreadable: {e}"
        missing = [c for c in _V2_REQUIRED if c not in available]
        if missing:
            return None, f"cgroup v2 at {v2} lacks controllers {missing}: rlimits only"
        wanted = [c for c in ("memory", "pids", "cpu") if c in available]
        try:
            (v2 / "cgroup.subtree_control").write_text(" ".join("+" + c for c in wanted))
            (v2 / "codeeval").mkdir(exist_ok=True)
            (v2 / "codeeval" / "cgroup.subtree_control").write_text(
                " ".join("+" + c for c in wanted))
        except OSError as e:
            return None, f"cannot delegate controllers under {v2} ({e}): rlimits only"
        host = CgroupHost(2, {"": v2 / "codeeval"})
    else:
        return None, "no cgroup memory and pids controllers are mounted: rlimits only"
    try:
        for parent in host.parents.values():
            parent.mkdir(exist_ok=True)
    except OSError as e:
        return None, f"cannot create cgroups under {parent}: {e}"
    return host, host.describe()


def _write(path: str, data: str) -> None:
    """Write ``data`` to a cgroup control file (plain syscalls: a run touches a dozen of
    these files, and pathlib's text I/O cost 0.4 ms of the supervisor's CPU per run)."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)


def _read(path: str) -> bytes:
    """The contents of a (small) cgroup control file."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return read_all(fd)
    finally:
        os.close(fd)


def _quota(limits: Limits) -> int | None:
    """The CPU bandwidth cap in microseconds per 100 ms period, ``None`` for none."""
    return None if limits.cpus is None else max(1000, int(limits.cpus * 100_000))


class SlotCgroup:
    """The ``pids``, ``cpuacct`` and ``cpu`` cgroups (v1) that the runs of one uid slot share.

    A slot serves one run at a time, and is released only once the run's own ``memory``
    cgroup is removed, that is once every process of the run is gone. So these three can
    serve run after run: the pids limit then counts the run's processes only, the run's
    CPU time is the counter's growth since the run started, and the CPU quota is written
    again for each run, which also refills its bandwidth (a run that spent a period's
    quota does not leave the next one throttled). Making and removing three directories
    and writing their limits per run cost 0.3 ms of the machine's CPU per run here, a
    fortieth of a HumanEval+ scoring. Memory stays per run: its peak, its OOM count and
    the page cache charged to it must start from nothing.

    Create with :meth:`create`; :meth:`remove` once no run of the slot is left.
    """

    def __init__(self, host: CgroupHost, name: str) -> None:
        self.host = host
        self.name = name
        self.dirs = {c: f"{host.parents[c]}/{name}" for c in _SLOT_CONTROLLERS
                     if c in host.parents}
        #: Open ``cgroup.procs`` files, handed to each run of the slot to join.
        self.procs_fds: list[int] = []
        self._cpu_fd = -1
        self._quota_fd = -1
        self._pids_max: int | None = None

    @classmethod
    def create(cls, host: CgroupHost, name: str) -> SlotCgroup:
        """Make the slot's directories (``name`` as for :meth:`RunCgroup.create`); v1 only.

        Raises:
            SandboxCrashed: a directory or control file could not be made or opened.
        """
        assert host.version == 1
        cg = cls(host, name)
        try:
            for d in cg.dirs.values():
                os.mkdir(d)
                cg.procs_fds.append(os.open(d + "/cgroup.procs", os.O_WRONLY | os.O_CLOEXEC))
            cg._cpu_fd = os.open(cg.dirs["cpuacct"] + "/cpuacct.usage",
                                 os.O_RDONLY | os.O_CLOEXEC)
            if "cpu" in cg.dirs:
                _write(cg.dirs["cpu"] + "/cpu.cfs_period_us", "100000")
                cg._quota_fd = os.open(cg.dirs["cpu"] + "/cpu.cfs_quota_us",
                                       os.O_WRONLY | os.O_CLOEXEC)
        except OSError as e:
            cg.remove()
            raise SandboxCrashed(f"cannot set up cgroup {name}: {e}") from e
        return cg

    def fds(self) -> list[int]:
        """Every fd this object keeps open."""
        return [fd for fd in (*self.procs_fds, self._cpu_fd, self._quota_fd) if fd >= 0]

    def start_run(self, limits: Limits) -> float:
        """Set the limits of the slot's next run; returns the CPU counter now.

        Raises:
            OSError: a limit could not be written.
        """
        if self._pids_max != limits.processes:
            _write(self.dirs["pids"] + "/pids.max", str(limits.processes))
            self._pids_max = limits.processes
        if self._quota_fd >= 0:
            quota = _quota(limits)
            os.pwrite(self._quota_fd, str(-1 if quota is None else quota).encode(), 0)
        return self.cpu_usage()

    def cpu_usage(self) -> float:
        """Seconds of CPU time of every run of the slot so far."""
        used = read_cpu_usage(self._cpu_fd, 1) if self._cpu_fd >= 0 else None
        return 0.0 if used is None else used

    def remove(self) -> list[str]:
        """Close the fds and delete the directories; returns what could not be deleted."""
        for fd in self.fds():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.procs_fds, self._cpu_fd, self._quota_fd = [], -1, -1
        left = []
        for d in self.dirs.values():
            try:
                os.rmdir(d)
            except FileNotFoundError:
                pass
            except OSError as e:
                left.append(f"cgroup {d}: {e}")
        return left


class RunCgroup:
    """The cgroup(s) of one run. Create with :meth:`create`; always :meth:`remove`."""

    def __init__(self, host: CgroupHost, name: str, slot: SlotCgroup | None = None) -> None:
        self.host = host
        self.name = name
        self.slot = slot
        #: The run's own directory in each hierarchy, by controller ("" for v2); with a
        #: ``slot``, only those the slot does not provide.
        self.dirs = {c: f"{p}/{name}" for c, p in host.parents.items()
                     if slot is None or c not in slot.dirs}
        self._cpu_fd: int | None = None  # the CPU counter, kept open: it is read very often
        self._cpu_base = 0.0

    @classmethod
    def create(cls, host: CgroupHost, limits: Limits, name: str,
               slot: SlotCgroup | None = None) -> RunCgroup:
        """Make the run's cgroup directories (``name`` must start with ``run-<our pid>-``),
        sharing ``slot``'s where given (the slot must have no other run now).

        Raises:
            SandboxCrashed: a directory or limit file could not be written.
        """
        cg = cls(host, name, slot)
        try:
            for d in cg.dirs.values():
                os.mkdir(d)
            cg._write_limits(limits)
            if slot is not None:
                cg._cpu_base = slot.start_run(limits)
        except OSError as e:
            cg.remove()
            raise SandboxCrashed(f"cannot set up cgroup {cg.name}: {e}") from e
        return cg

    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` file of each of the run's own cgroup directories (a run
        with a slot also joins the slot's, through :attr:`SlotCgroup.procs_fds`)."""
        return [d + "/cgroup.procs" for d in self.dirs.values()]

    def _write_limits(self, limits: Limits) -> None:
        mem = str(limits.memory_bytes)
        quota = _quota(limits)
        if self.host.version == 1:
            m = self.dirs["memory"]
            _write(m + "/memory.limit_in_bytes", mem)
            with contextlib.suppress(FileNotFoundError):  # swap accounting is off
                _write(m + "/memory.memsw.limit_in_bytes", mem)
            with contextlib.suppress(OSError):
                _write(m + "/memory.swappiness", "0")
            if "pids" in self.dirs:
                _write(self.dirs["pids"] + "/pids.max", str(limits.processes))
            if quota is not None and "cpu" in self.dirs:
                _write(self.dirs["cpu"] + "/cpu.cfs_period_us", "100000")
                _write(self.dirs["cpu"] + "/cpu.cfs_quota_us", str(quota))
        else:
            d = self.dirs[""]
            _write(d + "/memory.max", mem)
            with contextlib.suppress(OSError):
                _write(d + "/memory.swap.max", "0")
            _write(d + "/pids.max", str(limits.processes))
            if quota is not None:
                with contextlib.suppress(FileNotFoundError):  # no cpu controller
                    _write(d + "/cpu.max", f"{quota} 100000")

    def attach(self, pid: int) -> None:
        """Move ``pid`` into the run's cgroup(s); its future children follow.

        Raises:
            SandboxCrashed: the move was refused.
        """
        try:
            for path in self.procs_files():
                _write(path, str(pid))
        except OSError as e:
            raise SandboxCrashed(f"cannot move pid {pid} into cgroup {self.name}: {e}") from e

    def cpu_time_s(self) -> float:
        """CPU time (user + system) of every task that ran in the cgroup, in seconds."""
        if self.slot is not None:
            return max(0.0, self.slot.cpu_usage() - self._cpu_base)
        if self._cpu_fd is None:
            path = (self.dirs["cpuacct"] + "/cpuacct.usage" if self.host.version == 1
                    else self.dirs[""] + "/cpu.stat")
            try:
                self._cpu_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return 0.0
        used = read_cpu_usage(self._cpu_fd, self.host.version)
        return 0.0 if used is None else used

    def peak_memory_bytes(self) -> int | None:
        """Peak memory usage of the cgroup, or ``None`` if the kernel does not report it."""
        path = (self.dirs["memory"] + "/memory.max_usage_in_bytes" if self.host.version == 1
                else self.dirs[""] + "/memory.peak")
        try:
            return int(_read(path))
        except (OSError, ValueError):
            return None

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer killed a task of this cgroup."""
        path = (self.dirs["memory"] + "/memory.oom_control" if self.host.version == 1
                else self.dirs[""] + "/memory.events")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            kills = read_oom_kills(fd)
        finally:
            os.close(fd)
        return kills is not None and kills > 0

    def pids(self) -> list[int]:
        """The processes currently in the cgroup (none when they cannot be read)."""
        d = self.dirs[""] if self.host.version == 2 else self.dirs.get("pids",
                                                                      self.dirs["memory"])
        try:
            return [int(x) for x in _read(d + "/cgroup.procs").split()]
        except (OSError, ValueError):
            return []

    def kill_all(self) -> None:
        """Send SIGKILL to every process in the cgroup (v2: atomically via ``cgroup.kill``)."""
        if self.host.version == 2:
            with contextlib.suppress(OSError):
                _write(self.dirs[""] + "/cgroup.kill", "1")
                return
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def remove_noting(self, errors: list[str]) -> None:
        """:meth:`remove`, adding why it failed to ``errors`` instead of raising."""
        try:
            self.remove()
        except SandboxCrashed as e:
            errors.append(str(e))

    def remove(self, timeout_s: float = 5.0) -> None:
        """Kill what is left, wait for the cgroup to empty, and delete its directories.

        Raises:
            SandboxCrashed: the cgroup did not empty within ``timeout_s``.
        """
        if self._cpu_fd is not None:
            os.close(self._cpu_fd)
            self._cpu_fd = None
        deadline = time.monotonic() + timeout_s
        pending = list(self.dirs.values())
        delay = 0.0002
        while pending:
            for d in list(pending):
                try:
                    os.rmdir(d)
                    pending.remove(d)
                except FileNotFoundError:
                    pending.remove(d)
                except OSError:
                    pass
            if not pending:
                return
            if time.monotonic() > deadline:
                raise SandboxCrashed(f"cgroup {self.name} did not empty: pids {self.pids()}")
            self.kill_all()
            time.sleep(delay)
            delay = min(delay * 2, 0.02)


def sweep_stale(host: CgroupHost) -> list[str]:
    """Remove run cgroups whose supervisor process is gone; return their names."""
    removed: list[str] = []
    names: set[str] = set()
    for parent in host.parents.values():
        with contextlib.suppress(OSError):
            names.update(p.name for p in parent.iterdir() if runid.is_stale(p.name))
    for name in sorted(names):
        with contextlib.suppress(SandboxCrashed):
            RunCgroup(host, name).remove(timeout_s=2.0)
            removed.append(name)
    return removed


def process_cgroup_file(pid: int, controller: str, v1_name: str,
                        v2_name: str) -> tuple[Path, int] | None:
    """A control file of ``pid``'s cgroup as seen from this host, and the cgroup version:
    ``v1_name`` in the ``controller`` hierarchy (v1), or ``v2_name`` (v2).

    Works for any process whose ``/proc/PID/cgroup`` is readable (a container's init, say);
    ``None`` when the file cannot be found.
    """
    paths: dict[str, str] = {}
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
            for line in f:
                _, controllers, own = line.rstrip("\n").split(":", 2)
                for c in controllers.split(",") if controllers else [""]:
                    paths[c] = own
    except (OSError, ValueError):
        return None
    for fstype, mountpoint, root, opts in _mounts():
        if fstype == "cgroup" and controller in opts.split(",") and controller in paths:
            file = _join(mountpoint, root, paths[controller]) / v1_name
            if file.exists():
                return file, 1
        elif fstype == "cgroup2" and "" in paths:
            file = _join(mountpoint, root, paths[""]) / v2_name
            if file.exists():
                return file, 2
    return None


def cpu_usage_file(pid: int) -> tuple[Path, int] | None:
    """The file counting the CPU time of ``pid``'s cgroup (see :func:`read_cpu_usage`)."""
    return process_cgroup_file(pid, "cpuacct", "cpuacct.usage", "cpu.stat")


def oom_events_file(pid: int) -> tuple[Path, int] | None:
    """The file counting OOM kills in ``pid``'s cgroup (see :func:`read_oom_kills`)."""
    return process_cgroup_file(pid, "memory", "memory.oom_control", "memory.events")


def read_oom_kills(fd: int) -> int | None:
    """The ``oom_kill`` count in an open :func:`oom_events_file`, or ``None``."""
    try:
        for line in os.pread(fd, 4096, 0).split(b"\n"):
            key, _, value = line.partition(b" ")
            if key == b"oom_kill":
                return int(value)
    except (OSError, ValueError):
        pass
    return None


def read_cpu_usage(fd: int, version: int) -> float | None:
    """Seconds of CPU time in an open :func:`cpu_usage_file`, or ``None`` if unreadable."""
    try:
        data = os.pread(fd, 4096, 0)
        if version == 1:
            return int(data) / 1e9
        for line in data.split(b"\n"):
            key, _, value = line.partition(b" ")
            if key == b"usage_usec":
                return int(value) / 1e6
    except (OSError, ValueError):
        pass
    return None
