"""Mask updaters by name: the one list of sparse-training methods.

A method is one module in this package (its options dataclass, its rule as pure functions on arrays, and a
:class:`~sparsetopo.training.updaters.base.MaskUpdater` subclass) and one entry here. ``RunConfig.method``
accepts ``"dense"`` and every name in :data:`UPDATERS`; the command line offers each method's options as
flags; the shared contract test (``tests/library/test_updaters.py``) runs every entry.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .base import MaskUpdater, Plan
from .gmp import GmpUpdater
from .rigl import RiglUpdater
from .set import SetUpdater
from .snip import SnipUpdater
from .static import StaticUpdater

__all__ = ["UPDATERS", "make_updater", "option_fields", "options_of"]

UPDATERS: dict[str, type[MaskUpdater]] = {
    "static": StaticUpdater,
    "set": SetUpdater,
    "rigl": RiglUpdater,
    "snip": SnipUpdater,
    "gmp": GmpUpdater,
}
"""Every sparse-training method by name (``"dense"`` is the absence of one)."""


def _updater(name: str) -> type[MaskUpdater]:
    if name not in UPDATERS:
        raise ValueError(f"unknown sparse-training method {name!r}; choose one of {tuple(UPDATERS)}")
    return UPDATERS[name]


def option_fields(name: str) -> tuple[str, ...]:
    """The names of method ``name``'s options (the fields of its ``OPTIONS`` dataclass)."""
    return tuple(f.name for f in dataclasses.fields(_updater(name).OPTIONS))


def options_of(name: str, values: dict[str, Any] | None = None) -> Any:
    """Method ``name``'s options dataclass from ``values`` (unset ones at their defaults).

    Raises ``ValueError`` naming an option the method does not have, or a value its checks refuse.
    """
    cls = _updater(name).OPTIONS
    values = dict(values or {})
    unknown = sorted(set(values) - set(option_fields(name)))
    if unknown:
        known = ", ".join(option_fields(name)) or "none"
        raise ValueError(f"method {name!r} has no option {', '.join(unknown)}; its options: {known}")
    return cls(**values)


def make_updater(name: str, options: Any, plan: Plan) -> MaskUpdater:
    """The updater of method ``name`` with ``options`` (its ``OPTIONS`` dataclass, or a dict of its fields) for ``plan``."""
    cls = _updater(name)
    if not isinstance(options, cls.OPTIONS):
        options = options_of(name, options)
    return cls(options, plan)
