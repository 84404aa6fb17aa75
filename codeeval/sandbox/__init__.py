"""Run one job in isolation: the sandbox interface, its backends, and how to pick one.

Public surface::

    from codeeval.sandbox import open_backend
    backend = open_backend("namespace")
    result = backend.run(job)                  # one-shot run -> RunResult
    with backend.start(job_with_channel) as p:  # long-lived process with a JSON channel
        p.send({"call": ...}); reply = p.receive(timeout_s=1.0)
        result = p.finish()
"""

from __future__ import annotations

from codeeval import config
from codeeval.sandbox.base import Backend, backend_factory, backend_names, register_backend
from codeeval.sandbox.process import CHANNEL_ENV, Reply, ReplyKind, SandboxProcess

# Built-in backends register themselves on import.
from codeeval.sandbox import local as _local  # noqa: F401  isort: skip
from codeeval.sandbox import namespace as _namespace  # noqa: F401  isort: skip
from codeeval.sandbox import docker as _docker  # noqa: F401  isort: skip


def open_backend(name: str | None = None, settings: config.Settings | None = None) -> Backend:
    """Build the backend called ``name`` (default: ``CODEEVAL_BACKEND``, else ``namespace``).

    Naming ``local`` here, on the command line or in ``CODEEVAL_BACKEND`` is the explicit
    choice the local backend requires; it is never chosen as a fallback. Close the backend
    (or use it as a context manager) to release sandboxes it prepared ahead of demand.

    Raises:
        UnknownBackendError: no backend has that name.
        BackendUnavailable: the backend cannot run on this host (the message says why).
    """
    s = settings or config.settings()
    chosen = name or s.backend
    factory = backend_factory(chosen)
    if chosen == "local":
        return factory(s, trusted=True)
    return factory(s)


__all__ = [
    "CHANNEL_ENV",
    "Backend",
    "Reply",
    "ReplyKind",
    "SandboxProcess",
    "backend_factory",
    "backend_names",
    "open_backend",
    "register_backend",
]
