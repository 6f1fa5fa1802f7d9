"""Where the package caches what it can recompute (NNSTD values, metric values): one decision, one place.

A cache folder is the ``cache_dir`` a caller passes, else ``$SPARSETOPO_CACHE``,
else ``<kind>/`` under the user cache directory
(``platformdirs.user_cache_dir("sparsetopo")``: ``~/.cache/sparsetopo`` on
Linux, ``~/Library/Caches/sparsetopo`` on macOS). Library calls never cache in
the caller's working directory. Folders are created when the first entry is
written, not here.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "resolve_cache_dir"]

CACHE_ENV = "SPARSETOPO_CACHE"
"""Environment variable that moves every cache of the package to one folder."""


def resolve_cache_dir(kind: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder of ``kind`` (``"nnstd"``, ``"metrics"``): ``cache_dir``, else ``$SPARSETOPO_CACHE``,
    else ``<user cache>/sparsetopo/<kind>``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("sparsetopo", appauthor=False)) / kind
