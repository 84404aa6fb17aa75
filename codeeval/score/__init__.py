"""``codeeval score``: samples x tests -> verdicts, pass@k with standard errors, reports."""
