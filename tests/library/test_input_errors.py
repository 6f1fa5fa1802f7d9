"""Wrong inputs get an error that names the file or the parameter."""

from __future__ import annotations

import errno
import gzip
import os

import numpy as np
import pytest

from sparsetopo.data import (
    dataset_fingerprint,
    dataset_from_arrays,
    dataset_info,
    load_dataset,
    register_arrays,
    register_dataset,
    unregister_dataset,
)
from sparsetopo.errors import FileWriteError
from sparsetopo.store.config import RunConfig
from sparsetopo.topology.masks import as_topology, export_published, load_published, load_topology, random_topology

# ------------------------------------------------------------------ dataset files


def _write_idx(path, array, gz=False):
    dtype_code = {np.uint8: 0x08}[array.dtype.type]
    header = bytes([0, 0, dtype_code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    raw = header + array.tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(raw)
    else:
        path.write_bytes(raw)


def _fake_mnist(root, n_train=30, n_test=10, labels_train=None, gz=False):
    folder = root / "MNIST" / "raw"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    labels_train = np.arange(n_train, dtype=np.uint8) % 10 if labels_train is None else labels_train
    _write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 255, (n_train, 28, 28), dtype=np.uint8), gz)
    _write_idx(folder / "train-labels-idx1-ubyte", labels_train, gz)
    _write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 255, (n_test, 28, 28), dtype=np.uint8), gz)
    _write_idx(folder / "t10k-labels-idx1-ubyte", np.arange(n_test, dtype=np.uint8) % 10, gz)
    return folder


def test_idx_labels_out_of_range_name_the_label_file(tmp_path):
    labels = np.arange(30, dtype=np.uint8) % 10
    labels[[3, 7, 11]] = 200
    _fake_mnist(tmp_path, labels_train=labels)
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte: 3 label\(s\) outside 0..9"):
        load_dataset("mnist", root=tmp_path)
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte"):
        dataset_info("mnist", root=tmp_path)


def test_truncated_gz_names_the_file(tmp_path):
    folder = _fake_mnist(tmp_path, gz=True)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz.*truncated"):
        load_dataset("mnist", root=tmp_path)


def test_truncated_mat_names_the_file(tmp_path):
    import scipy.io

    folder = tmp_path / "scikit_feature"
    folder.mkdir()
    scipy.io.savemat(folder / "colon.mat", {"X": np.random.default_rng(0).normal(size=(40, 30)), "Y": np.arange(40) % 2})
    raw = (folder / "colon.mat").read_bytes()
    (folder / "colon.mat").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(ValueError, match="colon.mat"):
        load_dataset("colon", root=tmp_path)


def test_dataset_info_matches_load_dataset_without_building_it(tmp_path):
    _fake_mnist(tmp_path, n_train=60, n_test=12)
    for name, root in (("digits", None), ("mnist", tmp_path)):
        info = dataset_info(name, root=root, validation_fraction=0.2)
        data = load_dataset(name, root=root, validation_fraction=0.2, seed=3)
        assert (info.n_features, info.n_classes) == (data.n_features, data.n_classes)
        assert (info.n_train, info.n_val, info.n_test) == (len(data.y_train), len(data.y_val), len(data.y_test))


@pytest.mark.parametrize(
    "X, y, message",
    [
        (np.random.default_rng(0).normal(size=(200, 3)), np.random.default_rng(1).normal(size=200), "continuous"),
        (np.arange(300.0).reshape(100, 3), np.arange(100), "continuous"),
        (np.full((20, 3), np.nan), np.arange(20) % 2, "non-finite"),
        (np.zeros((20, 3)), np.arange(19) % 2, "20 samples but y has 19"),
        (np.zeros((20, 3)), np.zeros(20), "single class"),
    ],
    ids=["float-target", "id-column", "nan-features", "lengths", "one-class"],
)
def test_register_arrays_rejects_what_is_not_a_classification_set(tmp_path, X, y, message):
    with pytest.raises(ValueError, match=message):
        register_arrays("bad", X, y, root=tmp_path)
    assert not (tmp_path / "custom" / "bad.npz").exists()


def test_fingerprint_follows_the_registered_arrays(tmp_path):
    X = np.random.default_rng(0).normal(size=(50, 4))
    y = np.arange(50) % 2
    register_arrays("fp", X, y, root=tmp_path)
    first = dataset_fingerprint("fp", root=tmp_path)
    register_arrays("fp", X, y, root=tmp_path)
    assert dataset_fingerprint("fp", root=tmp_path) == first
    register_arrays("fp", X, y[::-1].copy(), root=tmp_path)
    assert dataset_fingerprint("fp", root=tmp_path) != first


def test_a_name_differing_only_in_case_is_refused_and_the_first_dataset_is_kept(tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 3))
    register_arrays("mydata", X, np.arange(40) % 2, root=tmp_path)
    with pytest.raises(ValueError, match=r"'MyData' differs only in case from the registered dataset 'mydata'"):
        register_arrays("MyData", X * 2, np.arange(40) % 4, root=tmp_path)
    assert sorted(p.name for p in (tmp_path / "custom").iterdir()) == ["mydata.npz"]
    assert load_dataset("mydata", root=tmp_path).n_classes == 2
    register_dataset("loaderdata", lambda root, seed: (X, np.arange(40) % 2))
    try:
        with pytest.raises(ValueError, match="'loaderdata'"):
            register_dataset("LoaderData", lambda root, seed: (X, np.arange(40) % 3))
    finally:
        unregister_dataset("loaderdata")


