"""sparsetopo: sparse neural networks seen through graph theory.

The library: topologies (:mod:`sparsetopo.topology`), masked and sparse models
(:mod:`sparsetopo.model`, :mod:`sparsetopo.sparse_linear`), training with SET rewiring
(:mod:`sparsetopo.training`), the run store (:mod:`sparsetopo.store`), datasets
(:mod:`sparsetopo.data`), NNSTD (:mod:`sparsetopo.nnstd`), lottery tickets
(:mod:`sparsetopo.lottery`), training cost (:mod:`sparsetopo.cost`), intervals
(:mod:`sparsetopo.stats`), the parallel map (:mod:`sparsetopo.parallel`,
:mod:`sparsetopo.executor`) and the command line (:mod:`sparsetopo.cli`). The public
API of each is its ``__all__``. The paper study (``sparsetopo.study``) builds on it and
needs the ``study`` extra.

Versions: the minor version is the training engine's revision
(:data:`sparsetopo.store.config.ENGINE_REVISION`) while the major version is 0: a
release that changes any run id or training number raises it; see ``CHANGELOG.md``.
"""

import os as _os

# OpenMP threads spin-wait between parallel regions by default (torch's CPU wheels use GNU libgomp,
# which reads this once, when torch loads): on a shared machine the spinning thread competes with the
# one that has work, and a two-thread training step became several times slower than a one-thread
# one (docs/sparse-backend.md). Passive waiting changes no number; a value set by the user is kept.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.3.0"
__all__ = ["__version__", "set_verbosity"]


def set_verbosity(level: int | str = "info") -> int:
    """Set how much the package reports: the level of the ``sparsetopo`` logger.

    ``"info"`` (or ``logging.INFO``) and below also draw progress bars
    (:func:`sparsetopo.parallel.show_progress` follows this level);
    ``"warning"`` and above keep the package quiet. When no handler would
    show the messages (none on the logger or its ancestors), one writing to
    stderr is added, so a notebook sees them without configuring logging.

    Parameters
    ----------
    level : a ``logging`` level (int) or its name, case-insensitive
        (``"debug"``, ``"info"``, ``"warning"``, ``"error"``, ``"critical"``).

    Returns
    -------
    int
        The level set.

    Raises
    ------
    ValueError
        For an unknown level name or a negative level.
    """
    import logging

    names = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
             "error": logging.ERROR, "critical": logging.CRITICAL}
    if isinstance(level, str):
        if level.lower() not in names:
            raise ValueError(f"level must be one of {list(names)} or a logging level number, got {level!r}")
        value = names[level.lower()]
    elif isinstance(level, int) and not isinstance(level, bool) and level >= 0:
        value = level
    else:
        raise ValueError(f"level must be one of {list(names)} or a logging level number, got {level!r}")
    from .parallel import progress_stream

    logger = logging.getLogger("sparsetopo")
    logger.setLevel(value)
    stream = progress_stream()
    if stream is not None:
        # a study run: log lines go where the bars go (the runner's terminal), not into the notebook
        if not any(getattr(h, "stream", None) is stream for h in logger.handlers):
            handler = logging.StreamHandler(stream)
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(handler)
        logger.propagate = False
    elif not logger.hasHandlers():
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    return value
