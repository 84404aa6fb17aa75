"""A seccomp filter that closes the kernel interfaces a judged program never needs.

Candidates run as an unprivileged uid, but the kernel still offers them interfaces that
are the usual starting points of local privilege escalation: creating user namespaces
(which hands out "root" inside them and with it mount, netfilter and more), io_uring, BPF,
userfaultfd, keyrings, perf events, ptrace. This module compiles a deny-list filter with
libseccomp (through ctypes, so no Python dependency; ``libseccomp2`` is part of every
Debian install) and exports it as the raw BPF program that bubblewrap's ``--seccomp FD``
loads just before it execs the job.

Denied calls fail with ``EPERM``. ``clone`` is denied only with namespace flags; ``clone3``
passes its flags in memory that seccomp cannot read, so it fails with ``ENOSYS`` and glibc
falls back to ``clone``. Syscalls of a foreign ABI (32-bit ``int 0x80`` on x86-64) kill the
process, libseccomp's default for a filter built for the native architecture only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os

from codeeval.errors import BackendUnavailable
from codeeval.sandbox.procfs import read_all

#: Syscalls that fail with EPERM inside the sandbox.
DENIED = (
    # namespaces and mounts
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount",
    "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    # kernel interfaces with a record of privilege escalations
    "bpf", "userfaultfd", "perf_event_open", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "add_key", "request_key", "keyctl",
    # inspecting or modifying other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # the machine itself (also need capabilities; denied twice is fine)
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "acct", "quotactl", "syslog", "iopl", "ioperm",
    "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "uselib", "vhangup",
)

_CLONE_NS_FLAGS = (0x10000000, 0x00020000, 0x20000000, 0x40000000, 0x08000000, 0x04000000,
                   0x02000000)  # NEWUSER, NEWNS, NEWPID, NEWNET, NEWIPC, NEWUTS, NEWCGROUP
_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_CMP_MASKED_EQ = 7


def _act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


#: Further calls denied where runs share an IPC namespace (pooled containers): System V IPC
#: objects outlive the process that made them, so they could carry state to the next run.
SYSV_IPC = ("shmget", "semget", "msgget")


@functools.cache
def filter_bpf(extra: tuple[str, ...] = ()) -> bytes:
    """Return the compiled filter as raw ``struct sock_filter`` records; ``extra`` names
    syscalls denied on top of :data:`DENIED`.

    Raises:
        BackendUnavailable: libseccomp is missing or refused to build the filter.
    """
    name = ctypes.util.find_library("seccomp")
    if not name:
        raise BackendUnavailable("libseccomp is missing: install the Debian package 'libseccomp2'")
    lib = ctypes.CDLL(name, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                     ctypes.c_uint]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not ctx:
        raise BackendUnavailable("libseccomp could not create a filter")
    try:
        def add(syscall: str, action: int, cmp: _ArgCmp | None = None) -> None:
            nr = lib.seccomp_syscall_resolve_name(syscall.encode())
            if nr < 0:
                return  # not a syscall on this architecture
            if cmp is None:
                rc = lib.seccomp_rule_add(ctx, action, nr, 0)
            else:
                rc = lib.seccomp_rule_add_array(ctx, action, nr, 1, ctypes.byref(cmp))
            if rc < 0:
                raise BackendUnavailable(f"libseccomp refused a rule for {syscall}: "
                                         f"{os.strerror(-rc)}")

        for syscall in DENIED + extra:
            add(syscall, _act_errno(errno.EPERM))
        for flag in _CLONE_NS_FLAGS:
            add("clone", _act_errno(errno.EPERM), _ArgCmp(0, _SCMP_CMP_MASKED_EQ, flag, flag))
        add("clone3", _act_errno(errno.ENOSYS))
        fd = os.memfd_create("codeeval-seccomp", os.MFD_CLOEXEC)
        try:
            rc = lib.seccomp_export_bpf(ctx, fd)
            if rc < 0:
                raise BackendUnavailable(f"libseccomp could not export the filter: "
                                         f"{os.strerror(-rc)}")
            os.lseek(fd, 0, os.SEEK_SET)
            return read_all(fd)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)
