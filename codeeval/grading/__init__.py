"""Pure grading: compare outputs, fold verdicts, compute metrics. No I/O, no sandbox."""
