"""The language registry: how to compile (optionally) and run a program in each language."""

from codeeval.languages.registry import (
    CompileStep,
    Language,
    get_language,
    language_for_path,
    language_names,
    register_language,
)

__all__ = [
    "CompileStep",
    "Language",
    "get_language",
    "language_for_path",
    "language_names",
    "register_language",
]
