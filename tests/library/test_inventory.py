"""The run store's inventory (`sparsetopo runs`) and the removal of runs of earlier engine revisions."""

from __future__ import annotations

import shutil

import pytest

from sparsetopo import store
from sparsetopo.cli.main import main
from sparsetopo.store import ENGINE_REVISION, RunConfig, inventory, prune_outdated, run_id
from sparsetopo.store.locking import run_lock

TINY = dict(dataset="digits", hidden=(16,), epsilon=2, epochs=1)


def test_run_ids_of_earlier_revisions_are_the_ids_those_engines_gave():
    # computed by the code of each revision (the commits before the engine revision was raised)
    assert run_id(RunConfig(), engine_revision=1) == "digits-set-eps20-h64x64-s0-777dafc1"
    assert run_id(RunConfig(), engine_revision=2) == "digits-set-eps20-h64x64-s0-2beaadb3"
    assert run_id(RunConfig(method="dense", hidden=(16,), epochs=2), engine_revision=2) == "digits-dense-h16-s0-0ceecbe5"
    assert run_id(RunConfig(), engine_revision=ENGINE_REVISION) == run_id(RunConfig())
    with pytest.raises(ValueError, match="engine_revision must be an int"):
        run_id(RunConfig(), engine_revision=ENGINE_REVISION + 1)


@pytest.fixture
def store_root(tmp_path):
    """A store with a current run, a run of revision 2, an unfinished run and entries that are not runs."""
    root = tmp_path / "runs"
    current = store.train(RunConfig(**TINY), root=root, progress=False)
    old_config = RunConfig(**TINY, seed=1)
    old = store.train(old_config, root=root, progress=False)
    old.directory.rename(root / run_id(old_config, engine_revision=2))
    unfinished = root / run_id(RunConfig(**TINY, seed=2))
    unfinished.mkdir()
    (unfinished / "config.json").write_text(  # the config of another id, never trained
        (current.directory / "config.json").read_text().replace('"seed": 0', '"seed": 2'))
    foreign = root / "my-experiment"  # a run's files under a name the store did not give
    shutil.copytree(current.directory, foreign)
    (root / "initial_topologies").mkdir()
    (root / "notes.txt").write_text("mine")
    return root


def test_inventory_lists_status_accuracy_revision_and_size_and_leaves_other_entries_alone(store_root):
    inv = inventory(store_root)
    by_seed = {r.config.seed: r for r in inv.runs}
    assert sorted(by_seed) == [0, 1, 2]
    assert (by_seed[0].status, by_seed[0].engine_revision, by_seed[0].outdated) == ("complete", ENGINE_REVISION, False)
    assert (by_seed[1].status, by_seed[1].engine_revision, by_seed[1].outdated) == ("complete", 2, True)
    assert (by_seed[2].status, by_seed[2].final_test_acc) == ("unfinished", None)
    assert by_seed[0].final_test_acc == store.load_run(by_seed[0].directory).final_test_acc
    assert by_seed[0].size_bytes == sum(p.stat().st_size for p in by_seed[0].directory.rglob("*") if p.is_file())
    assert sorted(p.name for p in inv.other) == ["initial_topologies", "my-experiment", "notes.txt"]
    assert inv.outdated == (by_seed[1],)
    assert inventory(store_root / "nowhere").runs == ()


def test_prune_is_a_dry_run_unless_asked_to_delete_and_removes_only_old_runs(store_root, capsys):
    before = sorted(p.name for p in store_root.iterdir())
    old_name = run_id(RunConfig(**TINY, seed=1), engine_revision=2)
    assert [r.directory.name for r in prune_outdated(store_root)] == [old_name]
    assert main(["runs", "--runs-root", str(store_root), "--prune-old"]) == 0
    out = capsys.readouterr().out
    assert old_name in out and "would remove 1 runs" in out and "nothing was removed" in out
    assert sorted(p.name for p in store_root.iterdir()) == before
    assert main(["runs", "--runs-root", str(store_root), "--prune-old", "--delete"]) == 0
    assert f"removed {store_root / old_name}" in capsys.readouterr().out
    assert sorted(p.name for p in store_root.iterdir()) == [n for n in before if n != old_name]


def test_prune_keeps_an_old_run_whose_lock_another_holder_has(store_root):
    old = inventory(store_root).outdated[0].directory
    with run_lock(old, announce=False):
        assert prune_outdated(store_root, delete=True) == []
    assert old.is_dir()


def test_runs_command_prints_one_row_per_run_and_says_what_can_be_pruned(store_root, capsys):
    assert main(["runs", "--runs-root", str(store_root), "--verify"]) == 0
    out = capsys.readouterr().out
    assert "(3 runs," in out and f"current engine revision {ENGINE_REVISION}" in out
    assert "2 (old)" in out and "unfinished" in out and "1 runs of earlier engine revisions" in out
    assert "3 other entries are not run folders" in out
    assert main(["runs", "--runs-root", str(store_root), "--delete"]) == 2
    assert "--delete only acts with --prune-old" in capsys.readouterr().err
