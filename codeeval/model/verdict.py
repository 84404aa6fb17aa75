"""The verdict of a program on a test suite."""

from __future__ import annotations

import enum

from codeeval.model.run import RunStatus


class Verdict(enum.StrEnum):
    """AC all tests passed; WA a wrong answer; RE a crash or exception; TLE, MLE, OLE a limit;
    CE the program does not compile (Python: a SyntaxError at load); SE an infra error
    (never counted as pass or fail)."""

    AC = "AC"
    WA = "WA"
    RE = "RE"
    TLE = "TLE"
    MLE = "MLE"
    OLE = "OLE"
    CE = "CE"
    SE = "SE"

    @classmethod
    def from_status(cls, status: RunStatus) -> Verdict:
        """The verdict a run ending with ``status`` gives (``OK`` alone proves nothing: WA)."""
        return {RunStatus.OK: cls.WA, RunStatus.RE: cls.RE, RunStatus.TLE: cls.TLE,
                RunStatus.MLE: cls.MLE, RunStatus.OLE: cls.OLE, RunStatus.CE: cls.CE,
                RunStatus.SE: cls.SE}[status]
