"""``python -m codeeval``: the same as the ``codeeval`` command."""

from codeeval.cli.main import entry

entry()
