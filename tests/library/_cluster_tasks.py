"""Task functions for the cluster tests, in a module light enough for a fresh scheduler and worker to import."""

from __future__ import annotations

import time
from pathlib import Path


def finish_or_wait(item: tuple[str, float]) -> str:
    """Sleep ``delay`` seconds, then write ``done`` to ``path``: a task whose completion a test can see on disk."""
    path, delay = item
    time.sleep(delay)
    Path(path).write_text("done")
    return path
