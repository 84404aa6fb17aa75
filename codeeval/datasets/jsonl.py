"""Reading JSON-lines files (plain or gzip) with errors that name the file and line."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeeval.errors import InputError


def read_lines(path: Path, what: str) -> list[str]:
    """The lines of a ``.jsonl`` or ``.jsonl.gz`` file (gzip is recognised by its magic).

    Raises:
        InputError: the file is missing or unreadable; the message names it as ``what``.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what}") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read the {what}: {e.strerror}") from None
    return decode_lines(data, str(path), what)


def decode_lines(data: bytes, name: str, what: str) -> list[str]:
    """Split (gunzipped) bytes into text lines.

    Raises:
        InputError: the gzip stream is corrupt.
    """
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise InputError(f"{name}: corrupt gzip {what}: {e}") from None
    return data.decode("utf-8", errors="surrogateescape").splitlines()


@dataclass(frozen=True, slots=True)
class Line:
    """One non-blank line: its JSON object, or why it has none."""

    where: str  # "file:line", for messages
    number: int
    row: dict[str, Any] | None
    error: str | None


def json_objects(name: str, lines: Iterable[str]) -> Iterator[Line]:
    """Parse each non-blank line as a JSON object; bad lines come with an error message."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        where = f"{name}:{number}"
        try:
            row = json.loads(text)
        except ValueError as e:
            yield Line(where, number, None, f"{where}: not a JSON object ({e})")
            continue
        if not isinstance(row, dict):
            yield Line(where, number, None, f"{where}: not a JSON object")
            continue
        yield Line(where, number, row, None)
