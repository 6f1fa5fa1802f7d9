"""Results and topologies print as a few informative words, not raw arrays."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import prune

from sparsetopo import store
from sparsetopo.nnstd import nnstd, pairwise_nnstd, random_baseline, tie_spread
from sparsetopo.store import RunConfig
from sparsetopo.topology.masks import random_topology
from sparsetopo.topology.modules import topology_from_module


def _pruned_mlp() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 10))
    for layer, amount in ((model[0], 0.75), (model[2], 0.5), (model[4], 0.0)):
        prune.l1_unstructured(layer, "weight", amount=amount)
    return model


def test_model_topology_repr_gives_shape_edges_and_density_per_layer():
    text = repr(topology_from_module(_pruned_mlp()))
    assert text == ("ModelTopology(3 layers [0: linear 32x64 512 edges (25%); 2: linear 16x32 256 edges (50%); "
                    "4: linear 10x16 160 edges (100%)], order='forward')")


def test_distance_results_print_their_numbers_not_their_matchings():
    a, b = random_topology([20, 12, 12, 4], density=0.3, seed=0), random_topology([20, 12, 12, 4], density=0.3, seed=1)
    result = nnstd(a, b)
    text = repr(result)
    assert text.startswith(f"NNSTDResult(mean={result.mean:.4f}, layers=[") and "widths 12x12x4" in text
    assert "array" not in text and len(text) < 200
    matrix = pairwise_nnstd([a, b, a], labels=["a", "b", "c"], progress=False, use_cache=False)
    assert repr(matrix).startswith("DistanceMatrix(3 networks ['a', 'b', 'c'], 3 layers, mean off-diagonal ")
    calibration = random_baseline(a, n_pairs=2, progress=False, use_cache=False)
    assert repr(calibration).startswith(f"Calibration(2 random pairs, mean={calibration.mean:.4f} [")
    spread = tie_spread(a, b, n_shuffles=1)
    assert repr(spread).startswith(f"TieSpread({len(spread.labels)} variants, mean_spread=")


def test_run_repr_names_the_run_and_its_accuracy(tmp_path):
    run = store.train(RunConfig(hidden=(16,), epsilon=2, epochs=1), root=tmp_path, progress=False)
    edges = "+".join(str(e) for e in run.summary["edges"])
    assert repr(run) == f"Run({run.directory.name!r}, final_test_acc={run.final_test_acc:.4f}, epochs=1, edges {edges})"
