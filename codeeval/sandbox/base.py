"""The sandbox interface every backend implements, and the backend registry.

A backend turns a :class:`~codeeval.model.run.Job` into a supervised process tree. It
has two entry points:

* :meth:`Backend.run` — run a job to completion and return a
  :class:`~codeeval.model.run.RunResult` (the program's failures are statuses in it);
* :meth:`Backend.start` — start a long-lived process with the structured JSON channel
  (``job.channel=True``) and return a :class:`~codeeval.sandbox.process.SandboxProcess`,
  so a candidate can be loaded once and asked many questions.

Both raise :class:`~codeeval.errors.SandboxError` when the *sandbox* fails; never for
anything the program does.

Backends register with :func:`register_backend`; third-party ones are found through the
``codeeval.backends`` entry-point group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from importlib import metadata
from typing import ClassVar

from codeeval.errors import UnknownBackendError
from codeeval.model.run import Job, RunResult
from codeeval.sandbox.process import SandboxProcess

#: Isolation properties a backend may provide; conformance tests require the ones they probe.
CAPABILITIES = frozenset({
    "isolation",  # private filesystem view, no host dirs, no network, own PID namespace
    "containment",  # every descendant (including setsid daemons) dies with the run
    "memory_cgroup",  # memory limit and OOM detection by cgroup
    "pids_limit",  # fork/thread bombs are capped
    "scratch_cap",  # /tmp, /dev/shm and the work dir are size-capped
    "syscall_filter",  # seccomp denies namespaces, mounts, io_uring, bpf, ptrace, ...
})


class Backend(ABC):
    """A way of running jobs. Subclasses document what they isolate in their docstring."""

    #: Name used with ``--backend``.
    name: ClassVar[str]
    #: Whether the backend confines untrusted code (the local backend does not).
    isolates: ClassVar[bool] = True
    #: Whether jobs run the host's language toolchains (so jobs name host paths and need
    #: ``runtime_paths``); image-based backends bring their own and ignore host paths.
    host_runtimes: ClassVar[bool] = True

    @property
    @abstractmethod
    def capabilities(self) -> frozenset[str]:
        """The subset of :data:`CAPABILITIES` this backend provides on this host."""

    @abstractmethod
    def start(self, job: Job) -> SandboxProcess:
        """Start ``job`` and return the supervised process.

        Raises:
            SandboxError: the sandbox could not be set up.
        """

    def run(self, job: Job) -> RunResult:
        """Run ``job`` to completion.

        Returns:
            The result; the program's failures are statuses in it.

        Raises:
            SandboxError: the sandbox failed (an infra error, to be retried and reported as SE).
        """
        with self.start(job) as proc:
            return proc.finish()

    def describe(self) -> str:
        """One line on what this backend uses on this host."""
        return self.name

    def pool_state(self) -> dict[str, int]:
        """Counts that describe the backend's pools now (sandboxes ready, runs served...),
        for monitoring; the default has none."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Release what the backend holds (pools, handles). The default holds nothing."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_REGISTRY: dict[str, Callable[..., Backend]] = {}


def register_backend(name: str) -> Callable[[type[Backend]], type[Backend]]:
    """Class decorator: make a backend available under ``name``."""

    def deco(cls: type[Backend]) -> type[Backend]:
        _REGISTRY[name] = cls
        return cls

    return deco


def backend_names() -> list[str]:
    """Names of every registered backend (built-in and entry points)."""
    _load_entry_points()
    return sorted(_REGISTRY)


def backend_factory(name: str) -> Callable[..., Backend]:
    """Return the constructor of backend ``name``.

    Raises:
        UnknownBackendError: no backend has that name.
    """
    _load_entry_points()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownBackendError(
            f"unknown backend {name!r}; available: {', '.join(sorted(_REGISTRY))}") from None


_entry_points_loaded = False


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in metadata.entry_points(group="codeeval.backends"):
        if ep.name not in _REGISTRY:
            _REGISTRY[ep.name] = ep.load()
