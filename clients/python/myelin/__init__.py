"""Myelin's Python tracking client (standard library only).

    from myelin import tracking
    run = tracking.Run()
"""
__version__ = "0.1.0"

from .exceptions import MyelinError  # noqa: E402
from . import tracking  # noqa: E402

__all__ = ["MyelinError", "tracking", "__version__"]
