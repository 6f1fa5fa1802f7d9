"""sparsetopo: sparse neural networks seen through graph theory.

The package holds all logic of the study: topologies (:mod:`sparsetopo.topology`),
masked models (:mod:`sparsetopo.model`), training with SET rewiring
(:mod:`sparsetopo.training`, :mod:`sparsetopo.set_rewiring`), the run store
(:mod:`sparsetopo.store`), datasets (:mod:`sparsetopo.data`), NNSTD
(:mod:`sparsetopo.nnstd`) and lottery tickets (:mod:`sparsetopo.lottery`).
"""

__version__ = "0.1.0"
