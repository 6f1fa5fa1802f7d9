"""Iterative magnitude pruning: schedule, rewinding, masks, resumption, controls."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import sparsetopo.lottery as lottery
import sparsetopo.training.loop as training_loop
from sparsetopo import atomic
from sparsetopo.lottery import (
    CONTROLS,
    LotteryConfig,
    control_configs,
    find_ticket,
    load_ticket,
    magnitude_prune,
    n_rounds,
    pruning_schedule,
    ticket_layer_edges,
    train_controls,
)
from sparsetopo.store.config import RunConfig
from sparsetopo.topology.masks import edge_counts, edges_for_density

SMALL = dict(dataset="digits", hidden=(32, 32), epochs=2, batch_size=64, lr=0.05)
BASE = RunConfig(method="dense", **SMALL)
WIDTHS = [64, 32, 32, 10]
SIZES = [64 * 32, 32 * 32, 32 * 10]
HALF = LotteryConfig(base=BASE, target_density=0.5)  # p = 0.2: 0.8^3 = 0.512 > 0.5 >= 0.8^4 -> 4 rounds


@pytest.fixture(scope="module")
def ticket(tmp_path_factory):
    return find_ticket(HALF, root=tmp_path_factory.mktemp("runs"), progress=False)


def _weights(state, k):
    return state[f"layers.{k}.weight"]


def test_number_of_rounds_is_the_smallest_n_whose_geometric_density_reaches_the_target():
    assert n_rounds(0.2, 0.5) == 4
    assert n_rounds(0.2, 0.64) == 2  # 0.8**2 = 0.6400000000000001 must count as reaching 0.64
    assert n_rounds(0.2, 0.8) == 1
    assert n_rounds(0.5, 0.25) == 2
    assert n_rounds(0.2, 1.0) == 0
    assert HALF.n_rounds == 4


def test_schedule_prunes_p_of_hidden_and_p_over_2_of_output_and_ends_on_the_target():
    schedule = pruning_schedule(HALF, WIDTHS)
    assert len(schedule) == 5
    assert schedule[0] == SIZES
    for r in range(1, 4):
        assert schedule[r][:2] == [round(0.8**r * s) for s in SIZES[:2]]
    assert schedule[4][:2] == [edges_for_density(0.5, 64, 32), edges_for_density(0.5, 32, 32)] == [1024, 512]
    assert [row[2] for row in schedule] == [round(0.9**r * 320) for r in range(5)]


def test_each_round_has_exactly_the_planned_edge_counts_and_the_last_lands_on_the_target(ticket):
    assert ticket.complete and len(ticket.rounds) == 5
    schedule = pruning_schedule(HALF, WIDTHS)
    for r, run in enumerate(ticket.rounds):
        assert edge_counts(run.topology(0)) == schedule[r]
        assert all(rec["edges"] == schedule[r] for rec in run.records)
    assert list(ticket.layer_edges) == [1024, 512, round(0.9**4 * 320)]
    assert ticket.densities[-1][:2] == [0.5, 0.5]
    assert ticket_layer_edges(ticket) == ticket_layer_edges(ticket.masks) == ticket.layer_edges
    for previous, run in zip(ticket.rounds, ticket.rounds[1:]):
        assert all((m & ~p).sum() == 0 for m, p in zip(run.topology(0), previous.topology(0)))


def test_pruning_removes_the_smallest_magnitudes_of_the_previous_round(ticket):
    for previous, run in zip(ticket.rounds, ticket.rounds[1:]):
        final = previous.state_dict("final")
        for k, (old, new) in enumerate(zip(previous.topology(0), run.topology(0))):
            mags = _weights(final, k).abs().numpy()
            pruned = old & ~new
            if pruned.any():
                assert mags[new].min() >= mags[pruned].max()


def test_rewinding_restores_the_initial_values_of_surviving_weights_bitwise(ticket):
    init = ticket.rounds[0].state_dict("init")
    for run in ticket.rounds[1:]:
        state = run.state_dict("init")
        for k in range(3):
            mask = state[f"layers.{k}.mask"]
            assert np.array_equal(mask.numpy(), run.topology(0)[k])
            assert torch.equal(_weights(state, k)[mask], _weights(init, k)[mask])
            assert (_weights(state, k)[~mask] == 0).all()
            assert torch.equal(state[f"layers.{k}.bias"], init[f"layers.{k}.bias"])
    assert torch.equal(_weights(ticket.rewind_state, 0), _weights(ticket.run.state_dict("init"), 0))


def test_late_rewinding_restores_the_weights_after_epoch_r(tmp_path):
    config = LotteryConfig(base=BASE, target_density=0.8, rewind_epoch=1)
    t = find_ticket(config, root=tmp_path, progress=False)
    epoch1 = t.rounds[0].state_dict("epoch_001")
    init = t.rounds[0].state_dict("init")
    state = t.run.state_dict("init")
    for k in range(3):
        mask = state[f"layers.{k}.mask"]
        assert torch.equal(_weights(state, k)[mask], _weights(epoch1, k)[mask])
        assert not torch.equal(_weights(state, k)[mask], _weights(init, k)[mask])
        assert torch.equal(state[f"layers.{k}.bias"], epoch1[f"layers.{k}.bias"])


def test_pruned_weights_stay_zero_during_retraining(ticket):
    for run in ticket.rounds[1:]:
        mask = run.topology(0)
        assert all(all(np.array_equal(a, b) for a, b in zip(run.topology(e), mask)) for e in run.snapshot_epochs())
        init, final = run.state_dict("init"), run.state_dict("final")
        for k, m in enumerate(mask):
            w = _weights(final, k).numpy()
            assert np.array_equal(final[f"layers.{k}.mask"].numpy(), m)
            assert (w[~m] == 0).all()
            assert (w[m] != _weights(init, k).numpy()[m]).mean() > 0.5  # the surviving weights did train


def test_magnitude_prune_keeps_the_top_k_and_breaks_ties_by_the_lower_index():
    w = np.array([[3.0, 1.0, -1.0, 1.0], [0.5, -2.0, 1.0, 9.0]])
    mask = np.array([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=bool)  # the 9.0 is already pruned
    (kept,) = magnitude_prune([w], [mask], [4])
    expected = np.zeros_like(mask)
    expected[0, 0] = expected[1, 1] = expected[0, 1] = expected[0, 2] = True  # 3, -2, then the first two |1|s
    assert np.array_equal(kept, expected)
    again = magnitude_prune([w], [mask], [4])[0]
    assert np.array_equal(again, kept)
    with pytest.raises(ValueError, match="cannot keep 8 edges"):
        magnitude_prune([w], [mask], [8])


def test_global_pruning_ranks_the_pooled_layers_under_one_threshold():
    big = np.full((2, 3), 5.0)
    small = np.arange(1.0, 7.0).reshape(3, 2) / 10
    out = np.array([[1.0, 2.0, 3.0]])
    masks = [np.ones(a.shape, dtype=bool) for a in (big, small, out)]
    kept = magnitude_prune([big, small, out], masks, [3, 3, 2], pooled=(0, 1))
    assert edge_counts(kept) == [6, 0, 2]  # all six 5.0s beat every weight of layer 1
    assert np.array_equal(kept[2], np.array([[False, True, True]]))


def test_global_search_keeps_the_hidden_total_and_the_output_rate(tmp_path):
    config = LotteryConfig(base=BASE, target_density=0.8, global_pruning=True)
    t = find_ticket(config, root=tmp_path, progress=False)
    plan = pruning_schedule(config, WIDTHS)[-1]
    assert sum(t.layer_edges[:2]) == sum(plan[:2]) and t.layer_edges[2] == plan[2]
    final = t.rounds[0].state_dict("final")
    kept = np.concatenate([_weights(final, k).abs().numpy()[t.masks[k]] for k in range(2)])
    pruned = np.concatenate([_weights(final, k).abs().numpy()[~t.masks[k]] for k in range(2)])
    assert kept.min() >= pruned.max()
    assert t.directory.name.startswith("digits-imp-global-")


def test_controls_share_the_tickets_edge_counts_but_differ_in_mask_or_initial_weights(ticket):
    configs = control_configs(ticket)
    assert tuple(configs) == CONTROLS
    assert all(c.seed != HALF.base.seed for c in configs.values())
    runs = train_controls(ticket, root=ticket.directory.parent, progress=False)
    reinit, static, set_run = runs["reinit"], runs["random_static"], runs["set"]
    for run in runs.values():
        assert edge_counts(run.topology(0)) == list(ticket.layer_edges)
        assert all(rec["edges"] == list(ticket.layer_edges) for rec in run.records)
    assert all(np.array_equal(a, b) for a, b in zip(reinit.topology(0), ticket.masks))
    mask0 = torch.from_numpy(ticket.masks[0])
    ticket_w, reinit_w = _weights(ticket.rewind_state, 0)[mask0], _weights(reinit.state_dict("init"), 0)[mask0]
    assert not torch.equal(reinit_w, ticket_w)
    # Frankle & Carbin's controls start from the ticket's distribution (the dense init, masked), not a rescaled one
    assert configs["reinit"].weight_init == configs["random_static"].weight_init == "dense"
    # (IMP keeps larger initial weights more often, so the ticket's spread is wider; the bound is the same)
    assert ticket_w.abs().max() * 0.9 <= reinit_w.abs().max() <= ticket_w.abs().max() * 1.05
    for run in (static, set_run):
        assert not np.array_equal(run.topology(0)[0], ticket.masks[0])
        assert not np.array_equal(run.topology(0)[1], ticket.masks[1])
    assert set_run.config.method == "set" and set_run.records[0]["removed"][0] > 0


def test_same_seed_reproduces_the_ticket_bitwise_and_another_seed_does_not(tmp_path):
    config = LotteryConfig(base=BASE, target_density=0.8)
    a = find_ticket(config, root=tmp_path / "a", progress=False)
    b = find_ticket(config, root=tmp_path / "b", progress=False)
    c = find_ticket(config.replace(base=BASE.replace(seed=1)), root=tmp_path / "a", progress=False)
    assert a.directory.name == b.directory.name != c.directory.name
    assert all(np.array_equal(x, y) for x, y in zip(a.masks, b.masks))
    assert all(torch.equal(a.rewind_state[k], b.rewind_state[k]) for k in a.rewind_state)
    assert not np.array_equal(a.masks[0], c.masks[0])


def test_interrupted_search_resumes_in_its_round_and_skips_finished_rounds(tmp_path, monkeypatch, ticket):
    real_train_run = training_loop.train_run

    def interrupt_round_2(config, run_dir, **kwargs):
        if run_dir.name == "round_02":
            def stop(epoch, record):
                raise KeyboardInterrupt

            kwargs["on_epoch_end"] = stop
        return real_train_run(config, run_dir, **kwargs)

    partial = find_ticket(HALF, root=tmp_path, progress=False, stop_after=1)
    assert not partial.complete and len(partial.rounds) == 2
    assert not partial.mask_path.exists()
    assert atomic.read_json(partial.directory / "lottery.json")["complete"] is False
    with pytest.raises(ValueError, match="stopped after round 1 of 4"):
        control_configs(partial)
    monkeypatch.setattr(training_loop, "train_run", interrupt_round_2)
    with pytest.raises(KeyboardInterrupt):
        find_ticket(HALF, root=tmp_path, progress=False)
    assert (partial.directory / "round_02" / "checkpoint.pt").exists()

    trained = []

    def refuse_finished_rounds(config, run_dir, **kwargs):
        assert run_dir.name not in ("round_00", "round_01"), f"retrained finished {run_dir.name}"
        trained.append(run_dir.name)
        return real_train_run(config, run_dir, **kwargs)

    monkeypatch.setattr(training_loop, "train_run", refuse_finished_rounds)
    resumed = find_ticket(HALF, root=tmp_path, progress=False)
    assert trained == ["round_02", "round_03", "round_04"]
    assert resumed.complete and resumed.mask_path.exists()
    assert [r["epoch"] for r in resumed.rounds[2].records] == [1, 2]
    # resuming gives bitwise the ticket of an uninterrupted search
    assert all(np.array_equal(x, y) for x, y in zip(resumed.masks, ticket.masks))
    final, reference = resumed.run.state_dict("final"), ticket.run.state_dict("final")
    assert all(torch.equal(final[k], reference[k]) for k in final)
    assert load_ticket(resumed.directory).layer_edges == ticket.layer_edges


def test_lottery_folder_is_a_readable_slug_plus_hash_with_its_rounds_recorded(ticket):
    assert re.fullmatch(r"digits-imp-h32x32-p0p2-d0p5-rw0-s0-[0-9a-f]{8}", ticket.directory.name)
    meta = atomic.read_json(ticket.directory / "lottery.json")
    assert meta["complete"] is True and meta["n_rounds"] == 4
    assert [r["edges"] for r in meta["rounds"]] == meta["planned_edges"]
    assert [r["final_test_acc"] for r in meta["rounds"]] == ticket.accuracies
    assert LotteryConfig.from_dict(meta["config"]) == HALF
    again = load_ticket(ticket.directory)
    assert again.complete and again.accuracies == ticket.accuracies
    assert len(ticket.summary()) == 5


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(target_density=0.0), "target_density"),
        (dict(target_density=1.5), "target_density"),
        (dict(target_density=-0.1), "target_density"),
        (dict(prune_fraction=0.0), "prune_fraction"),
        (dict(prune_fraction=1.0), "prune_fraction"),
        (dict(output_prune_fraction=1.0), "output_prune_fraction"),
        (dict(rewind_epoch=3), "rewind_epoch=3 is beyond"),
        (dict(rewind_epoch=-1), "rewind_epoch"),
        (dict(round_epochs=0), "round_epochs"),
        (dict(base=BASE.replace(method="static", density=0.5)), "base.method"),
    ],
)
def test_bad_lottery_config_is_rejected_with_a_message_naming_the_field(changes, field):
    with pytest.raises(ValueError, match=re.escape(field)):
        HALF.replace(**changes)


def test_a_target_that_empties_a_layer_or_a_bad_stop_after_is_rejected_before_training(tmp_path):
    with pytest.raises(ValueError, match="without edges"):
        find_ticket(HALF.replace(target_density=1e-4), root=tmp_path, progress=False)
    with pytest.raises(ValueError, match="stop_after"):
        find_ticket(HALF, root=tmp_path, progress=False, stop_after=-1)
    assert not any(tmp_path.iterdir())


def test_control_epochs_default_to_the_round_length_and_can_be_raised(ticket):
    default = control_configs(ticket)
    longer = control_configs(ticket, epochs=ticket.config.round_epochs + 5)
    assert {c.epochs for c in default.values()} == {ticket.config.round_epochs}
    assert {c.epochs for c in longer.values()} == {ticket.config.round_epochs + 5}
    with pytest.raises(ValueError, match="epochs"):
        control_configs(ticket, epochs=0)


def test_imp_rounds_train_through_the_store_and_hold_its_lock(tmp_path, monkeypatch):
    import sparsetopo.store.runs as store_runs

    folders = []
    real = store_runs.train_into

    def recording(run_dir, config, **kwargs):
        folders.append(Path(run_dir).name)
        return real(run_dir, config, **kwargs)

    monkeypatch.setattr(store_runs, "train_into", recording)
    ticket = find_ticket(HALF, root=tmp_path, progress=False, stop_after=1)
    assert folders == ["round_00", "round_01"]
    assert all((r.directory / ".lock").exists() for r in ticket.rounds)


def test_a_search_on_changed_data_is_a_new_search(tmp_path, monkeypatch):
    import numpy as np

    from sparsetopo.data import register_arrays, unregister_dataset

    monkeypatch.setenv("SPARSETOPO_DATA", str(tmp_path / "data"))
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 8)), np.arange(60) % 3
    register_arrays("imp_data", X, y)
    config = LotteryConfig(base=RunConfig(dataset="imp_data", hidden=(8,), method="dense", epsilon=None, epochs=1))
    first = lottery.lottery_id(config)
    unregister_dataset("imp_data")
    register_arrays("imp_data", X, y[::-1].copy())
    assert lottery.lottery_id(config) != first


def test_ticket_repr_is_one_line_with_rounds_density_and_accuracy(ticket):
    text = repr(ticket)
    density = sum(ticket.layer_edges) / sum(a * b for a, b in zip(ticket.widths[:-1], ticket.widths[1:]))
    assert text == (f"Ticket({ticket.directory.name!r}, {len(ticket.rounds)} rounds, complete=True, "
                    f"density {density:.4f}, final_test_acc={ticket.run.final_test_acc:.4f})")
