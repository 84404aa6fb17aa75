"""The language registry: how to compile (optionally) and run a program in each language."""

from codeeval.languages.registry import (
    CompileStep,
    Language,
    get_language,
    language_for_path,
    language_names,
    register_language,
)

# The languages besides Python register themselves on import.
from codeeval.languages import builtin as _builtin  # noqa: F401  # isort: skip

__all__ = [
    "CompileStep",
    "Language",
    "get_language",
    "language_for_path",
    "language_names",
    "register_language",
]
