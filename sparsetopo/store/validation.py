"""Checks of run-configuration values: the names of :mod:`sparsetopo.training.validation`, where they live.

The checks moved beside :class:`~sparsetopo.training.config.RunConfig`, below the store; this module hands
them on so that ``sparsetopo.store.validation`` keeps working.
"""

from ..training.validation import (
    BACKENDS,
    DEVICES,
    INIT_DRAWS,
    LR_SCHEDULES,
    METHODS,
    WEIGHT_DECAY_MODES,
    WEIGHT_INITS,
    check_config_for_widths,
    check_config_values,
)

__all__ = ["check_config_values", "check_config_for_widths", "METHODS", "LR_SCHEDULES", "WEIGHT_INITS", "INIT_DRAWS",
           "WEIGHT_DECAY_MODES", "BACKENDS", "DEVICES"]
