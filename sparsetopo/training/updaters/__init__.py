"""Mask updaters: the sparse-training methods, one module each, behind one protocol.

:mod:`.base`      the protocol (:class:`MaskUpdater`: when it acts, what it changes, its state) and the context
                  through which every topology change reaches weights and optimiser state
:mod:`.registry`  ``UPDATERS``: the methods by name
:mod:`.static`    the initial topology, kept
:mod:`.set`       SET: prune and regrow at random between epochs
:mod:`.rigl`      RigL: drop by magnitude, grow by gradient, every ΔT steps on a cosine schedule
:mod:`.snip`      SNIP: one-shot pruning at initialisation by connection sensitivity
:mod:`.gmp`       gradual magnitude pruning from dense on Zhu & Gupta's cubic schedule
"""

from .base import Batch, MaskUpdater, Plan, UpdateContext
from .registry import UPDATERS, make_updater, option_fields, options_of

__all__ = ["MaskUpdater", "UpdateContext", "Plan", "Batch", "UPDATERS", "make_updater", "option_fields", "options_of"]
