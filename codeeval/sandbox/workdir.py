"""A run's work directory on the host: placed files in, result files out, nothing left behind.

As root, the directory is a fresh tmpfs mounted with a size and inode cap and owned by the
run's uid, so a program cannot fill the host's disk or inode table through it. Without root
it is a plain directory (the cap then comes only from ``RLIMIT_FSIZE``, per file).

Copy-out walks each requested path one component at a time with ``O_NOFOLLOW`` relative to
the directory, so a program that replaces an output (or a directory on its way) with a
symlink to a host file gets nothing copied; only regular files are read, and at most
``max_bytes`` of each.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import stat
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from codeeval.errors import SandboxCrashed
from codeeval.model.run import FileSpec
from codeeval.sandbox import runid

#: Held while this process has an executable file open for writing, and while it starts a
#: child process. A child forked by another thread inherits every open descriptor until it
#: execs (or closes them); if one of them is an executable being written, running that
#: executable meanwhile fails with ETXTBSY ("Text file busy"), which would look like the
#: program's own failure. The same lock as Go's ``syscall.ForkLock``, for the same reason.
SPAWN_LOCK = threading.Lock()


def spawn(argv: Sequence[str], **popen_args: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(argv, **popen_args)``, started under :data:`SPAWN_LOCK` (it
    returns once the child has exec'd, so the child holds none of our descriptors after).

    Raises:
        OSError: as ``Popen`` does.
    """
    with SPAWN_LOCK:
        return subprocess.Popen(argv, **popen_args)

_MS_NOSUID = 2
_MS_NODEV = 4
_MNT_DETACH = 2
_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def mount_tmpfs(path: Path, size_bytes: int, uid: int, gid: int, inodes: int = 16384) -> None:
    """Mount a size-capped tmpfs on ``path`` owned by ``uid``/``gid``.

    Raises:
        OSError: the mount was refused.
    """
    opts = f"size={size_bytes},nr_inodes={inodes},mode=0700,uid={uid},gid={gid}".encode()
    rc = _lib().mount(b"tmpfs", os.fsencode(path), b"tmpfs", _MS_NOSUID | _MS_NODEV, opts)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount tmpfs on {path}: {os.strerror(err)}")


def unmount(path: Path) -> None:
    """Detach the mount on ``path`` (lazily, so a busy mount still goes).

    Raises:
        OSError: the kernel refused for a reason other than "not mounted".
    """
    rc = _lib().umount2(os.fsencode(path), _MNT_DETACH)
    if rc != 0:
        err = ctypes.get_errno()
        if err not in (22,):  # EINVAL: not a mount point
            raise OSError(err, f"umount {path}: {os.strerror(err)}")


def is_mount_point(path: Path) -> bool:
    """Whether ``path`` is listed as a mount point in ``/proc/self/mountinfo``."""
    target = os.fsencode(path)
    with open("/proc/self/mountinfo", "rb") as f:
        return any(line.split()[4] == target for line in f)


class Workdir:
    """The host side of a run's work dir (``/box`` inside): create, fill, collect, remove."""

    def __init__(self, root: Path, path: Path, mounted: bool) -> None:
        self.root = root  # the per-run directory that holds ``path``
        self.path = path
        self.mounted = mounted

    @classmethod
    def create(cls, parent: Path, name: str, size_bytes: int, uid: int, gid: int,
               use_tmpfs: bool) -> Workdir:
        """Make ``parent/name/work``, as a tmpfs when ``use_tmpfs``.

        Raises:
            SandboxCrashed: the directory or mount could not be made.
        """
        root = parent / name
        path = root / "work"
        try:
            parent.mkdir(mode=0o711, parents=True, exist_ok=True)
            root.mkdir(mode=0o711)
            path.mkdir(mode=0o700)
            if use_tmpfs:
                mount_tmpfs(path, size_bytes, uid, gid)
            elif os.geteuid() == 0:
                os.chown(path, uid, gid)
        except OSError as e:
            shutil.rmtree(root, ignore_errors=True)
            raise SandboxCrashed(f"cannot create work dir {path}: {e}") from e
        return cls(root, path, use_tmpfs)

    def place(self, files: Mapping[str, FileSpec], uid: int, gid: int) -> None:
        """Write ``files`` into the work dir, owned by ``uid``/``gid``.

        Raises:
            SandboxCrashed: a file could not be written (e.g. it exceeds the tmpfs size).
        """
        chown = os.geteuid() == 0
        try:
            for rel, spec in files.items():
                target = self.path / rel
                for parent in reversed(target.relative_to(self.path).parents[:-1]):
                    d = self.path / parent
                    if not d.exists():
                        d.mkdir(mode=0o755)
                        if chown:
                            os.chown(d, uid, gid)
                mode = 0o755 if spec.executable else 0o644
                with SPAWN_LOCK if spec.executable else contextlib.nullcontext():
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                                 | os.O_CLOEXEC, mode)
                    try:
                        view = memoryview(spec.content)
                        while view:
                            view = view[os.write(fd, view):]
                        if chown:
                            os.fchown(fd, uid, gid)
                    finally:
                        os.close(fd)
        except OSError as e:
            raise SandboxCrashed(f"cannot place files in {self.path}: {e}") from e

    def collect(self, outputs: tuple[str, ...], max_bytes: int) -> dict[str, bytes]:
        """Read the requested output files back, refusing symlinks and non-regular files.

        Returns:
            Path to content for each output that exists as a regular file (cut at
            ``max_bytes``); missing or refused outputs are simply absent.
        """
        found: dict[str, bytes] = {}
        for rel in outputs:
            data = _read_no_follow(self.path, rel, max_bytes)
            if data is not None:
                found[rel] = data
        return found

    def remove(self) -> None:
        """Unmount and delete the work dir.

        Raises:
            SandboxCrashed: the mount could not be detached.
        """
        try:
            if self.mounted:
                unmount(self.path)
        except OSError as e:
            raise SandboxCrashed(f"cannot unmount work dir {self.path}: {e}") from e
        shutil.rmtree(self.root, ignore_errors=True)


def _read_no_follow(base: Path, rel: str, max_bytes: int) -> bytes | None:
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    dir_fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for part in parts[:-1]:
            try:
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            except OSError:
                return None
            os.close(dir_fd)
            dir_fd = nxt
        try:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            chunks: list[bytes] = []
            left = max_bytes
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
    finally:
        os.close(dir_fd)


def sweep_stale(parent: Path) -> list[str]:
    """Unmount and delete run directories under ``parent`` whose supervisor is gone."""
    removed: list[str] = []
    if not parent.is_dir():
        return removed
    for entry in parent.iterdir():
        if not runid.is_stale(entry.name):
            continue
        work = entry / "work"
        with contextlib.suppress(OSError):
            if work.exists() and is_mount_point(work):
                unmount(work)
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry.name)
    return removed
