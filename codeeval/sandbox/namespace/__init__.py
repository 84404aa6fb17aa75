"""The namespace backend (bubblewrap + cgroups); see :mod:`.backend` for what it isolates."""

from codeeval.sandbox.namespace.backend import NamespaceBackend, live_backends

__all__ = ["NamespaceBackend", "live_backends"]
