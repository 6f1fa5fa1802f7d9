"""RunConfig.train_samples: a stratified, seeded subset of the training split."""

import numpy as np
import pytest
import torch

from sparsetopo.data import dataset_from_arrays, load_dataset, training_subset
from sparsetopo.store import train
from sparsetopo.store.config import RunConfig, run_id


def _data():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [60, 30, 10])
    x = rng.normal(size=(100, 4)).astype(np.float32)
    return dataset_from_arrays("toy", x, y, test_fraction=0.2, seed=0)


def test_subset_is_stratified_seeded_and_nested():
    data = _data()
    counts = np.bincount(data.y_train.numpy())
    small = training_subset(data, 40, seed=1)
    assert len(small.y_train) == 40
    got = np.bincount(small.y_train.numpy(), minlength=3)
    assert np.all(np.abs(got - 40 * counts / counts.sum()) <= 1)
    again = training_subset(data, 40, seed=1)
    assert torch.equal(small.x_train, again.x_train)
    other = training_subset(data, 40, seed=2)
    assert not torch.equal(small.x_train, other.x_train)
    larger = training_subset(data, 60, seed=1)
    rows = {tuple(r) for r in larger.x_train.numpy().tolist()}
    assert all(tuple(r) in rows for r in small.x_train.numpy().tolist())
    assert torch.equal(small.x_test, data.x_test)


@pytest.mark.parametrize("n", [0, 81, 2.5, True])
def test_subset_refuses_bad_sizes(n):
    with pytest.raises(ValueError, match="train_samples"):
        training_subset(_data(), n)


def test_run_trains_on_the_subset_and_the_id_changes(tmp_path):
    full = RunConfig(dataset="digits", hidden=(16,), method="dense", epochs=1)
    sub = RunConfig(dataset="digits", hidden=(16,), method="dense", epochs=1, train_samples=200)
    assert run_id(full) != run_id(sub)
    assert "train_samples" not in full.hashed_dict()
    run = train(sub, root=tmp_path, progress=False)
    n_full = len(load_dataset("digits").y_train)
    assert run.config.train_samples == 200 < n_full
    with pytest.raises(ValueError, match="train_samples"):
        train(RunConfig(dataset="digits", hidden=(16,), method="dense", epochs=1, train_samples=n_full + 1),
              root=tmp_path, progress=False)
    with pytest.raises(ValueError, match="train_samples"):
        RunConfig(dataset="digits", train_samples=0)
