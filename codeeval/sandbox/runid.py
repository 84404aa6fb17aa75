"""Run ids: ``run-<supervisor pid>-<n>``, the name of a run's directories and cgroups.

Carrying the supervisor's pid in the name is what lets a sweeper tell the leftovers of a
supervisor that died from the live runs of one that is still working.
"""

from __future__ import annotations

import itertools
import os

_counter = itertools.count()


def new_run_id() -> str:
    """Return a run id unique within this process."""
    return f"run-{os.getpid()}-{next(_counter)}"


def is_stale(name: str) -> bool:
    """Whether ``name`` is a run id whose supervisor process is gone (never ours)."""
    parts = name.split("-")
    if len(parts) != 3 or parts[0] != "run" or not parts[1].isdigit():
        return False
    owner = int(parts[1])
    if owner == os.getpid():
        return False
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
