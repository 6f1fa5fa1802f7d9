"""Training cost in MACs: dense formula, sparse scaling, per-epoch edges, IMP totals."""

from __future__ import annotations

import shutil

import pytest

from sparsetopo import atomic, store
from sparsetopo.cost import TrainingCost, lottery_cost, macs_per_sample, round_costs, training_cost
from sparsetopo.data import load_dataset
from sparsetopo.lottery import LotteryConfig, find_ticket
from sparsetopo.store.config import RunConfig

SMALL = dict(dataset="digits", hidden=(32, 32), epochs=2, batch_size=64, lr=0.05)
DENSE_EDGES = 64 * 32 + 32 * 32 + 32 * 10


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def dense(root):
    return store.train(RunConfig(method="dense", **SMALL), root=root, progress=False)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_dense_run_macs_are_three_times_edges_times_samples_times_epochs(dense, digits):
    n_train = len(digits.y_train)
    cost = training_cost(dense)
    assert cost.macs == 3 * DENSE_EDGES * n_train * 2
    assert cost.macs_forward == DENSE_EDGES * n_train * 2
    assert cost.macs_backward == 2 * cost.macs_forward
    assert cost.macs_eval == 0
    assert (cost.epochs, cost.runs) == (2, 1)
    assert training_cost(dense.directory) == cost  # a run folder works as well as a Run


def test_static_run_with_half_the_edges_costs_half(dense, root):
    half = store.train(RunConfig(method="static", layer_edges=(1024, 512, 160), **SMALL), root=root, progress=False)
    assert 2 * training_cost(half).macs == training_cost(dense).macs


def test_set_run_cost_counts_its_constant_number_of_active_edges(root, digits):
    run = store.train(RunConfig(method="set", epsilon=3, **SMALL), root=root, progress=False)
    edges = sum(run.summary["edges"])
    assert edges < DENSE_EDGES
    assert training_cost(run).macs == 3 * edges * len(digits.y_train) * 2


def test_each_epoch_is_charged_the_edges_it_trained_on(dense, tmp_path, digits):
    # a record's edges are those *after* its epoch: epoch 1 trains on the
    # initial topology, epoch 2 on the edges recorded after epoch 1
    copy = tmp_path / dense.directory.name
    shutil.copytree(dense.directory, copy)
    records = atomic.read_json(copy / "metrics.json")
    records[0]["edges"] = [100, 50, 10]
    records[1]["edges"] = [1, 1, 1]
    atomic.write_json(copy / "metrics.json", records)
    # an edited run no longer verifies, so hand the Run over directly instead of load_run
    cost = training_cost(store.Run(dense.config, copy, dense.summary))
    assert cost.macs_forward == (DENSE_EDGES + 160) * len(digits.y_train)


def test_wall_seconds_are_the_sum_of_recorded_epoch_times(dense):
    assert training_cost(dense).wall_seconds == pytest.approx(sum(r["epoch_time"] for r in dense.records))
    assert training_cost(dense).wall_seconds > 0


def test_evaluation_macs_are_counted_apart_and_only_on_request(dense, digits):
    with_eval = training_cost(dense, include_eval=True)
    assert with_eval.macs_eval == DENSE_EDGES * len(digits.y_test) * 2
    assert with_eval.macs == training_cost(dense).macs


def test_bias_counting_adds_n_out_per_layer_and_sample_to_both_passes(dense, digits):
    n, biases = len(digits.y_train), 32 + 32 + 10
    cost = training_cost(dense, include_bias=True)
    assert cost.macs_forward == (DENSE_EDGES + biases) * n * 2
    assert cost.macs_backward == (2 * DENSE_EDGES + biases) * n * 2


def test_imp_search_cost_is_the_sum_of_its_rounds(root, dense):
    ticket = find_ticket(LotteryConfig(base=RunConfig(method="dense", **SMALL), target_density=0.5), root=root, progress=False)
    per_round = [training_cost(run) for run in ticket.rounds]
    total = lottery_cost(ticket)
    assert len(per_round) == 5 and round_costs(ticket) == per_round
    assert total.macs == sum(c.macs for c in per_round)
    assert total.epochs == 10 and total.runs == 5
    assert total.wall_seconds == pytest.approx(sum(c.wall_seconds for c in per_round))
    assert per_round[0].macs == training_cost(dense).macs  # round 0 is the same dense run
    assert all(a.macs > b.macs for a, b in zip(per_round, per_round[1:]))
    assert lottery_cost(ticket.directory) == total


def test_cost_rejects_bad_input_with_clear_messages(dense):
    with pytest.raises(TypeError, match="run must be"):
        training_cost(42)
    with pytest.raises(ValueError, match="n_train"):
        training_cost(dense, n_train=0)
    with pytest.raises(ValueError, match="layer_edges"):
        macs_per_sample([10, -1])
    with pytest.raises(TypeError, match="ticket must be"):
        lottery_cost(3.5)
    assert macs_per_sample([10, 5], biases=[3, 2]) == (20, 35)
    assert TrainingCost(macs=1, epochs=1) + TrainingCost(macs=2, epochs=3) == TrainingCost(macs=3, epochs=4)
