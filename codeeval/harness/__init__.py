"""Program + tests -> sandbox jobs -> outcomes. Grows with ``codeeval score``."""
