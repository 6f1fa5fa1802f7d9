"""Static sparse training: the initial topology is kept for the whole run."""

from __future__ import annotations

from dataclasses import dataclass

from .base import MaskUpdater

__all__ = ["StaticOptions", "StaticUpdater"]


@dataclass(frozen=True)
class StaticOptions:
    """Static training has no options: the run's sparsity (ε, density or edge counts) draws the topology once."""


class StaticUpdater(MaskUpdater):
    """Never changes the topology: the Erdős–Rényi graph with the run's exact edge counts trains as drawn."""

    name = "static"
    acts = "never"
    OPTIONS = StaticOptions
