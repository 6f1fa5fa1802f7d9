"""Tests of sparsetopo.metrics: every metric on graphs whose values are known, the shared contract,
null comparisons, the frame over stored runs, the `metrics` subcommand and the networkx export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from helpers import require_published

import sparsetopo.metrics.registry as registry
from sparsetopo.cli.main import main
from sparsetopo.errors import UnsupportedTopologyError
from sparsetopo.metrics import METRICS, compute, metrics_frame, null_panel, topology_frame, with_null
from sparsetopo.metrics.degrees import gini
from sparsetopo.topology.layered import permute_hidden_units
from sparsetopo.topology.masks import export_published, random_topology, rewire_fraction, save_topology
from sparsetopo.topology.nulls import erdos_renyi


def mlp() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.random((12, 10)) < 0.3, rng.random((9, 12)) < 0.3, np.ones((3, 9), dtype=bool)]


def conv() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.random((6, 2, 3, 3)) < 0.5, rng.random((5, 6, 3, 3)) < 0.4, rng.random((4, 5 * 4)) < 0.6]


def value(name, *topologies):
    return compute(name, *topologies)


def projective_plane(q: int) -> np.ndarray:
    """Point-line incidence of PG(2, q), q prime: (q+1)-regular, singular values q+1 and sqrt(q)."""
    points = []
    for x in range(q):
        for y in range(q):
            points.append((x, y, 1))
    points += [(x, 1, 0) for x in range(q)] + [(1, 0, 0)]
    p = np.array(points)
    return (p @ p.T) % q == 0


# ---------------------------------------------------------------------------
# the contract every registered metric keeps
# ---------------------------------------------------------------------------


def _evaluate(metric, topology, other=None):
    if metric.kind == "topology":
        return compute(metric, topology)
    if metric.kind == "pair":
        return compute(metric, topology, topology if other is None else other)
    return compute(metric, [topology, topology if other is None else other])


@pytest.mark.parametrize("name", list(METRICS))
def test_every_registered_metric_keeps_the_contract(name):
    metric = METRICS[name]
    assert metric.kind in registry.KINDS and metric.description
    for topology in (mlp(), conv()):
        result = _evaluate(metric, topology, rewire_fraction(topology, 0.3, seed=1) if np.ndim(topology[0]) == 2 else None)
        layers = np.asarray(result.layers)
        assert layers.shape == (len(topology),) and layers.dtype == np.float64
        assert np.isnan(layers).all() != metric.layers
        assert np.isnan(result.network) != metric.network
        # the same numbers from scipy sparse layers, and again on a second call
        if np.ndim(topology[0]) == 2:
            sparse = [sp.csr_matrix(m) for m in topology]
            other = rewire_fraction(topology, 0.3, seed=1)
            again = _evaluate(metric, sparse, [sp.csr_matrix(m) for m in other])
            np.testing.assert_array_equal(again.layers, _evaluate(metric, topology, other).layers)
        if metric.kind == "topology":
            # renumbering hidden neurons changes no graph measure
            shuffled = compute(metric, permute_hidden_units(topology, seed=2))
            np.testing.assert_allclose(shuffled.layers, result.layers, rtol=1e-9, equal_nan=True)
            np.testing.assert_allclose(shuffled.network, result.network, rtol=1e-9, equal_nan=True)
    comparison = with_null(name, mlp(), other=mlp() if metric.kind == "pair" else None, draws=2, seed=0) \
        if metric.kind != "sequence" else with_null(name, [mlp(), mlp()], draws=2)
    assert comparison.samples.shape == (2, len(mlp()) + 1)
    assert list(comparison.frame().columns) == ["value", "null_mean", "null_std", "z", "percentile"]


# ---------------------------------------------------------------------------
# known graphs
# ---------------------------------------------------------------------------


def test_complete_bipartite_layers():
    topology = [np.ones((4, 3), dtype=bool), np.ones((5, 4), dtype=bool)]
    np.testing.assert_array_equal(value("in_degree_mean", topology).layers, [3, 4])
    np.testing.assert_array_equal(value("out_degree_mean", topology).layers, [4, 5])
    for name in ("in_degree_std", "in_degree_gini", "out_degree_gini", "dead_neurons", "unconnected_inputs"):
        np.testing.assert_array_equal(value(name, topology).layers, [0, 0])
    assert value("effective_nodes", topology).network == 3 + 4 + 5
    assert value("effective_paths", topology).network == pytest.approx(np.log10(3 * 4 * 5))
    np.testing.assert_array_equal(value("second_singular_value", topology).layers, [0, 0])
    np.testing.assert_allclose(value("ramanujan_bound", topology).layers, [np.sqrt(2) + np.sqrt(3), np.sqrt(3) + 2])


def test_perfect_matchings():
    topology = [np.eye(6, dtype=bool), np.eye(6, dtype=bool)[::-1]]
    np.testing.assert_array_equal(value("in_degree_mean", topology).layers, [1, 1])
    np.testing.assert_array_equal(value("in_degree_gini", topology).layers, [0, 0])
    assert value("effective_paths", topology).network == pytest.approx(np.log10(6))
    np.testing.assert_allclose(value("second_singular_value", topology).layers, [1, 1])
    np.testing.assert_array_equal(value("ramanujan_bound", topology).layers, [0, 0])
    np.testing.assert_allclose(value("ramanujan_gap", topology).layers, [-1, -1])  # disconnected: far from an expander


def test_regular_bipartite_expander_is_ramanujan():
    q = 5
    incidence = projective_plane(q)
    assert incidence.shape == (31, 31) and (incidence.sum(axis=1) == q + 1).all()
    assert value("second_singular_value", [incidence]).layers[0] == pytest.approx(np.sqrt(q))
    assert value("ramanujan_bound", [incidence]).layers[0] == pytest.approx(2 * np.sqrt(q))
    assert value("ramanujan_gap", [incidence]).layers[0] == pytest.approx(np.sqrt(q))
    assert value("in_degree_gini", [incidence]).layers[0] == 0.0


def test_empty_layer():
    topology = [np.ones((4, 3), dtype=bool), np.zeros((5, 4), dtype=bool)]
    np.testing.assert_array_equal(value("dead_neurons", topology).layers, [1, 1])
    np.testing.assert_array_equal(value("unconnected_inputs", topology).layers, [0, 1])
    np.testing.assert_array_equal(value("effective_nodes", topology).layers, [0, 0])
    assert value("effective_paths", topology).network == -np.inf
    assert value("in_degree_gini", topology).layers[1] == 0.0
    assert value("second_singular_value", topology).layers[1] == 0.0
    with pytest.raises(UnsupportedTopologyError, match="ramanujan_gap: layer 1 has no edges"):
        value("ramanujan_gap", topology)


def test_spectral_measure_of_erdos_renyi_layers_lies_at_the_random_matrix_edge():
    # sigma_2 of an m x n Bernoulli(p) matrix tends to sqrt(p (1 - p)) (sqrt(m) + sqrt(n)) (Bai-Yin edge)
    m, n, p = 400, 300, 0.1
    template = np.zeros((m, n), dtype=bool)
    template[:, : int(p * n)] = True
    edge = np.sqrt(p * (1 - p)) * (np.sqrt(m) + np.sqrt(n))
    for seed in range(3):
        layer = erdos_renyi([template], seed)[0]
        s2 = value("second_singular_value", [sp.csr_matrix(layer)]).layers[0]
        assert 0.95 * edge < s2 < 1.05 * edge


def test_gini_and_degrees_of_known_vectors_and_conv_units():
    assert gini(np.array([0, 0, 0, 4])) == pytest.approx(0.75)
    assert gini(np.array([2, 2, 2])) == 0.0 and gini(np.zeros(3)) == 0.0
    layer = np.zeros((2, 3, 2, 2), dtype=bool)  # 2 output channels, 3 input channels, 2x2 kernels
    layer[0, 0] = True  # channel 0 -> 0 through all 4 kernel positions
    layer[1, 2, 0, 0] = True
    topology = [layer, np.ones((1, 2 * 9), dtype=bool)]  # then a linear layer over a 3x3 map of 2 channels
    np.testing.assert_array_equal(value("in_degree_mean", topology).layers, [2.5, 18])
    np.testing.assert_array_equal(value("out_degree_mean", topology).layers, [5 / 3, 9])
    np.testing.assert_array_equal(value("unconnected_inputs", topology).layers, [1 / 3, 0])
    assert value("effective_paths", topology).network == pytest.approx(np.log10(4 * 9 + 1 * 9))


def test_dead_neurons_count_neurons_without_inputs_or_outputs():
    first = np.ones((4, 3), dtype=bool)
    first[0] = False  # neuron 0: no input
    second = np.ones((2, 4), dtype=bool)
    second[:, 3] = False  # neuron 3: no output
    result = value("dead_neurons", [first, second])
    np.testing.assert_array_equal(result.layers, [0.5, 0.0])
    assert result.network == pytest.approx(2 / 6)
    np.testing.assert_array_equal(value("effective_nodes", [first, second]).layers, [2, 2])


def test_overlap_and_explored_rate_follow_their_definitions():
    a = [np.array([[1, 1, 0, 0]], dtype=bool)]
    b = [np.array([[0, 1, 1, 0]], dtype=bool)]
    assert value("edge_jaccard", a, b).layers[0] == 2 / 3
    assert value("edge_hamming", a, b).layers[0] == 2 / 4
    assert value("explored_rate", [a, b]).layers[0] == 3 / 4
    assert value("explored_rate", [a]).network == 2 / 4


def test_unsupported_topologies_raise_errors_that_say_which_and_why():
    with pytest.raises(UnsupportedTopologyError, match="second_singular_value: layer 1 .* single singular value"):
        value("second_singular_value", [np.ones((4, 3), dtype=bool), np.ones((1, 4), dtype=bool)])
    with pytest.raises(UnsupportedTopologyError, match="edge_jaccard: topology 1 has layer shapes"):
        value("edge_jaccard", [np.ones((4, 3), dtype=bool)], [np.ones((4, 5), dtype=bool)])
    with pytest.raises(UnsupportedTopologyError, match="explored_rate: no snapshots"):
        value("explored_rate", [])
    with pytest.raises(ValueError, match="unknown metric 'degree'; available: in_degree_mean"):
        value("degree", mlp())
    with pytest.raises(ValueError, match="layer 1 has 5 inputs but layer 0 has 4 outputs"):
        value("in_degree_mean", [np.ones((4, 3)), np.ones((2, 5))])


# ---------------------------------------------------------------------------
# null comparisons
# ---------------------------------------------------------------------------


def test_degree_null_fixes_degree_statistics_and_er_null_sees_their_skew():
    rng = np.random.default_rng(0)
    skewed = np.zeros((40, 30), dtype=bool)
    skewed[:5] = rng.random((5, 30)) < 0.9  # five hubs take most inputs
    skewed[5:] = rng.random((35, 30)) < 0.05
    topology = [skewed, np.ones((3, 40), dtype=bool)]
    degree = null_panel(topology, ["in_degree_gini", "second_singular_value"], null="degree", draws=4, seed=1)
    assert np.isnan(degree["in_degree_gini"].z[0]) and degree["in_degree_gini"].percentile[0] == 50
    er = with_null("in_degree_gini", topology, null="er", draws=8, seed=1)
    assert er.z[0] > 5 and er.percentile[0] == 100
    again = with_null("in_degree_gini", topology, null="er", draws=8, seed=1)
    np.testing.assert_array_equal(again.samples, er.samples)


def test_with_null_checks_its_arguments():
    with pytest.raises(ValueError, match="draws must be an integer >= 2"):
        with_null("in_degree_gini", mlp(), draws=1)
    with pytest.raises(ValueError, match="give the second topology as other="):
        with_null("edge_jaccard", mlp())
    with pytest.raises(ValueError, match="null='uniform'"):
        with_null("in_degree_gini", mlp(), null="uniform")


# ---------------------------------------------------------------------------
# the frame over stored runs
# ---------------------------------------------------------------------------


def store_run(folder, epochs=(0, 10, 20)):
    topology = random_topology((20, 16, 12, 4), epsilon=2, seed=0)
    for e in epochs:
        save_topology(folder / "topology" / f"epoch_{e:03d}.npz", topology, epoch=e)
        topology = rewire_fraction(topology, 0.2, seed=e)
    return folder


def test_metrics_frame_reads_stored_snapshots_and_caches_by_content(tmp_path, monkeypatch):
    run = store_run(tmp_path / "run")
    frame = metrics_frame([run], ["in_degree_gini", "explored_rate", "edge_jaccard"], cache_dir=tmp_path / "c")
    assert list(frame.columns) == ["run", "epoch", "metric", "layer", "value"]
    assert len(frame) == 3 * 3 * 4
    explored = frame.query("metric == 'explored_rate' and layer == 'network'")["value"].to_numpy()
    assert explored[0] < explored[1] < explored[2]
    jaccard = frame.query("metric == 'edge_jaccard' and layer == 'layer_0'")["value"].to_numpy()
    assert jaccard[0] == 0.0 and jaccard[2] > jaccard[1] > 0
    calls, original = [], METRICS["in_degree_gini"].func
    counted = registry.Metric("in_degree_gini", lambda g: calls.append(1) or original(g))
    monkeypatch.setitem(registry.METRICS, "in_degree_gini", counted)
    again = metrics_frame([run], ["in_degree_gini", "explored_rate", "edge_jaccard"], cache_dir=tmp_path / "c")
    assert calls == []
    pd.testing.assert_frame_equal(again, frame)
    # a snapshot rewritten with other edges is computed afresh
    save_topology(run / "topology" / "epoch_020.npz", random_topology((20, 16, 12, 4), epsilon=2, seed=9))
    metrics_frame([run], ["in_degree_gini"], [20], cache_dir=tmp_path / "c")
    assert calls == [1]


def test_metrics_frame_with_null_reads_the_published_layout_and_names_missing_epochs(tmp_path):
    topology = random_topology((20, 16, 12, 4), epsilon=2, seed=0)
    export_published(tmp_path / "pub", 0, topology)
    export_published(tmp_path / "pub", 5, rewire_fraction(topology, 0.5, seed=1))
    frame = metrics_frame(tmp_path / "pub", ["in_degree_std"], 5, null="degree", draws=3, cache_dir=tmp_path / "c")
    assert set(frame["epoch"]) == {5} and (frame["null"] == "degree").all()
    np.testing.assert_allclose(frame["null_mean"], frame["value"])
    with pytest.raises(KeyError, match=r"no snapshot at epoch\(s\) \[7\]; its snapshots: \[0, 5\]"):
        metrics_frame(tmp_path / "pub", ["in_degree_std"], [7], cache_dir=tmp_path / "c")


def test_topology_frame_matches_metrics_frame(tmp_path):
    topology = random_topology((20, 16, 12, 4), epsilon=2, seed=0)
    save_topology(tmp_path / "t.npz", topology)
    from_file = metrics_frame(tmp_path / "t.npz", ["dead_neurons", "ramanujan_gap"], null="er", draws=2)
    in_memory = topology_frame(topology, ["dead_neurons", "ramanujan_gap"], null="er", draws=2, label="t")
    pd.testing.assert_frame_equal(from_file, in_memory)


@pytest.mark.realdata
def test_published_networks_have_more_skewed_fan_in_than_random_graphs_of_their_size(tmp_path):
    run = require_published() / "e5_s0_w0"
    frame = metrics_frame(run, ["in_degree_gini", "dead_neurons"], [190], null="er", draws=4, cache_dir=tmp_path)
    layer0 = frame.query("layer == 'layer_0'").set_index("metric")
    assert layer0.loc["in_degree_gini", "z"] > 5 and layer0.loc["dead_neurons", "percentile"] == 100


# ---------------------------------------------------------------------------
# the `metrics` subcommand
# ---------------------------------------------------------------------------


def test_metrics_command_prints_writes_csv_and_never_overwrites_without_force(tmp_path, capsys):
    run = store_run(tmp_path / "run")
    out = tmp_path / "m.csv"
    assert main(["metrics", str(run), "--metric", "in_degree_gini", "--null", "er", "--draws", "2",
                 "--epoch", "10", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "in_degree_gini" in printed and "epoch 10" in printed
    written = pd.read_csv(out)
    assert len(written) == 4 and set(written["null"]) == {"er"}
    assert main(["metrics", str(run), "--metric", "in_degree_gini", "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["metrics", str(run), "--metric", "in_degree_gini", "--out", str(out), "--force"]) == 0


def test_metrics_command_reads_state_dicts_and_reports_bad_input_on_one_line(tmp_path, capsys):
    import torch

    state = {"fc1.weight": torch.tensor(mlp()[0], dtype=torch.float32), "fc2.weight": torch.ones(3, 12)}
    torch.save(state, tmp_path / "model.pt")
    assert main(["metrics", str(tmp_path / "model.pt"), "--metric", "dead_neurons"]) == 0
    assert "model" in capsys.readouterr().out
    assert main(["metrics", str(tmp_path / "model.pt"), "--metric", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown metric(s) nope" in err
    assert main(["metrics", "--list"]) == 0
    assert "ramanujan_gap" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# networkx export
# ---------------------------------------------------------------------------


def test_networkx_export_and_graphml(tmp_path):
    nx = pytest.importorskip("networkx")
    from sparsetopo.metrics import to_networkx, write_graphml

    topology = conv()
    g = to_networkx(topology)
    assert g.number_of_nodes() == 2 + 6 + 5 + 4
    unit_edges = sum(int((m.reshape(m.shape[0], 2 if k == 0 else 6, -1).any(axis=2)).sum())
                     if m.ndim == 4 else int(m.reshape(4, 5, 4).any(axis=2).sum()) for k, m in enumerate(topology))
    assert g.number_of_edges() == unit_edges
    assert sum(w for _, _, w in g.edges(data="weights")) == sum(int(m.sum()) for m in topology)
    path = write_graphml(topology, tmp_path / "t.graphml")
    assert nx.read_graphml(path).number_of_edges() == unit_edges
    with pytest.raises(FileExistsError, match="force=True"):
        write_graphml(topology, path)


def test_export_without_networkx_says_how_to_install_it(monkeypatch):
    import sys

    from sparsetopo.metrics import to_networkx

    monkeypatch.setitem(sys.modules, "networkx", None)
    with pytest.raises(ImportError, match=r"pip install sparsetopo\[graph\]"):
        to_networkx(mlp())
