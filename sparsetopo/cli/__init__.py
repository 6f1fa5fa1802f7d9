"""The command line: ``sparsetopo train | distance | datasets`` (:mod:`.main`, :mod:`.distance`)."""

from .main import console_main, main

__all__ = ["main", "console_main"]