def test_register_arrays_on_a_full_disk_names_the_file_and_the_cause(tmp_path, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", no_space)
    with pytest.raises(FileWriteError, match=r"custom/full\.npz: No space left on device; free some space"):
        register_arrays("full", np.zeros((10, 2)), np.arange(10) % 2, root=tmp_path)
    assert not list((tmp_path / "custom").iterdir())


def test_features_beyond_float32_are_refused_at_registration_and_load(tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 3))
    X[5, 2] = 1e308
    with pytest.raises(ValueError, match=r"too large for float32.*1e\+308 at sample 5, feature 2.*rescale"):
        register_arrays("huge", X, np.arange(40) % 2, root=tmp_path)
    with pytest.raises(ValueError, match="too large for float32"):
        dataset_from_arrays("huge", X, np.arange(40) % 2)
    spread = np.random.default_rng(0).normal(size=(40, 3)) * 1e30  # fits float32, but its variance does not
    with pytest.raises(ValueError, match=r"standardize statistics of feature 0 overflow float32"):
        dataset_from_arrays("spread", spread, np.arange(40) % 2)


def test_a_validation_fraction_that_leaves_almost_nothing_to_train_on_is_refused():
    with pytest.raises(ValueError, match=r"validation_fraction=0.999 leaves 1 of the 1347 .* 10 classes; use at most"):
        dataset_info("digits", validation_fraction=0.999)
    with pytest.raises(ValueError, match="validation_fraction=0.999"):
        load_dataset("digits", validation_fraction=0.999)
    assert dataset_info("digits", validation_fraction=0.99).n_train >= 10


# ------------------------------------------------------------------ topologies


@pytest.mark.parametrize("shape", [(0, 4), (3, 0), (2, 3, 0, 0)], ids=["no-neurons", "no-inputs", "no-kernel"])
def test_zero_width_layers_are_refused_with_their_shape(shape):
    from sparsetopo.nnstd.distance import nnstd

    layer = np.ones(shape, bool)
    with pytest.raises(ValueError, match=r"zero width"):
        nnstd([layer], [layer])


def test_published_folder_missing_its_last_layer_is_checked_against_its_other_epochs(tmp_path):
    topology = random_topology([6, 5, 4, 3], density=0.5)
    for epoch in (0, 5):
        export_published(tmp_path / "run", epoch, topology)
    (tmp_path / "run" / "epoch_005" / "weight_l2.npz").unlink()
    with pytest.raises(FileNotFoundError, match=r"weight_l2.npz missing, although epoch_000 of the same run"):
        load_published(tmp_path / "run", 5)
    assert len(load_published(tmp_path / "run", 0)) == 3


def test_random_bytes_are_not_a_topology_and_numpy_pickle_advice_is_not_shown(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(os.urandom(300))
    with pytest.raises(ValueError, match="noise.npz is not a valid topology file") as err:
        load_topology(path)
    assert "allow_pickle" not in str(err.value)


@pytest.mark.parametrize(
    "entries, message",
    [
        (dict(index_0=np.asarray([-1])), "outside"),
        (dict(index_0=np.asarray([4])), "outside"),
        (dict(index_0=np.asarray(["a"])), "integer edge positions"),
        (dict(shape_0=np.asarray([2, 0])), "two positive integers"),
        (dict(n_layers=np.asarray(2)), "shape_1"),
    ],
    ids=["negative-index", "index-too-large", "string-index", "zero-shape", "missing-layer"],
)
def test_malformed_topology_files_name_the_file(tmp_path, entries, message):
    base = dict(n_layers=np.asarray(1), shape_0=np.asarray([2, 2]), index_0=np.asarray([0, 3]), metadata=np.asarray("{}"))
    np.savez(tmp_path / "t.npz", **{**base, **entries})
    with pytest.raises(ValueError, match=f"t.npz.*{message}"):
        load_topology(tmp_path / "t.npz")


def test_published_folder_missing_a_layer_file_is_an_error_not_renumbered(tmp_path):
    export_published(tmp_path / "run", 5, random_topology([6, 5, 4, 3], density=0.5))
    (tmp_path / "run" / "epoch_005" / "weight_l1.npz").unlink()
    with pytest.raises(FileNotFoundError, match="weight_l1.npz"):
        load_published(tmp_path / "run", 5)


def test_string_masks_are_rejected():
    with pytest.raises(ValueError, match="dtype"):
        as_topology([np.array([["1", "0"], ["0", "1"]])])


# ------------------------------------------------------------------ config values


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(lr=float("nan")), "lr=nan"),
        (dict(momentum=float("inf")), "momentum"),
        (dict(epsilon=float("nan")), "epsilon"),
        (dict(epsilon=None, density=1.0), "method='dense'"),
        (dict(method="dense", initial_topology="t.npz"), "initial_topology"),
        (dict(epsilon=None, layer_edges=(10, 0)), r"layer_edges\[1\] is 0"),
        (dict(hidden=(16.5,)), "hidden"),
        (dict(epochs=2.5), "epochs"),
        (dict(batch_size="64"), "batch_size"),
        (dict(weight_decay=-1.0), "weight_decay"),
    ],
)
def test_config_values_that_cannot_work_are_rejected_with_their_name(changes, message):
    base = dict(dataset="digits", hidden=(16,), method="static", epsilon=2)
    with pytest.raises(ValueError, match=message):
        RunConfig(**{**base, **changes})
