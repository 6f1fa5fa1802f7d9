"""The command line: ``sparsetopo train | distance | datasets`` (:mod:`.main`, :mod:`.distance`)."""

from .main import main

__all__ = ["main"]
