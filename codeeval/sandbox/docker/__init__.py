"""The docker backend: warm, reused containers from ``sandbox_images/`` (see :mod:`.backend`).

Importing this package registers the backend without importing the docker SDK; that
happens when a backend is built.
"""

from codeeval.sandbox.docker.backend import DockerBackend

__all__ = ["DockerBackend"]
