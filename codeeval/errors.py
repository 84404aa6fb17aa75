"""The one exception tree of codeeval.

A *program's* failure is a value (a :class:`~codeeval.model.run.RunStatus` in a result);
the *system's* failure is an exception from this module.

::

    CodeevalError                      root of everything codeeval raises on purpose
    ├── InputError (ValueError)        the user gave bad input; the CLI exits 2 with one line
    │   ├── UnknownLanguageError       --lang names no registered language
    │   └── UnknownBackendError        --backend names no registered backend
    ├── UnsafeBackendRefused           the local backend was not explicitly chosen
    └── SandboxError (RuntimeError)    the sandbox itself failed: an infra error, verdict SE
        ├── BackendUnavailable         the backend cannot run here (tool missing, no userns, ...)
        │   └── ImageMissing           no image for a runtime; the message says how to build it
        └── SandboxCrashed             setup, supervision or teardown broke during a run

Callers that turn exceptions into verdicts map :class:`SandboxError` to ``SE``; it is
retried and counted apart, never as a pass or a fail of the program.
"""

from __future__ import annotations


class CodeevalError(Exception):
    """Root of every exception codeeval raises deliberately."""


class InputError(CodeevalError, ValueError):
    """Bad input from the user (file, flag, field). Its message is one line, meant for humans."""


class UnknownLanguageError(InputError):
    """A language name that the registry does not know."""


class UnknownBackendError(InputError):
    """A backend name that no registered backend answers to."""


class UnsafeBackendRefused(CodeevalError):
    """The local (unisolated) backend was requested without being explicitly chosen."""


class SandboxError(CodeevalError, RuntimeError):
    """The sandbox failed, not the program. Mapped to verdict SE at the edges."""


class BackendUnavailable(SandboxError):
    """The backend cannot work on this host; the message says what to install or change."""


class ImageMissing(BackendUnavailable):
    """No local sandbox image of the current recipe for a runtime (image-based backends)."""


class SandboxCrashed(SandboxError):
    """Setting up, supervising or tearing down one run failed."""
