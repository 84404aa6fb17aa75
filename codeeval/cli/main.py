"""``codeeval`` entry point: sub-command dispatch and the error-to-exit-code policy.

Exit codes: 0 success; 1 the run finished but hit an infra error (SE); 2 bad input, with
one line naming what is wrong. Bad input never shows a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from codeeval import __version__
from codeeval.errors import CodeevalError, InputError

EXIT_OK = 0
EXIT_INFRA = 1
EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"codeeval: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser for every sub-command."""
    from codeeval.cli import images as images_cmd
    from codeeval.cli import quality as quality_cmd
    from codeeval.cli import run as run_cmd
    from codeeval.cli import score as score_cmd
    from codeeval.cli import serve as serve_cmd
    from codeeval.cli import synth as synth_cmd

    parser = _Parser(prog="codeeval", description="Evaluate model-written code by running it.")
    parser.add_argument("--version", action="version", version=f"codeeval {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    run_cmd.add_parser(subs)
    score_cmd.add_parser(subs)
    serve_cmd.add_parser(subs)
    synth_cmd.add_parser(subs)
    quality_cmd.add_parser(subs)
    images_cmd.add_parser(subs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    from codeeval import config

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        code: int = args.handler(args)
        return code
    except InputError as e:
        print(f"codeeval: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CodeevalError as e:
        print(f"codeeval: error: {e}", file=sys.stderr)
        return EXIT_INFRA
    except KeyboardInterrupt:
        print("codeeval: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `codeeval score ... | head`: the reader went away
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the final flush
        return 0
    except Exception as e:  # an internal bug: one line unless debugging
        try:
            debug = config.settings().debug
        except InputError:
            debug = False
        if debug:
            raise
        print(f"codeeval: internal error: {type(e).__name__}: {e} "
              "(set CODEEVAL_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_INFRA


def entry() -> NoReturn:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
