"""Tests of sparsetopo.data: splits, preprocessing, readers, registration.

Tests marked ``realdata`` read the shared data folder named by
``$SPARSETOPO_DATA`` and are skipped, with the reason, when it is absent.
"""

from __future__ import annotations

import gzip
import os
import pickle
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import require_real

from sparsetopo import data
from sparsetopo.data import (
    Dataset,
    available_datasets,
    clear_cache,
    data_root,
    dataset_from_arrays,
    load_dataset,
    register_arrays,
    register_dataset,
    unregister_dataset,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch):
    """Each test starts with no function loaders and an empty raw-array cache."""
    monkeypatch.setattr(data, "_FUNCTION_LOADERS", {})
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def no_torchvision(monkeypatch):
    """Force the built-in readers, whatever torchvision does on this machine."""
    monkeypatch.setattr(data, "_torchvision_datasets", lambda: (None, "disabled by the test"))


def _blobs(n=120, n_features=5, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    X = rng.normal(size=(n, n_features)) + y[:, None]
    return X, y


# --------------------------------------------------------------------------- #
# digits: shapes, ranges, determinism, stratification
# --------------------------------------------------------------------------- #
def test_digits_has_float32_features_in_unit_range_and_int64_labels():
    ds = load_dataset("digits")
    assert isinstance(ds, Dataset)
    assert ds.x_train.dtype == torch.float32 and ds.x_test.dtype == torch.float32
    assert ds.y_train.dtype == torch.int64 and ds.y_test.dtype == torch.int64
    assert ds.x_train.shape == (1347, 64) and ds.x_test.shape == (450, 64)
    assert ds.n_features == 64 and ds.n_classes == 10
    assert ds.x_val is None and ds.y_val is None
    for x in (ds.x_train, ds.x_test):
        assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert set(ds.y_train.tolist()) == set(range(10))
    assert "digits" in ds.describe() and "1347 train" in ds.describe()
    assert "n_train=1347" in repr(ds)


def test_digits_same_seed_gives_identical_split():
    first, second = load_dataset("digits", seed=3), load_dataset("digits", seed=3)
    assert torch.equal(first.x_train, second.x_train)
    assert torch.equal(first.y_test, second.y_test)


def test_digits_different_seed_gives_different_split():
    first, second = load_dataset("digits", seed=0), load_dataset("digits", seed=1)
    assert first.x_test.shape == second.x_test.shape
    assert not torch.equal(first.x_test, second.x_test)


def test_digits_test_split_is_stratified():
    ds = load_dataset("digits", seed=5)
    all_labels = torch.cat([ds.y_train, ds.y_test])
    overall = torch.bincount(all_labels).double() / len(all_labels)
    expected_test = overall * len(ds.y_test)
    observed_test = torch.bincount(ds.y_test, minlength=10).double()
    assert torch.all((observed_test - expected_test).abs() <= 1.0)


def test_name_lookup_ignores_case():
    assert torch.equal(load_dataset("DiGiTs").y_test, load_dataset("digits").y_test)


def test_returned_tensors_are_fresh_so_callers_cannot_corrupt_the_cache():
    first = load_dataset("digits")
    expected = first.x_train.clone()
    first.x_train.fill_(123.0)
    first.y_train.fill_(7)
    second = load_dataset("digits")
    assert torch.equal(second.x_train, expected)
    assert int(second.y_train.max()) == 9 and int(second.y_train.min()) == 0


# --------------------------------------------------------------------------- #
# Preprocessing
# --------------------------------------------------------------------------- #
def test_standardize_uses_training_statistics_only():
    X, y = _blobs(n=200)
    X_test = X[:60] + 5.0  # shifted: a scaler fit on test would centre it
    ds = dataset_from_arrays(
        "shifted", X, y, X_test=X_test, y_test=y[:60], preprocessing="standardize"
    )
    train_mean = ds.x_train.double().mean(0)
    assert torch.allclose(train_mean, torch.zeros(5, dtype=torch.float64), atol=1e-5)
    train_std_after = ds.x_train.double().std(0, unbiased=False)
    assert torch.allclose(train_std_after, torch.ones(5, dtype=torch.float64), atol=1e-4)
    train_std = X.std(axis=0)
    expected_test = (X_test - X.mean(axis=0)) / train_std
    assert np.allclose(ds.x_test.numpy(), expected_test, atol=1e-5)
    assert float(ds.x_test.mean()) > 1.0


def test_standardize_on_digits_centres_train_but_not_test():
    ds = load_dataset("digits", preprocessing="standardize")
    assert float(ds.x_train.mean(0).abs().max()) < 1e-5
    assert float(ds.x_test.mean(0).abs().max()) > 1e-3


def test_feature_constant_on_training_split_is_zero_in_every_split():
    X, y = _blobs(n=60)
    X[:, 2] = 4.0
    X_test = X[:20].copy()
    X_test[:, 2] = np.linspace(-3, 3, 20)  # varies only in the test split
    for method in ("standardize", "minmax"):
        ds = dataset_from_arrays("const", X, y, X_test=X_test, y_test=y[:20], preprocessing=method)
        assert torch.all(ds.x_train[:, 2] == 0) and torch.all(ds.x_test[:, 2] == 0)
        assert torch.isfinite(ds.x_test).all()


def test_minmax_without_known_range_maps_training_split_to_unit_interval():
    X, y = _blobs(n=90)
    ds = dataset_from_arrays("mm", X * 10 + 3, y, preprocessing="minmax", seed=2)
    assert torch.allclose(ds.x_train.min(0).values, torch.zeros(5))
    assert torch.allclose(ds.x_train.max(0).values, torch.ones(5))


def test_preprocessing_outside_the_supported_set_is_rejected():
    with pytest.raises(ValueError, match="preprocessing must be one of 'minmax', 'standardize'"):
        load_dataset("digits", preprocessing="zscore")


# --------------------------------------------------------------------------- #
# Validation split
# --------------------------------------------------------------------------- #
def test_validation_split_is_disjoint_from_train_and_sized_from_fraction():
    n = 300
    X = np.stack([np.arange(n, dtype=float), np.random.default_rng(0).normal(size=n)], axis=1)
    y = np.arange(n) % 3
    ds = dataset_from_arrays("ids", X, y, test_fraction=0.2, validation_fraction=0.25, seed=4)
    # Preprocessing is one affine map per feature, so column 0 still identifies samples.
    ids = {split: set(np.round(x[:, 0].numpy(), 4)) for split, x in
           (("train", ds.x_train), ("val", ds.x_val), ("test", ds.x_test))}
    assert not ids["train"] & ids["val"]
    assert not ids["train"] & ids["test"]
    assert not ids["val"] & ids["test"]
    assert len(ds.y_test) == 60 and len(ds.y_val) == 60 and len(ds.y_train) == 180
    assert torch.equal(torch.bincount(ds.y_val), torch.tensor([20, 20, 20]))


def test_digits_validation_split_is_carved_from_training_split():
    plain = load_dataset("digits", seed=0)
    with_val = load_dataset("digits", seed=0, validation_fraction=0.2)
    assert torch.equal(with_val.y_test, plain.y_test)
    assert len(with_val.y_train) + len(with_val.y_val) == len(plain.y_train)
    assert len(with_val.y_val) == 270


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_validation_fraction_outside_zero_one_is_rejected(fraction):
    with pytest.raises(ValueError, match=r"validation_fraction must be in \[0, 1\)"):
        load_dataset("digits", validation_fraction=fraction)


# --------------------------------------------------------------------------- #
# Names, roots, errors
# --------------------------------------------------------------------------- #
def test_unknown_name_error_lists_available_datasets():
    with pytest.raises(ValueError, match="unknown dataset name 'mnsit'") as err:
        load_dataset("mnsit")
    message = str(err.value)
    assert "Did you mean 'mnist'" in message
    for name in ("digits", "fashion_mnist", "cifar10", "COIL20", "lung_discrete", "CLL_SUB_111"):
        assert name in message


def test_available_datasets_lists_builtins_including_offline_unavailable_ones(tmp_path):
    names = available_datasets(tmp_path)
    assert names[:4] == ["digits", "mnist", "fashion_mnist", "cifar10"]
    assert len(names) == 4 + 24 and {"Lung", "CLL_SUB_111", "madelon"} <= set(names)


def test_data_root_prefers_argument_then_environment_then_cwd(monkeypatch, tmp_path):
    monkeypatch.setenv("SPARSETOPO_DATA", str(tmp_path / "env"))
    assert data_root(tmp_path / "arg") == (tmp_path / "arg").resolve()
    assert data_root() == (tmp_path / "env").resolve()
    monkeypatch.delenv("SPARSETOPO_DATA")
    monkeypatch.chdir(tmp_path)
    assert data_root() == (tmp_path / "data").resolve()


@pytest.mark.parametrize(
    "name, folder, a_file",
    [
        ("mnist", "MNIST/raw", "train-images-idx3-ubyte"),
        ("fashion_mnist", "FashionMNIST/raw", "t10k-labels-idx1-ubyte"),
        ("cifar10", "cifar-10-batches-py", "data_batch_1"),
    ],
)
def test_missing_image_files_error_names_folder_files_and_remedies(tmp_path, name, folder, a_file):
    with pytest.raises(FileNotFoundError) as err:
        load_dataset(name, root=tmp_path)
    message = str(err.value)
    assert str(tmp_path / folder) in message and a_file in message
    assert "SPARSETOPO_DATA" in message and "root=" in message and "download=True" in message


def test_download_without_torchvision_explains_why_it_cannot(tmp_path, no_torchvision):
    with pytest.raises(FileNotFoundError, match="download=True needs torchvision"):
        load_dataset("mnist", root=tmp_path, download=True)


def test_download_without_torchvision_installed_names_the_extra(tmp_path, monkeypatch):
    import builtins
    import sys

    real_import = builtins.__import__

    def no_torchvision(name, *args, **kwargs):
        if name == "torchvision" or name.startswith("torchvision."):
            raise ModuleNotFoundError("No module named 'torchvision'", name="torchvision")
        return real_import(name, *args, **kwargs)

    for module in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(builtins, "__import__", no_torchvision)
    data._torchvision_datasets.cache_clear()
    try:
        with pytest.raises(FileNotFoundError, match=r'pip install "sparsetopo\[vision\]"'):
            load_dataset("cifar10", root=tmp_path, download=True)
    finally:
        data._torchvision_datasets.cache_clear()


def test_missing_scikit_feature_file_error_names_the_expected_path(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("Lung", root=tmp_path)
    assert str(tmp_path / "scikit_feature" / "Lung.mat") in str(err.value)
    assert "SPARSETOPO_DATA" in str(err.value)


@pytest.mark.parametrize(
    "X, y, message",
    [
        (np.zeros((10, 3)), np.arange(9) % 2, "X has 10 samples but y has 9"),
        (np.array([[0.0, np.nan]] * 10), np.arange(10) % 2, "non-finite"),
        (np.ones((10, 3)), np.zeros(10), "single class"),
        (np.ones(10), np.arange(10) % 2, r"X must be \(n_samples, n_features\)"),
        (np.ones((10, 3)), np.ones((10, 2)), "y must be a label vector"),
    ],
    ids=["length_mismatch", "non_finite", "single_class", "one_dimensional_X", "matrix_y"],
)
def test_invalid_arrays_are_rejected_with_the_reason(X, y, message):
    with pytest.raises(ValueError, match=message):
        dataset_from_arrays("bad", X, y)


def test_labels_are_remapped_to_consecutive_integers_in_sorted_order():
    X, _ = _blobs(n=40)
    y = np.where(np.arange(40) % 2 == 0, -1, 1)
    ds = dataset_from_arrays("pm1", X, y, seed=1)
    assert set(torch.cat([ds.y_train, ds.y_test]).tolist()) == {0, 1}
    words = np.array(["cat", "dog", "emu"])[np.arange(30) % 3]
    ds = dataset_from_arrays("words", X[:30], words)
    assert ds.n_classes == 3


def test_split_falls_back_to_unstratified_with_warning_when_a_class_is_a_singleton():
    X, y = _blobs(n=40, n_classes=2)
    y[0] = 2  # one sample of class 2 cannot be stratified
    with pytest.warns(UserWarning, match="cannot stratify"):
        ds = dataset_from_arrays("tiny", X, y)
    assert len(ds.y_train) + len(ds.y_test) == 40


# --------------------------------------------------------------------------- #
# Image readers (synthetic files in the torchvision layout)
# --------------------------------------------------------------------------- #
def _write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(f"{path}.gz", "wb") as handle:
            handle.write(payload)
    else:
        path.write_bytes(payload)


def _write_tiny_mnist(root: Path, folder: str, compress: bool, seed: int = 0):
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    arrays = {}
    for prefix, n in (("train", 12), ("t10k", 6)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 3).astype(np.uint8)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images, compress)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, compress)
        arrays[prefix] = (images, labels)
    return arrays


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gz"])
def test_idx_reader_reads_torchvision_layout_and_scales_pixels(tmp_path, no_torchvision, compress):
    arrays = _write_tiny_mnist(tmp_path, "FashionMNIST", compress)
    ds = load_dataset("fashion_mnist", root=tmp_path)
    images, labels = arrays["train"]
    assert ds.x_train.shape == (12, 784) and ds.x_test.shape == (6, 784)
    assert np.allclose(ds.x_train.numpy(), images.reshape(12, -1) / 255.0)
    assert ds.y_train.tolist() == labels.tolist()


