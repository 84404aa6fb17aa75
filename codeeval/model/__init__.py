"""Pure value types shared by every layer: run statuses, limits, jobs and results."""

from codeeval.model.run import (
    WORKDIR,
    FileSpec,
    Job,
    Limits,
    RunResult,
    RunStatus,
    worst_status,
)

__all__ = ["WORKDIR", "FileSpec", "Job", "Limits", "RunResult", "RunStatus", "worst_status"]
