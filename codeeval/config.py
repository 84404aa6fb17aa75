"""Settings, and the only place in codeeval that reads environment variables.

Every other module receives a :class:`Settings` value (or calls :func:`settings`), so that
tests can pass explicit settings and nothing deep in the code changes behaviour because of
an inherited variable. ruff's ``TID251`` rule bans ``os.environ`` everywhere else.

Variables (all optional):

``CODEEVAL_BACKEND``      default backend (``namespace``; ``local`` here is an explicit choice)
``CODEEVAL_TMPDIR``       where per-run scratch directories are made (default: the system temp dir)
``CODEEVAL_UID_BASE``     first host uid used for sandboxed programs (default 62000)
``CODEEVAL_UID_SLOTS``    how many uids (concurrent sandboxes) from that base (default 256)
``CODEEVAL_PYTHON``       interpreter that runs sandboxed Python (default: the one running codeeval)
``CODEEVAL_BWRAP``        path of the bubblewrap binary (default: found on PATH)
``CODEEVAL_CGROUPS``      ``auto`` (use cgroups when the host allows) or ``off``
``CODEEVAL_PRESPAWN``     sandboxes kept ready per job shape (default 2; 0 turns pre-spawning off)
``CODEEVAL_FORKSERVER``   ``auto`` (fork Python runs from a warm interpreter) or ``off``
``CODEEVAL_FORKSERVER_HEAVY`` comma-separated modules a second fork server imports up front, for
                          the runs whose sources import one of them (default
                          ``numpy,scipy,requests,flask``; empty or ``none``: no second server)
``CODEEVAL_DOCKER_POOL``  warm containers per image and limits (docker backend; default 2)
``CODEEVAL_DEBUG``        ``1`` to show tracebacks of internal errors in the CLI
``CODEEVAL_CACHE``        cache directory (reference outputs; default ``~/.cache/codeeval``)
``CODEEVAL_LLM_COST_MAP`` ``local`` (default): litellm prices requests from the table it ships,
                          with no network fetch when it is imported; ``remote``: litellm
                          downloads its current price table at import (see :func:`prepare_litellm`)
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

from codeeval.errors import InputError


@dataclass(frozen=True, slots=True)
class Settings:
    """Process-wide settings, read once from the environment."""

    backend: str = "namespace"
    tmpdir: str = tempfile.gettempdir()
    uid_base: int = 62000
    uid_slots: int = 256
    python: str = sys.executable
    bwrap: str | None = None
    cgroups: bool = True
    prespawn: int = 2
    forkserver: bool = True
    forkserver_heavy: tuple[str, ...] = ("numpy", "scipy", "requests", "flask")
    docker_pool: int = 2
    debug: bool = False
    cache: str = os.path.join(os.path.expanduser("~"), ".cache", "codeeval")
    llm_cost_map: str = "local"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping.

        Returns:
            The settings, with defaults for every variable that is not set.

        Raises:
            InputError: a variable is set to a value of the wrong shape.
        """
        base = cls()
        return cls(
            backend=env.get("CODEEVAL_BACKEND", base.backend) or base.backend,
            tmpdir=env.get("CODEEVAL_TMPDIR", base.tmpdir) or base.tmpdir,
            uid_base=_int(env, "CODEEVAL_UID_BASE", base.uid_base, minimum=1000),
            uid_slots=_int(env, "CODEEVAL_UID_SLOTS", base.uid_slots, minimum=1),
            python=env.get("CODEEVAL_PYTHON", base.python) or base.python,
            bwrap=env.get("CODEEVAL_BWRAP") or None,
            cgroups=_choice(env, "CODEEVAL_CGROUPS", ("auto", "off"), "auto") == "auto",
            prespawn=_int(env, "CODEEVAL_PRESPAWN", base.prespawn, minimum=0),
            forkserver=_choice(env, "CODEEVAL_FORKSERVER", ("auto", "off"), "auto") == "auto",
            forkserver_heavy=_modules(env, "CODEEVAL_FORKSERVER_HEAVY", base.forkserver_heavy),
            docker_pool=_int(env, "CODEEVAL_DOCKER_POOL", base.docker_pool, minimum=0),
            debug=env.get("CODEEVAL_DEBUG", "") not in ("", "0"),
            cache=env.get("CODEEVAL_CACHE") or base.cache,
            llm_cost_map=_choice(env, "CODEEVAL_LLM_COST_MAP", ("local", "remote"), "local"),
        )


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"environment variable {name}={raw!r} is not an integer") from None
    if value < minimum:
        raise InputError(f"environment variable {name}={value} must be at least {minimum}")
    return value


def _modules(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in ("", "none"):
        return ()
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    for module in names:
        if not all(part.isidentifier() for part in module.split(".")):
            raise InputError(f"environment variable {name}: {module!r} is not a module name")
    return names


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = env.get(name) or default
    if raw not in allowed:
        raise InputError(f"environment variable {name}={raw!r} must be one of {', '.join(allowed)}")
    return raw


@functools.cache
def settings() -> Settings:
    """Return the settings of this process, read from ``os.environ`` on first use.

    Raises:
        InputError: an environment variable has a malformed value.
    """
    return Settings.from_env(os.environ)


def prepare_litellm(current: Settings | None = None) -> None:
    """Set the variables litellm reads when it is imported; call this just before importing it.

    litellm fetches its model price table from GitHub at import (a blocking request of up to
    5 s, then retries in a background thread) unless ``LITELLM_LOCAL_MODEL_COST_MAP`` is set.
    With ``llm_cost_map == "local"`` (the default) that variable is set to ``True`` so the
    table bundled with litellm is used and importing it touches no network; a value the user
    set explicitly is left alone.

    Raises:
        InputError: an environment variable has a malformed value.
    """
    current = current or settings()
    if current.llm_cost_map == "local":
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def host_environment_for_tools() -> dict[str, str]:
    """Return the minimal environment for host tools codeeval starts itself (not programs).

    Only ``PATH`` is passed on, so that ``bwrap``/``setpriv`` are found; sandboxed programs
    get a cleared environment built by the backend.
    """
    return {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")}