def test_fixed_split_dataset_rejects_test_fraction(tmp_path, no_torchvision):
    _write_tiny_mnist(tmp_path, "MNIST", compress=False)
    with pytest.raises(ValueError, match="fixed train/test split"):
        load_dataset("mnist", root=tmp_path, test_fraction=0.3)


def _write_tiny_cifar(root: Path) -> dict[str, np.ndarray]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(1)
    rows = {}
    for file in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        rows[file] = rng.integers(0, 256, size=(4, 3072), dtype=np.uint8)
        with open(folder / file, "wb") as handle:
            pickle.dump({b"data": rows[file], b"labels": [0, 1, 2, 3]}, handle)
    return rows


def test_cifar_features_are_channel_first_in_both_torchvision_and_fallback_reader(
    tmp_path, monkeypatch
):
    rows = _write_tiny_cifar(tmp_path)
    train_rows = np.concatenate([rows[f"data_batch_{i}"] for i in range(1, 6)])

    class FakeCIFAR10:  # what torchvision.datasets.CIFAR10 exposes: (N, H, W, C)
        def __init__(self, root, train, download):
            source = train_rows if train else rows["test_batch"]
            self.data = source.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            self.targets = [0, 1, 2, 3] * (len(source) // 4)

    fake = types.SimpleNamespace(CIFAR10=FakeCIFAR10)
    monkeypatch.setattr(data, "_torchvision_datasets", lambda: (fake, ""))
    through_torchvision = load_dataset("cifar10", root=tmp_path)
    clear_cache()
    monkeypatch.setattr(data, "_torchvision_datasets", lambda: (None, "disabled"))
    through_reader = load_dataset("cifar10", root=tmp_path)
    assert through_reader.x_train.shape == (20, 3072)
    assert np.allclose(through_reader.x_train.numpy(), train_rows / 255.0)
    assert torch.equal(through_torchvision.x_train, through_reader.x_train)
    assert torch.equal(through_torchvision.y_test, through_reader.y_test)


# --------------------------------------------------------------------------- #
# User datasets
# --------------------------------------------------------------------------- #
def test_register_arrays_round_trip_survives_cleared_process_state(tmp_path, monkeypatch):
    X, y = _blobs(n=100)
    path = register_arrays("blobs", X, y, test_fraction=0.2, root=tmp_path)
    assert path == tmp_path / "custom" / "blobs.npz"
    assert [p.name for p in path.parent.iterdir()] == ["blobs.npz"]  # no temporary left
    first = load_dataset("blobs", root=tmp_path, seed=2)
    assert len(first.y_test) == 20 and first.preprocessing == "standardize"
    # As a fresh worker would be: no in-process registrations, no cache.
    monkeypatch.setattr(data, "_FUNCTION_LOADERS", {})
    clear_cache()
    second = load_dataset("BLOBS", root=tmp_path, seed=2)
    assert torch.equal(first.x_train, second.x_train) and torch.equal(first.y_test, second.y_test)
    assert "blobs" in available_datasets(tmp_path)


def test_register_arrays_again_replaces_the_data(tmp_path):
    X, y = _blobs(n=60)
    register_arrays("swap", X, y, root=tmp_path)
    assert load_dataset("swap", root=tmp_path).n_features == 5
    register_arrays("swap", X[:, :2], y, preprocessing="minmax", root=tmp_path)
    replaced = load_dataset("swap", root=tmp_path)
    assert replaced.n_features == 2 and replaced.preprocessing == "minmax"


def test_registered_arrays_are_visible_to_a_fresh_process(tmp_path):
    X, y = _blobs(n=80)
    register_arrays("shared_blobs", X, y, root=tmp_path)
    here = load_dataset("shared_blobs", root=tmp_path, seed=1)
    script = textwrap.dedent(
        """
        from sparsetopo.data import load_dataset
        ds = load_dataset("shared_blobs", seed=1)
        print(ds.y_test.tolist())
        """
    )
    env = {**os.environ, "SPARSETOPO_DATA": str(tmp_path), "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(here.y_test.tolist())


def test_register_dataset_accepts_loader_returning_x_y_or_fixed_split(tmp_path):
    X, y = _blobs(n=90)
    seen = []

    def pairs(root, seed):
        seen.append((root, seed))
        return X, y

    register_dataset("pairs", pairs, test_fraction=0.2)
    ds = load_dataset("pairs", root=tmp_path, seed=7)
    assert seen == [(tmp_path.resolve(), 7)] and len(ds.y_test) == 18

    register_dataset("fixed", lambda root, seed: (X[:60], y[:60], X[60:], y[60:]))
    ds = load_dataset("fixed", validation_fraction=0.5)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (30, 30, 30)
    assert "fixed" in available_datasets()

    unregister_dataset("fixed")
    with pytest.raises(ValueError, match="unknown dataset name 'fixed'"):
        load_dataset("fixed")


def test_loader_returning_wrong_tuple_is_reported():
    register_dataset("broken", lambda root, seed: (np.zeros((4, 2)),))
    with pytest.raises(ValueError, match=r"must return \(X, y\) or"):
        load_dataset("broken")


@pytest.mark.parametrize("name", ["digits", "MNIST", "../escape", ""])
def test_registration_rejects_builtin_or_unsafe_names(tmp_path, name):
    X, y = _blobs(n=20)
    with pytest.raises(ValueError, match="name"):
        register_arrays(name, X, y, root=tmp_path)
    with pytest.raises(ValueError, match="name"):
        register_dataset(name, lambda root, seed: (X, y))


# --------------------------------------------------------------------------- #
# Real data ($SPARSETOPO_DATA)
# --------------------------------------------------------------------------- #
@pytest.mark.realdata
@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_real_mnist_like_sets_have_official_split_in_unit_range(name, folder):
    root = require_real(
        f"{folder}/raw/train-images-idx3-ubyte", f"{folder}/raw/t10k-images-idx3-ubyte"
    )
    ds = load_dataset(name, root=root)
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert ds.n_classes == 10
    assert float(ds.x_train.min()) == 0.0 and float(ds.x_train.max()) == 1.0
    assert float(ds.x_test.min()) >= 0.0 and float(ds.x_test.max()) <= 1.0


@pytest.mark.realdata
def test_real_coil20_has_1440_samples_of_1024_features_in_20_classes():
    root = require_real("scikit_feature/COIL20.mat")
    ds = load_dataset("coil20", root=root)
    assert len(ds.y_train) + len(ds.y_test) == 1440
    assert ds.n_features == 1024 and ds.n_classes == 20
    assert set(ds.y_test.tolist()) == set(range(20))


@pytest.mark.realdata
def test_real_madelon_labels_minus_one_plus_one_become_two_classes():
    root = require_real("scikit_feature/madelon.mat")
    ds = load_dataset("madelon", root=root)
    assert ds.n_classes == 2 and ds.n_features == 500
    assert set(ds.y_train.tolist()) == {0, 1}
    assert len(ds.y_train) + len(ds.y_test) == 2600
