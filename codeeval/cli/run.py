"""``codeeval run FILE``: run one program in a sandbox and report how it ended.

With ``--json`` it prints exactly one JSON object (the command-line contract in
DESIGN.md): status, exit_code, signal, cpu_time_s, wall_time_s, peak_memory_mb, stdout,
stderr, stdout_truncated, stderr_truncated (plus ``reason``). Without it, the program's
stdout and stderr are passed through and a one-line summary goes to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from codeeval import config
from codeeval.errors import InputError, SandboxError
from codeeval.model.run import RunResult, RunStatus

_MIB = 1024 * 1024


def add_parser(subs: Any) -> None:
    """Register the ``run`` sub-command on ``subs``."""
    p = subs.add_parser("run", help="run one program in a sandbox",
                        description="Run one program in a sandbox and report how it ended.")
    p.add_argument("file", metavar="FILE", help="source file of the program")
    p.add_argument("--lang", help="language (default: from the file extension)")
    p.add_argument("--stdin", metavar="FILE", help="file fed to the program's stdin")
    p.add_argument("--time-limit", type=float, default=2.0, metavar="S",
                   help="CPU-time limit in seconds (default 2)")
    p.add_argument("--wall-time-limit", type=float, default=None, metavar="S",
                   help="wall-clock limit in seconds (default 2 x time limit + 1)")
    p.add_argument("--memory-limit", type=int, default=512, metavar="MB",
                   help="memory limit in MiB (default 512)")
    p.add_argument("--output-limit", type=int, default=16, metavar="MB",
                   help="stdout limit in MiB (default 16)")
    p.add_argument("--backend", help="namespace (default), docker, or local (unsafe: trusted "
                   "code only)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=handle)


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{what} {path}: is a directory") from None
    except OSError as e:
        raise InputError(f"{what} {path}: {e.strerror}") from None


def handle(args: argparse.Namespace) -> int:
    """Run the program; return the exit code (0, or 1 on an infra error).

    Raises:
        InputError: bad file, language or limit.
    """
    from codeeval.harness.program import run_source
    from codeeval.languages import get_language, language_for_path
    from codeeval.model.run import Limits
    from codeeval.sandbox import open_backend

    lang = get_language(args.lang) if args.lang else language_for_path(args.file)
    source = _read(args.file, "program")
    stdin = _read(args.stdin, "stdin file") if args.stdin else b""
    if args.output_limit is not None and args.output_limit <= 0:
        raise InputError(f"--output-limit must be positive, got {args.output_limit}")
    try:
        limits = Limits(time_s=args.time_limit, wall_time_s=args.wall_time_limit,
                        memory_mb=args.memory_limit, stdout_bytes=args.output_limit * _MIB)
    except InputError as e:
        raise InputError(str(e).replace("limit time_s", "--time-limit")
                         .replace("limit wall_time_s", "--wall-time-limit")
                         .replace("limit memory_mb", "--memory-limit")) from None
    # One run: pre-spawning sandboxes for later runs would only cost time.
    one_shot = dataclasses.replace(config.settings(), prespawn=0)
    try:
        with open_backend(args.backend, one_shot) as backend:
            if not backend.isolates:
                print(f"codeeval: warning: {backend.describe()}", file=sys.stderr)
            result = run_source(backend, lang, source, stdin=stdin, limits=limits)
    except SandboxError as e:
        result = RunResult(status=RunStatus.SE, exit_code=None, signal=None, cpu_time_s=0.0,
                           wall_time_s=0.0, peak_memory_mb=None, stdout=b"", stderr=b"",
                           reason=str(e))
    _render(result, as_json=args.json)
    return 1 if result.status is RunStatus.SE else 0


def _render(result: RunResult, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(result.stdout)
    sys.stdout.buffer.flush()
    sys.stderr.buffer.write(result.stderr)
    mem = "?" if result.peak_memory_mb is None else f"{result.peak_memory_mb:.1f} MiB"
    print(f"codeeval: {result.status.value} ({result.reason}); cpu {result.cpu_time_s:.3f} s, "
          f"wall {result.wall_time_s:.3f} s, memory {mem}", file=sys.stderr)
