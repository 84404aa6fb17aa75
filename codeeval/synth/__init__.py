"""Test synthesis: stronger suites from a problem's references (``codeeval synth``)."""
