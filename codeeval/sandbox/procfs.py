"""CPU time and resident memory of a process tree, sampled from ``/proc``.

The fallback meter for runs without a cgroup (the local backend; the namespace backend
without root). A tree is selected either by process group or by PID namespace. CPU time
counts every live process of the tree plus what they have reaped (``cutime``/``cstime``),
so finished children are not lost; it never decreases between samples. Memory is the sum
of resident set sizes at the moment of the sample: a short spike between two samples can
be missed, which is why a cgroup is preferred wherever the host allows one.
"""

from __future__ import annotations

import os

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


class TreeMeter:
    """Samples a process tree chosen by process group (``pgid``) or PID namespace (``pidns``)."""

    def __init__(self, *, pgid: int | None = None, pid_in_ns: int | None = None) -> None:
        self._pgid = pgid
        self._ns: int | None = None
        if pid_in_ns is not None:
            try:
                self._ns = os.stat(f"/proc/{pid_in_ns}/ns/pid").st_ino
            except OSError:
                self._ns = -1  # the tree is already gone: nothing will match
        self.cpu_s = 0.0
        self.rss_bytes = 0
        self.peak_rss_bytes = 0

    def sample(self) -> None:
        """Read ``/proc`` once; update :attr:`cpu_s`, :attr:`rss_bytes` and the peak."""
        ticks = 0
        pages = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                ns = os.stat(f"/proc/{entry.name}/ns/pid").st_ino if self._ns else None
                if ns != self._ns:
                    continue
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if self._pgid is not None and int(fields[2]) != self._pgid:
                continue
            ticks += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
            pages += int(fields[21])
        self.cpu_s = max(self.cpu_s, ticks / _CLK_TCK)
        self.rss_bytes = pages * _PAGE
        self.peak_rss_bytes = max(self.peak_rss_bytes, self.rss_bytes)


def read_all(fd: int) -> bytes:
    """Everything left to read from ``fd`` (a small kernel file, a memfd), up to its end."""
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)
