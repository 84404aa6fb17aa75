"""codeeval: evaluate model-written code by running it in isolation.

Importing this package is cheap: it loads no optional dependency (docker, ray, litellm,
fastapi, hypothesis). Those are imported lazily by the features that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
