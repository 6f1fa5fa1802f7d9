"""Datasets by name: train/test (and optional validation) tensors for MLPs.

Every dataset comes back as a :class:`Dataset` of float32 feature matrices
``(n_samples, n_features)`` and int64 label vectors ``(n_samples,)`` with
labels ``0 .. n_classes - 1`` (the original label values in sorted order).
Images are flattened; CIFAR-10 features are ordered channel, row, column, as
``torchvision.transforms.ToTensor()(img).flatten()`` would give.

Built-in datasets (names are matched case-insensitively):

- ``digits``: scikit-learn's 8x8 digits (1797 x 64, 10 classes), embedded, needs
  no files; stratified 25 % test split from the seed; default minmax (/16).
  The dataset for smoke runs and tests.
- ``mnist``, ``fashion_mnist``: ``<root>/MNIST/raw``, ``<root>/FashionMNIST/raw``
  (idx files, optionally .gz); the official 60000 / 10000 split, 784 features;
  default minmax (/255).
- ``cifar10``: ``<root>/cifar-10-batches-py`` (the python pickles); the official
  50000 / 10000 split, 3072 features; default minmax (/255).
- scikit-feature sets (:data:`SCIKIT_FEATURE_DATASETS`, e.g. ``COIL20``,
  ``madelon``): ``<root>/scikit_feature/<NAME>.mat`` with variables ``X``
  (samples x features) and ``Y`` (labels); stratified 30 % test split from the
  seed; default standardize.

``<root>`` is :func:`data_root`: the ``root`` argument, else the environment
variable ``SPARSETOPO_DATA``, else ``./data``. The image sets are read through
``torchvision.datasets`` when torchvision imports, otherwise by a reader of the
same on-disk layout; ``download=True`` fetches missing image files through
torchvision (there is no download without it, and none for scikit-feature).

Preprocessing
-------------
``"minmax"``
    Scale to [0, 1]. Datasets with a known value range (pixels 0..255, digits
    0..16) are divided by it; others use the per-feature minimum and maximum of
    the training split, so validation and test values may fall slightly outside
    [0, 1].
``"standardize"``
    Per-feature z-score with mean and standard deviation of the training split
    only (after the validation split is carved out of it), so nothing about the
    held-out samples leaks into the inputs.

When the scale is fitted (standardize, or minmax without a known range), a
feature that is constant on the training split is set to 0 in every split: the
network never saw it vary, and dividing by a zero range would blow up the
held-out values.

The validation split (``validation_fraction`` of the training split) is carved
from the training split, stratified, from the seed. Splits that cannot be
stratified (a class with a single sample, or fewer held-out samples than
classes) fall back to a plain random split with a warning.

Raw arrays are cached in-process, so loading a dataset again is fast; every
call returns fresh tensors, so a caller that modifies them in place cannot
corrupt what the next caller gets.

Adding a dataset
----------------
Plain arrays, one line; the arrays are written to
``<data_root>/custom/<name>.npz`` so that worker processes (joblib / loky)
that use the same data root find them too::

    import numpy as np
    from sparsetopo.data import dataset_from_arrays, load_dataset, register_arrays

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 20))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    register_arrays("two_blobs", X, y, test_fraction=0.2)
    data = load_dataset("two_blobs", seed=1)

Or build a :class:`Dataset` directly, without registering anything::

    data = dataset_from_arrays("two_blobs", X, y, seed=1, test_fraction=0.2)

A loader function ``(root, seed) -> (X, y)`` (split here, stratified from the
seed) or ``(root, seed) -> (X_train, y_train, X_test, y_test)`` (kept as
given). Function loaders live in the registering process only: a worker
process must register them again (e.g. at import of the module defining them)::

    from sklearn.datasets import load_wine
    from sparsetopo.data import load_dataset, register_dataset

    def wine(root, seed):
        return load_wine(return_X_y=True)

    register_dataset("wine", wine, test_fraction=0.3)
    data = load_dataset("wine", validation_fraction=0.1)
"""

from __future__ import annotations

import difflib
import errno
import functools
import gzip
import math
import os
import pickle
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .atomic import atomic_path
from .errors import write_error
from .fingerprint import arrays_digest, combine, file_digest

__all__ = [
    "Dataset",
    "load_dataset",
    "available_datasets",
    "data_root",
    "published_topologies_dir",
    "register_dataset",
    "register_arrays",
    "unregister_dataset",
    "dataset_from_arrays",
    "training_subset",
    "clear_cache",
    "dataset_info",
    "dataset_fingerprint",
    "DatasetInfo",
    "PREPROCESSINGS",
    "SCIKIT_FEATURE_DATASETS",
]

PREPROCESSINGS = ("minmax", "standardize")
"""Preprocessing names (``RunConfig.preprocessing``); see the module docstring."""

SCIKIT_FEATURE_DATASETS = (
    "COIL20", "Isolet", "madelon", "Prostate_GE", "ALLAML", "GLIOMA", "TOX_171",
    "arcene", "colon", "leukemia", "lymphoma", "nci9", "ORL", "Yale",
    "orlraws10P", "pixraw10P", "warpAR10P", "warpPIE10P", "BASEHOCK", "PCMAC",
    "RELATHE", "lung_discrete", "Lung", "CLL_SUB_111",
)
"""The scikit-feature datasets the registry knows (files ``<root>/scikit_feature/<NAME>.mat``)."""

ENV_VAR = "SPARSETOPO_DATA"
"""Environment variable of the data root (see :func:`data_root`)."""
DEFAULT_TEST_FRACTION = 0.25
SCIKIT_FEATURE_TEST_FRACTION = 0.3
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# --------------------------------------------------------------------------- #
# The dataset container
# --------------------------------------------------------------------------- #
@dataclass(frozen=True, repr=False)
class Dataset:
    """Train / test (/ validation) tensors of one dataset.

    Attributes
    ----------
    name : str
        Canonical dataset name.
    x_train, x_test : torch.Tensor
        float32, ``(n_train, n_features)`` and ``(n_test, n_features)``.
    y_train, y_test : torch.Tensor
        int64, ``(n_train,)`` and ``(n_test,)``, values in ``0 .. n_classes-1``.
    x_val, y_val : torch.Tensor or None
        Validation split carved from the training split, same dtypes; None when
        ``validation_fraction`` was 0.
    preprocessing : str
        ``"minmax"`` or ``"standardize"`` (see the module docstring); empty when
        the container was built by hand.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None
    preprocessing: str = ""

    def __post_init__(self) -> None:
        if (self.x_val is None) != (self.y_val is None):
            raise ValueError("x_val and y_val must both be tensors or both be None")
        for split, x, y in self._splits():
            if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
                raise ValueError(
                    f"{split}: x must be (n, n_features) and y (n,), got x "
                    f"{tuple(x.shape)} and y {tuple(y.shape)}"
                )
            if x.shape[1] != self.x_train.shape[1]:
                raise ValueError(
                    f"{split}: {x.shape[1]} features but x_train has "
                    f"{self.x_train.shape[1]}"
                )

    def _splits(self) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
        splits = [("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)]
        if self.x_val is not None:
            splits.append(("val", self.x_val, self.y_val))
        return splits

    @property
    def n_features(self) -> int:
        """Number of input features (columns of ``x_train``)."""
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes: largest label over all splits, plus one."""
        return int(max(int(y.max()) for _, _, y in self._splits() if y.numel())) + 1

    def widths(self, hidden: Sequence[int]) -> list[int]:
        """Layer widths of an MLP on this dataset: ``[n_features, *hidden, n_classes]``."""
        return [self.n_features, *(int(h) for h in hidden), self.n_classes]

    def describe(self) -> str:
        """One line: sizes of the splits, features, classes, preprocessing."""
        n_val = 0 if self.y_val is None else len(self.y_val)
        return (
            f"{self.name}: {len(self.y_train)} train / {n_val} val / "
            f"{len(self.y_test)} test samples, {self.n_features} features, "
            f"{self.n_classes} classes, preprocessing={self.preprocessing or 'none'}"
        )

    def __repr__(self) -> str:
        n_val = 0 if self.y_val is None else len(self.y_val)
        return (
            f"Dataset(name={self.name!r}, n_train={len(self.y_train)}, n_val={n_val}, "
            f"n_test={len(self.y_test)}, n_features={self.n_features}, "
            f"n_classes={self.n_classes}, preprocessing={self.preprocessing!r})"
        )


# --------------------------------------------------------------------------- #
# Data root
# --------------------------------------------------------------------------- #
def data_root(root: str | os.PathLike | None = None) -> Path:
    """Folder that holds the dataset files.

    Parameters
    ----------
    root : path-like, optional
        Used when given.

    Returns
    -------
    pathlib.Path
        ``root``, else ``$SPARSETOPO_DATA`` (when set and not empty), else
        ``./data``; absolute, with ``~`` expanded. It need not exist.
    """
    if root is None or str(root) == "":
        root = os.environ.get(ENV_VAR) or "data"
    return Path(root).expanduser().resolve()


#: Where the topologies published with the paper's NNSTD code lie below the data root.
PUBLISHED_TOPOLOGIES = Path("official_nnstd_topo") / "topo"


def published_topologies_dir(root: str | os.PathLike | None = None) -> Path:
    """Folder of the published topologies (``e5_s0_w0`` ... one run folder each) below the data root.

    The path is returned whether or not it exists; the published layout is read by
    :func:`sparsetopo.topology.load_published`.
    """
    return data_root(root) / PUBLISHED_TOPOLOGIES


# --------------------------------------------------------------------------- #
# Registry
# --------------------------------------------------------------------------- #
# Loader: (root, seed, download) -> (X, y) or (X_train, y_train, X_test, y_test)
_Loader = Callable[[Path, int, bool], tuple]


@dataclass(frozen=True)
class _Source:
    name: str
    load: _Loader
    preprocessing: str
    # Known value range that "minmax" divides by (pixels); None: fit on train.
    value_range: tuple[float, float] | None = None
    # Test fraction for sources returning (X, y); None for fixed splits.
    test_fraction: float | None = None


_BUILTIN: dict[str, _Source] = {}
_FUNCTION_LOADERS: dict[str, _Source] = {}


def _lookup_key(name: str) -> str:
    return name.lower()


def _add_builtin(source: _Source) -> None:
    _BUILTIN[_lookup_key(source.name)] = source


def available_datasets(root: str | os.PathLike | None = None) -> list[str]:
    """Names :func:`load_dataset` accepts.

    Parameters
    ----------
    root : path-like, optional
        Data root whose ``custom/`` folder is listed (see :func:`data_root`).

    Returns
    -------
    list of str
        Built-in names (whether or not their files are present), then
        function-registered names, then arrays registered under ``root``.
    """
    names = [s.name for s in _BUILTIN.values()]
    names += sorted(s.name for s in _FUNCTION_LOADERS.values())
    known = {n.lower() for n in names}
    names += [n for n in _custom_names(data_root(root)) if n.lower() not in known]
    return names


def _custom_dir(root: Path) -> Path:
    return root / "custom"


def _custom_names(root: Path) -> list[str]:
    folder = _custom_dir(root)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.npz") if _NAME_PATTERN.match(p.stem))


def _find_custom_file(name: str, root: Path) -> Path | None:
    exact = _custom_dir(root) / f"{name}.npz"
    if exact.is_file():
        return exact
    matches = [n for n in _custom_names(root) if n.lower() == name.lower()]
    if len(matches) > 1:  # written before case-only-different names were refused
        raise ValueError(
            f"dataset name {name!r} matches {', '.join(map(repr, matches))} under {_custom_dir(root)}, which differ "
            "only in case; give the exact name, or remove one with unregister_dataset(exact name)"
        )
    return _custom_dir(root) / f"{matches[0]}.npz" if matches else None


def _resolve(name: str, root: Path) -> _Source:
    key = _lookup_key(name)
    if key in _FUNCTION_LOADERS:
        return _FUNCTION_LOADERS[key]
    if key in _BUILTIN:
        return _BUILTIN[key]
    path = _find_custom_file(name, root)
    if path is not None:
        return _custom_source(path)
    available = available_datasets(root)
    close = difflib.get_close_matches(name, available, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise ValueError(
        f"unknown dataset name {name!r}.{hint} Available: {', '.join(available)}. "
        "Add your own with register_arrays(name, X, y) or "
        "register_dataset(name, loader)."
    )


def _check_case_clash(name: str, root: Path | None) -> None:
    """Refuse ``name`` when a user dataset differs from it only in case (names are looked up case-insensitively)."""
    existing = [s.name for s in _FUNCTION_LOADERS.values()]
    if root is not None:
        existing += _custom_names(root)
    clash = sorted({n for n in existing if n.lower() == name.lower() and n != name})
    if clash:
        raise ValueError(
            f"name {name!r} differs only in case from the registered dataset {clash[0]!r}; dataset names are "
            f"looked up ignoring case, so register under {clash[0]!r} to replace it, remove it first "
            f"(unregister_dataset({clash[0]!r})), or choose another name"
        )


def _check_new_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise ValueError(
            f"name must be a string of letters, digits, '_', '-' or '.' starting "
            f"with a letter or digit (it becomes a file name), got {name!r}"
        )
    if _lookup_key(name) in _BUILTIN:
        raise ValueError(
            f"name {name!r} is a built-in dataset ({_BUILTIN[_lookup_key(name)].name}); "
            "choose another name for your dataset"
        )
    return name


def register_dataset(
    name: str,
    loader: Callable[[Path, int], tuple],
    *,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    preprocessing: str = "standardize",
) -> None:
    """Make a loader function available to :func:`load_dataset` in this process.

    Parameters
    ----------
    name : str
        New dataset name (letters, digits, ``_-.``; not a built-in name).
        Registering a name again replaces the earlier loader; a name that
        differs from a user dataset's only in case is refused (names are
        looked up ignoring case).
    loader : callable ``(root: pathlib.Path, seed: int) -> tuple``
        Returns ``(X, y)``, which is split stratified from the seed, or
        ``(X_train, y_train, X_test, y_test)``, kept as given. ``X`` is
        ``(n_samples, n_features)`` (higher-dimensional samples are flattened),
        ``y`` is ``(n_samples,)`` of any label values. Called on every
        :func:`load_dataset`, so cache inside it if it is slow.
    test_fraction : float
        Fraction of ``(X, y)`` held out for testing, in (0, 1).
    preprocessing : {"minmax", "standardize"}
        Default preprocessing of this dataset.

    Notes
    -----
    The registration is per-process: joblib / loky workers do not see it
    unless they register the loader too. :func:`register_arrays` persists
    arrays to the data root, which workers do see.
    """
    _check_new_name(name)
    _check_case_clash(name, None)
    if not callable(loader):
        raise TypeError(
            f"loader must be a function (root, seed) -> (X, y) or "
            f"(X_train, y_train, X_test, y_test), got {type(loader).__name__}"
        )
    _check_test_fraction(test_fraction)
    _check_preprocessing(preprocessing)
    _FUNCTION_FINGERPRINTS.pop(_lookup_key(name), None)
    _FUNCTION_LOADERS[_lookup_key(name)] = _Source(
        name=name,
        load=lambda root, seed, download: loader(root, seed),
        preprocessing=preprocessing,
        test_fraction=float(test_fraction),
    )


def register_arrays(
    name: str,
    X: Any,
    y: Any,
    *,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    preprocessing: str = "standardize",
    root: str | os.PathLike | None = None,
) -> Path:
    """Persist plain arrays as a dataset that :func:`load_dataset` finds by name.

    The arrays are written atomically to ``<data_root(root)>/custom/<name>.npz``,
    so other processes using the same data root (joblib / loky workers) load
    the same data. Registering a name again replaces the file; a name that
    differs from a user dataset's only in case (``MyData`` after ``mydata``)
    is refused, naming the existing one, since names are looked up ignoring case.

    Parameters
    ----------
    name : str
        New dataset name (letters, digits, ``_-.``; not a built-in name).
    X : array-like or torch.Tensor, (n_samples, n_features)
        Finite numeric features within float32's range (|x| < 3.4e38);
        higher-dimensional samples are flattened.
    y : array-like or torch.Tensor, (n_samples,)
        Labels of at least two classes; numbers or strings.
    test_fraction : float
        Fraction held out for testing (stratified, from the seed), in (0, 1).
    preprocessing : {"minmax", "standardize"}
        Default preprocessing of this dataset.
    root : path-like, optional
        Data root (see :func:`data_root`).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        A bad name (also one differing from an existing one only in case), or
        arrays that are not a classification set.
    FileWriteError
        The file cannot be written (a full disk, a read-only data root); the
        message names the file and the cause.
    """
    _check_new_name(name)
    _check_case_clash(name, data_root(root))
    _check_test_fraction(test_fraction)
    _check_preprocessing(preprocessing)
    X, y = _check_arrays(X, y, what=f"register_arrays({name!r})")
    if y.dtype == object:
        raise TypeError(
            "y holds Python objects; pass numeric or string labels "
            "(e.g. np.asarray(y, dtype=str)) so they can be stored without pickle"
        )
    # the same label checks load_dataset applies, before anything is written
    _encode_labels(y, what=f"register_arrays({name!r})")
    folder = _custom_dir(data_root(root))
    target = folder / f"{name}.npz"
    # Temporary file then rename: a worker never reads a half-written file.
    try:
        with atomic_path(target, suffix=".npz") as tmp:
            with open(tmp, "wb") as handle:
                np.savez(
                    handle,
                    X=X,
                    y=y,
                    test_fraction=np.float64(test_fraction),
                    preprocessing=np.str_(preprocessing),
                )
    except OSError as err:
        raise write_error(err, target, "register the dataset as",
                          hint=None if err.errno not in (errno.ENOSPC, errno.EDQUOT) else
                          "free some space, or point SPARSETOPO_DATA (or root=) at another data root") from None
    # A function loader of the same name would shadow the new arrays.
    _FUNCTION_LOADERS.pop(_lookup_key(name), None)
    return target


def unregister_dataset(name: str, root: str | os.PathLike | None = None) -> None:
    """Forget a user dataset: its function loader and its ``custom/`` file.

    Parameters
    ----------
    name : str
        A name given to :func:`register_dataset` or :func:`register_arrays`.
    root : path-like, optional
        Data root holding the arrays file (see :func:`data_root`).

    Raises
    ------
    ValueError
        If ``name`` is a built-in dataset or no user dataset of that name exists.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if _lookup_key(name) in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in dataset and cannot be unregistered")
    found = _FUNCTION_LOADERS.pop(_lookup_key(name), None) is not None
    path = _find_custom_file(name, data_root(root))
    if path is not None:
        path.unlink(missing_ok=True)
        found = True
    if not found:
        raise ValueError(
            f"no user dataset named {name!r} (in this process or under "
            f"{_custom_dir(data_root(root))})"
        )


_FUNCTION_FINGERPRINTS: dict[str, tuple[_Source, str]] = {}


def _custom_source(path: Path) -> _Source:
    stat = path.stat()
    arrays = _read_custom_npz(str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino)
    X, y, test_fraction, preprocessing = arrays
    return _Source(
        name=path.stem,
        load=lambda root, seed, download: (X, y),
        preprocessing=preprocessing,
        test_fraction=test_fraction,
    )


@functools.lru_cache(maxsize=8)
def _read_custom_npz(path: str, mtime_ns: int, size: int, inode: int) -> tuple:
    # The file's identity (mtime, size, inode) is part of the key, so a
    # re-registration (a new file renamed over the old) is read afresh.
    try:
        with np.load(path, allow_pickle=False) as npz:
            X, y = _read_only(npz["X"]), _read_only(npz["y"])
            return X, y, float(npz["test_fraction"]), str(npz["preprocessing"])
    except KeyError as err:
        raise ValueError(
            f"{path}: not a dataset written by register_arrays (missing entry {err}); "
            "register the arrays again or delete the file"
        ) from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(
            f"{path}: not a readable dataset file ({type(err).__name__}); the file is truncated "
            "or corrupt: register the arrays again or delete the file"
        ) from None


def clear_cache() -> None:
    """Drop the in-process cache of raw arrays (e.g. after replacing files)."""
    _read_idx_pair.cache_clear()
    _read_cifar10.cache_clear()
    _read_image_dataset.cache_clear()
    _read_scikit_feature.cache_clear()
    _read_custom_npz.cache_clear()
    _load_digits.cache_clear()


def _read_only(array: np.ndarray) -> np.ndarray:
    # Cached arrays are shared between calls; make accidental writes fail.
    array.setflags(write=False)
    return array


# --------------------------------------------------------------------------- #
# Built-in sources
# --------------------------------------------------------------------------- #
@functools.lru_cache(maxsize=1)
def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return _read_only(bunch.data.astype(np.uint8)), _read_only(bunch.target.astype(np.int64))


_add_builtin(
    _Source(
        name="digits",
        load=lambda root, seed, download: _load_digits(),
        preprocessing="minmax",
        value_range=(0.0, 16.0),
        test_fraction=DEFAULT_TEST_FRACTION,
    )
)


@dataclass(frozen=True)
class _ImageLayout:
    name: str
    folder: str  # under the root, as torchvision lays it out
    files: tuple[str, ...]
    torchvision_class: str
    homepage: str


_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_IMAGE_LAYOUTS = {
    "mnist": _ImageLayout(
        "mnist", "MNIST/raw", _MNIST_FILES, "MNIST", "http://yann.lecun.com/exdb/mnist/"
    ),
    "fashion_mnist": _ImageLayout(
        "fashion_mnist",
        "FashionMNIST/raw",
        _MNIST_FILES,
        "FashionMNIST",
        "https://github.com/zalandoresearch/fashion-mnist",
    ),
    "cifar10": _ImageLayout(
        "cifar10",
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",),
        "CIFAR10",
        "https://www.cs.toronto.edu/~kriz/cifar.html (cifar-10-python.tar.gz, unpacked)",
    ),
}


@functools.lru_cache(maxsize=1)
def _torchvision_datasets() -> tuple[Any, str]:
    """``(torchvision.datasets, "")``, or ``(None, why it failed to import)``."""
    try:
        import torchvision.datasets as tv_datasets
    except ModuleNotFoundError as err:
        if err.name != "torchvision":
            return None, f"{type(err).__name__}: {err}"
        return None, "torchvision is not installed; install the vision extra: pip install \"sparsetopo[vision]\""
    except (ImportError, RuntimeError, OSError) as err:
        # Seen here: a CUDA torchvision wheel next to a CPU torch raises
        # RuntimeError("operator torchvision::nms does not exist").
        return None, f"{type(err).__name__}: {err}"
    return tv_datasets, ""


def _present_file(folder: Path, file: str) -> Path | None:
    for candidate in (folder / file, folder / f"{file}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _files_present(layout: _ImageLayout, root: Path) -> bool:
    if layout.name == "cifar10":
        return all((root / layout.folder / f).is_file() for f in layout.files)
    return all(_present_file(root / layout.folder, f) for f in layout.files)


def _missing_image_files_error(
    layout: _ImageLayout, root: Path, download: bool, torchvision_problem: str
) -> FileNotFoundError:
    folder = root / layout.folder
    gz_note = " (uncompressed, or the same names with .gz)" if layout.name != "cifar10" else ""
    if download and torchvision_problem:
        download_note = (
            f"download=True needs torchvision, which cannot be imported here "
            f"({torchvision_problem}); fetch the files by hand from {layout.homepage}."
        )
    elif download:
        download_note = "download=True failed (is there a network?)."
    else:
        download_note = (
            "or call load_dataset(..., download=True) on a machine with a network "
            "and a working torchvision (pip install \"sparsetopo[vision]\")."
        )
    return FileNotFoundError(
        f"{layout.name}: files not found in {folder}; expected "
        f"{', '.join(layout.files)}{gz_note} (the layout torchvision.datasets."
        f"{layout.torchvision_class} uses). Supply them by setting the environment "
        f"variable {ENV_VAR} to the folder that contains {layout.folder.split('/')[0]}/ "
        f"or by passing root=...; {download_note}"
    )


@functools.lru_cache(maxsize=4)
def _read_image_dataset(name: str, root: str, download: bool) -> tuple[np.ndarray, ...]:
    """``(X_train, y_train, X_test, y_test)`` of an image set, uint8 features."""
    layout = _IMAGE_LAYOUTS[name]
    root_path = Path(root)
    present = _files_present(layout, root_path)
    tv_datasets, problem = _torchvision_datasets()
    if tv_datasets is not None:
        try:
            arrays = _read_with_torchvision(tv_datasets, layout, root_path, download)
        except RuntimeError as err:
            # torchvision raises RuntimeError for missing or unverifiable files
            # and failed downloads; our reader may still read what is there.
            if not present:
                raise _missing_image_files_error(layout, root_path, download, "") from err
        else:
            return tuple(_read_only(a) for a in arrays)
    if not present:
        raise _missing_image_files_error(layout, root_path, download, problem)
    if name == "cifar10":
        arrays = _read_cifar10(str(root_path / layout.folder))
    else:
        arrays = _read_idx_pair(str(root_path / layout.folder), "train") + _read_idx_pair(
            str(root_path / layout.folder), "t10k"
        )
    return tuple(_read_only(a) for a in arrays)


def _read_with_torchvision(tv_datasets: Any, layout: _ImageLayout, root: Path, download: bool):
    cls = getattr(tv_datasets, layout.torchvision_class)
    arrays: list[np.ndarray] = []
    for train in (True, False):
        ds = cls(root=str(root), train=train, download=download)
        images = np.asarray(ds.data)
        if layout.name == "cifar10":
            # torchvision keeps CIFAR as (N, H, W, C); use the file's and
            # ToTensor's channel-first order so both readers agree.
            images = images.transpose(0, 3, 1, 2)
        arrays.append(np.ascontiguousarray(images.reshape(len(images), -1), dtype=np.uint8))
        arrays.append(np.asarray(ds.targets, dtype=np.int64))
    return tuple(arrays)


_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(
            f"{path}: cannot be decompressed ({err}); the .gz file is truncated or corrupt, "
            "download it again"
        ) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an idx file (bad magic number)")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise ValueError(
            f"{path}: header promises shape {shape} ({expected} bytes) but the file "
            f"has {len(raw) - offset} bytes of data; the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


# idx sets (MNIST, Fashion-MNIST) have ten classes, labelled 0..9
_IDX_CLASSES = 10


def _idx_labels(path: Path) -> np.ndarray:
    """Labels of an idx label file, checked to be a vector of 0..9."""
    labels = _read_idx(path)
    if labels.ndim != 1:
        raise ValueError(f"{path}: a label file must hold a vector, got shape {labels.shape}")
    bad = np.flatnonzero((labels < 0) | (labels >= _IDX_CLASSES))
    if bad.size:
        raise ValueError(
            f"{path}: {bad.size} label(s) outside 0..{_IDX_CLASSES - 1} (first: {int(labels[bad[0]])} at "
            f"position {int(bad[0])}); the file is corrupt, download it again"
        )
    return labels.astype(np.int64)


def _idx_header(path: Path) -> tuple[int, ...]:
    """Shape promised by an idx file's header (reads a few bytes only)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES:
                raise ValueError(f"{path} is not an idx file (bad magic number)")
            dims = handle.read(4 * head[3])
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(f"{path}: cannot be decompressed ({err}); download it again") from None
    if len(dims) != 4 * head[3]:
        raise ValueError(f"{path}: the idx header is truncated")
    return tuple(int(d) for d in np.frombuffer(dims, ">u4"))


@functools.lru_cache(maxsize=4)
def _read_idx_pair(folder: str, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    image_path = _present_file(Path(folder), f"{prefix}-images-idx3-ubyte")
    label_path = _present_file(Path(folder), f"{prefix}-labels-idx1-ubyte")
    images = _read_idx(image_path)
    labels = _idx_labels(label_path)
    if len(images) != len(labels):
        raise ValueError(
            f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} labels; "
            "one of the files is from another release or corrupt"
        )
    return images.reshape(len(images), -1), labels


@functools.lru_cache(maxsize=1)
def _read_cifar10(folder: str) -> tuple[np.ndarray, ...]:
    def batch(file: str) -> tuple[np.ndarray, np.ndarray]:
        with open(Path(folder) / file, "rb") as handle:
            content = pickle.load(handle, encoding="bytes")
        # Rows are already channel-first: 1024 red, 1024 green, 1024 blue.
        return np.asarray(content[b"data"], np.uint8), np.asarray(content[b"labels"], np.int64)

    train = [batch(f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = batch("test_batch")
    return (
        np.concatenate([x for x, _ in train]),
        np.concatenate([y for _, y in train]),
        x_test,
        y_test,
    )


for _layout in _IMAGE_LAYOUTS.values():
    _add_builtin(
        _Source(
            name=_layout.name,
            load=functools.partial(
                lambda root, seed, download, _n: _read_image_dataset(_n, str(root), download),
                _n=_layout.name,
            ),
            preprocessing="minmax",
            value_range=(0.0, 255.0),
        )
    )


@functools.lru_cache(maxsize=4)
def _read_scikit_feature(name: str, root: str, download: bool) -> tuple[np.ndarray, np.ndarray]:
    import scipy.io
    import scipy.sparse

    path = Path(root) / "scikit_feature" / f"{name}.mat"
    if not path.is_file():
        download_note = (
            " (download=True is not supported for scikit-feature sets)" if download else ""
        )
        raise FileNotFoundError(
            f"{name}: file not found: {path}{download_note}. Put {name}.mat "
            "(MATLAB file with keys X, samples x features, and Y, labels) from "
            "https://jundongl.github.io/scikit-feature/datasets.html into "
            f"{path.parent}, then set the environment variable {ENV_VAR} to the "
            "folder that contains scikit_feature/ or pass root=..."
        )
    try:
        content = scipy.io.loadmat(str(path))
    except Exception as err:  # scipy raises many types for damaged files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"{path}: not a readable MATLAB file ({type(err).__name__}: {first[:160]}); the file is "
            "truncated or corrupt, download it again"
        ) from None
    if "X" not in content or "Y" not in content:
        keys = sorted(k for k in content if not k.startswith("__"))
        raise ValueError(f"{path} must hold variables X and Y, found {keys}")
    X = content["X"]
    X = X.toarray() if scipy.sparse.issparse(X) else np.asarray(X)
    return _read_only(X), _read_only(np.asarray(content["Y"]).ravel())


for _name in SCIKIT_FEATURE_DATASETS:
    _add_builtin(
        _Source(
            name=_name,
            load=functools.partial(
                lambda root, seed, download, _n: _read_scikit_feature(_n, str(root), download),
                _n=_name,
            ),
            preprocessing="standardize",
            test_fraction=SCIKIT_FEATURE_TEST_FRACTION,
        )
    )


# --------------------------------------------------------------------------- #
# Loading
# --------------------------------------------------------------------------- #
def load_dataset(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    seed: int = 0,
    validation_fraction: float = 0.0,
    preprocessing: str | None = None,
    test_fraction: float | None = None,
    download: bool = False,
) -> Dataset:
    """Load a dataset by name as float32 / int64 tensors.

    Parameters
    ----------
    name : str
        A name from :func:`available_datasets`; case-insensitive.
    root : path-like, optional
        Data root (see :func:`data_root`); ``digits`` needs none.
    seed : int
        Seed of the train/test split (datasets without an official split) and
        of the validation split. The same seed gives the same splits.
    validation_fraction : float
        Fraction of the training split set aside as validation, in [0, 1);
        stratified, from the seed. 0 gives ``x_val = y_val = None``.
    preprocessing : {"minmax", "standardize"}, optional
        Default: the dataset's own (minmax for images and digits, standardize
        for scikit-feature and user datasets). Statistics come from the
        (final) training split only.
    test_fraction : float, optional
        Test fraction for datasets without an official split, in (0, 1).
        Default: the dataset's own (digits 0.25, scikit-feature 0.3, user
        datasets as registered). Not allowed for mnist, fashion_mnist, cifar10.
    download : bool
        Fetch missing image files through torchvision (needs a network and a
        working torchvision). Never happens otherwise.

    Returns
    -------
    Dataset
        Fresh tensors: ``x_*`` float32 ``(n, n_features)``, ``y_*`` int64
        ``(n,)`` with labels ``0 .. n_classes - 1``.

    Raises
    ------
    ValueError
        Unknown name (the message lists the available ones), arguments out of
        range, or data that are not a classification set (non-finite features,
        a single class, mismatched lengths).
    FileNotFoundError
        The dataset's files are not under the data root; the message names the
        folder and files and how to supply them.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a dataset name (str), got {type(name).__name__}")
    _check_seed(seed)
    _check_validation_fraction(validation_fraction)
    if preprocessing is not None:
        _check_preprocessing(preprocessing)
    if test_fraction is not None:
        _check_test_fraction(test_fraction)
    root_path = data_root(root)
    source = _resolve(name, root_path)
    arrays = source.load(root_path, seed, bool(download))
    if test_fraction is not None and len(arrays) == 4:
        raise ValueError(
            f"test_fraction: {source.name} comes with a fixed train/test split; "
            "leave test_fraction=None (use validation_fraction to hold out "
            "part of the training split)"
        )
    return _assemble(
        source.name,
        arrays,
        seed=seed,
        test_fraction=test_fraction if test_fraction is not None else source.test_fraction,
        validation_fraction=validation_fraction,
        preprocessing=preprocessing or source.preprocessing,
        value_range=source.value_range,
    )


def dataset_from_arrays(
    name: str,
    X: Any,
    y: Any,
    *,
    X_test: Any = None,
    y_test: Any = None,
    seed: int = 0,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    validation_fraction: float = 0.0,
    preprocessing: str = "standardize",
) -> Dataset:
    """Build a :class:`Dataset` from plain arrays, without registering anything.

    Parameters
    ----------
    name : str
        Label of the dataset (only used in ``describe()``).
    X : array-like or torch.Tensor, (n_samples, n_features)
        Finite numeric features; higher-dimensional samples are flattened.
    y : array-like or torch.Tensor, (n_samples,)
        Labels of at least two classes, any values.
    X_test, y_test : array-like, optional
        A fixed test split; then ``X, y`` is the training split and
        ``test_fraction`` is ignored. Otherwise ``X, y`` is split stratified
        from the seed.
    seed, test_fraction, validation_fraction, preprocessing
        As in :func:`load_dataset`; ``preprocessing="minmax"`` fits the range
        on the training split.

    Returns
    -------
    Dataset
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    _check_seed(seed)
    _check_test_fraction(test_fraction)
    _check_validation_fraction(validation_fraction)
    _check_preprocessing(preprocessing)
    if (X_test is None) != (y_test is None):
        raise ValueError("X_test and y_test must be given together (or neither)")
    arrays = (X, y) if X_test is None else (X, y, X_test, y_test)
    return _assemble(
        name,
        arrays,
        seed=seed,
        test_fraction=test_fraction,
        validation_fraction=validation_fraction,
        preprocessing=preprocessing,
        value_range=None,
    )


def _assemble(
    name: str,
    arrays: Sequence[Any],
    *,
    seed: int,
    test_fraction: float | None,
    validation_fraction: float,
    preprocessing: str,
    value_range: tuple[float, float] | None,
) -> Dataset:
    if not isinstance(arrays, (tuple, list)) or len(arrays) not in (2, 4):
        raise ValueError(
            f"{name}: a loader must return (X, y) or (X_train, y_train, X_test, "
            f"y_test), got {type(arrays).__name__} of length "
            f"{len(arrays) if hasattr(arrays, '__len__') else '?'}"
        )
    if len(arrays) == 2:
        X, labels = _check_arrays(*arrays, what=name)
        y = _encode_labels(labels, what=name)
        train_idx, test_idx = _split_indices(
            y,
            test_fraction or DEFAULT_TEST_FRACTION,
            _child_seed(seed, 0),
            what=f"{name} test split",
        )
        x_train_raw, y_train = X[train_idx], y[train_idx]
        x_test_raw, y_test = X[test_idx], y[test_idx]
    else:
        x_train_raw, train_labels = _check_arrays(arrays[0], arrays[1], what=f"{name} train")
        x_test_raw, test_labels = _check_arrays(arrays[2], arrays[3], what=f"{name} test")
        if x_train_raw.shape[1] != x_test_raw.shape[1]:
            raise ValueError(
                f"{name}: X_train has {x_train_raw.shape[1]} features but X_test has "
                f"{x_test_raw.shape[1]}"
            )
        # Encode jointly so a label value means the same class in both splits.
        y = _encode_labels(np.concatenate([train_labels, test_labels]), what=name)
        y_train, y_test = y[: len(train_labels)], y[len(train_labels):]

    x_val_raw = y_val = None
    if validation_fraction > 0:
        _check_training_left(name, len(y_train), validation_fraction, int(y.max()) + 1)
        fit_idx, val_idx = _split_indices(
            y_train, validation_fraction, _child_seed(seed, 1), what=f"{name} validation split"
        )
        x_val_raw, y_val = x_train_raw[val_idx], y_train[val_idx]
        x_train_raw, y_train = x_train_raw[fit_idx], y_train[fit_idx]

    # astype makes fresh float32 arrays: nothing returned aliases the cache.
    x_train = x_train_raw.astype(np.float32)
    x_test = x_test_raw.astype(np.float32)
    x_val = None if x_val_raw is None else x_val_raw.astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, as an error naming the feature
        offset, scale, constant = _fit_preprocessing(x_train, preprocessing, value_range)
    _check_preprocessing_finite(name, preprocessing, offset, scale)
    with np.errstate(over="ignore", invalid="ignore"):
        for x in (x_train, x_test, x_val):
            if x is not None:
                x -= offset
                x /= scale
                if constant.any():
                    x[:, constant] = 0.0
    for split, x in (("training", x_train), ("test", x_test), ("validation", x_val)):
        if x is not None and not np.isfinite(x).all():
            bad = np.argwhere(~np.isfinite(x))[0]
            raise ValueError(
                f"{name}: {preprocessing} preprocessing overflows float32 at {split} sample {bad[0]}, feature "
                f"{bad[1]} (features too large or too spread out); rescale the features before loading"
            )

    def tensor(a: np.ndarray | None) -> torch.Tensor | None:
        return None if a is None else torch.from_numpy(np.ascontiguousarray(a))

    return Dataset(
        name=name,
        x_train=tensor(x_train),
        y_train=tensor(y_train.astype(np.int64)),
        x_test=tensor(x_test),
        y_test=tensor(y_test.astype(np.int64)),
        x_val=tensor(x_val),
        y_val=tensor(None if y_val is None else y_val.astype(np.int64)),
        preprocessing=preprocessing,
    )


def _check_preprocessing_finite(name: str, preprocessing: str, offset: np.ndarray, scale: np.ndarray) -> None:
    bad = np.flatnonzero(~(np.isfinite(offset) & np.isfinite(scale)))
    if bad.size:
        raise ValueError(
            f"{name}: the {preprocessing} statistics of feature {bad[0]} overflow float32 (its values are too "
            "large); rescale the features (e.g. divide by their largest value, or take logarithms) before loading"
        )


def _fit_preprocessing(
    x_train: np.ndarray, method: str, value_range: tuple[float, float] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(offset, scale, constant)`` from the training split, each ``(n_features,)``."""
    n_features = x_train.shape[1]
    if len(x_train) == 0:
        raise ValueError("the training split is empty; lower test_fraction or validation_fraction")
    if method == "minmax" and value_range is not None:
        offset = np.full(n_features, value_range[0], np.float32)
        scale = np.full(n_features, value_range[1] - value_range[0], np.float32)
        # With a known range a constant pixel is still a meaningful value
        # (e.g. an always-black border): keep it at its scaled value.
        return offset, scale, np.zeros(n_features, bool)
    lo, hi = x_train.min(axis=0), x_train.max(axis=0)
    constant = lo == hi
    if method == "minmax":
        offset, scale = lo, hi - lo
    else:
        mean = x_train.mean(axis=0, dtype=np.float64)
        # float64 accumulation; the squared deviations stay float32 to halve memory.
        var = np.square(x_train - mean.astype(np.float32)).mean(axis=0, dtype=np.float64)
        offset, scale = mean, np.sqrt(var)
    scale = np.where(constant | (scale == 0), 1.0, scale)
    return offset.astype(np.float32), scale.astype(np.float32), constant


# --------------------------------------------------------------------------- #
# Validation and splitting helpers
# --------------------------------------------------------------------------- #
def _check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")


def _check_validation_fraction(fraction: Any) -> None:
    if not isinstance(fraction, (int, float, np.floating)) or not 0 <= fraction < 1:
        raise ValueError(
            f"validation_fraction must be in [0, 1) (a fraction of the training "
            f"split; 0 for no validation split), got {fraction!r}"
        )


def _check_test_fraction(fraction: Any) -> None:
    if not isinstance(fraction, (int, float, np.floating)) or not 0 < fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {fraction!r}")


def _check_preprocessing(preprocessing: Any) -> None:
    if preprocessing not in PREPROCESSINGS:
        raise ValueError(
            f"preprocessing must be one of {', '.join(map(repr, PREPROCESSINGS))} "
            f"(or None for the dataset's default), got {preprocessing!r}"
        )


def _as_array(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if hasattr(value, "toarray"):  # scipy sparse
        return value.toarray()
    return np.asarray(value)


def _check_arrays(X: Any, y: Any, *, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(n, n_features)`` and labels ``(n,)``, checked."""
    X, y = _as_array(X), _as_array(y)
    if X.ndim < 2:
        raise ValueError(
            f"{what}: X must be (n_samples, n_features), got shape {X.shape} "
            "(use X.reshape(-1, 1) for a single feature)"
        )
    if X.ndim > 2:
        X = X.reshape(len(X), -1)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"{what}: y must be a label vector (n_samples,), got shape {y.shape}")
    if len(X) != len(y):
        raise ValueError(
            f"{what}: X has {len(X)} samples but y has {len(y)}; they must have "
            "one label per row of X"
        )
    if len(X) == 0 or X.shape[1] == 0:
        raise ValueError(f"{what}: X is empty (shape {X.shape})")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool) or np.iscomplexobj(X):
        raise ValueError(f"{what}: X must hold real numbers, got dtype {X.dtype}")
    if np.issubdtype(X.dtype, np.floating) and not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(
            f"{what}: X has non-finite values (NaN or inf), first at sample "
            f"{bad[0]}, feature {bad[1]}; impute or drop them before loading"
        )
    if np.issubdtype(X.dtype, np.floating) and X.dtype.itemsize > 4 and np.abs(X).max() > _FLOAT32_MAX:
        bad = np.argwhere(np.abs(X) > _FLOAT32_MAX)[0]
        raise ValueError(
            f"{what}: X holds values too large for float32, which training uses (|x| up to {_FLOAT32_MAX:.3g}): "
            f"{X[bad[0], bad[1]]:.3g} at sample {bad[0]}, feature {bad[1]}; rescale the features "
            "(e.g. divide by their largest value, or take logarithms) before loading"
        )
    return X, y


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _encode_labels(labels: np.ndarray, *, what: str) -> np.ndarray:
    """Labels as int64 ``0 .. n_classes - 1``, in sorted order of the values."""
    if np.issubdtype(labels.dtype, np.floating) and np.isnan(labels).any():
        raise ValueError(f"{what}: y contains NaN labels")
    if np.issubdtype(labels.dtype, np.floating) and not np.all(np.mod(labels, 1) == 0):
        raise ValueError(
            f"{what}: y holds non-integer numbers ({np.unique(labels).size} distinct values), which looks "
            "like a continuous target; classification needs class labels (integers or strings): bin "
            "the target, e.g. y = np.digitize(y, np.quantile(y, [0.25, 0.5, 0.75]))"
        )
    try:
        classes, codes = np.unique(labels, return_inverse=True)
    except TypeError as err:
        raise ValueError(
            f"{what}: y labels cannot be sorted ({err}); use numbers or strings"
        ) from err
    if len(classes) < 2:
        raise ValueError(
            f"{what}: y has a single class ({classes[0]!r}); classification needs "
            "at least two"
        )
    if len(classes) > 2 and len(classes) > len(labels) / 2:
        raise ValueError(
            f"{what}: y has {len(classes)} distinct values for {len(labels)} samples, fewer than two "
            "samples per class: that looks like a continuous target or an ID column, not class labels"
        )
    return codes.reshape(-1).astype(np.int64)


def _child_seed(seed: int, purpose: int) -> int:
    # Independent streams for the test and validation splits of one seed.
    return int(np.random.SeedSequence([seed, purpose]).generate_state(1)[0])


def _split_indices(
    y: np.ndarray, fraction: float, seed: int, *, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(kept, held_out)`` index arrays, stratified by ``y`` when possible."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(y))
    try:
        kept, held = train_test_split(indices, test_size=fraction, random_state=seed, stratify=y)
    except ValueError as err:
        warnings.warn(
            f"{what}: cannot stratify ({err}); using a plain random split, so "
            "some classes may be missing from one side",
            UserWarning,
            stacklevel=4,
        )
        try:
            kept, held = train_test_split(indices, test_size=fraction, random_state=seed)
        except ValueError as err2:
            raise ValueError(f"{what}: {err2}") from err2
    return np.sort(kept), np.sort(held)


def training_subset(data: Dataset, n: int, seed: int = 0) -> Dataset:
    """``data`` with only ``n`` samples of its training split; test and validation splits unchanged.

    The samples are drawn per class in proportion to the class sizes (each class
    keeps about ``n * n_c / n_train``) in an order fixed by ``seed``, so the same
    ``(data, n, seed)`` always gives the same subset and a larger ``n`` keeps every
    sample of a smaller one. Preprocessing is not refitted (it was fitted on the
    whole training split).

    Raises
    ------
    ValueError
        When ``n`` is not a whole number in ``[1, n_train]``.
    """
    n_train = len(data.y_train)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= n_train:
        raise ValueError(f"train_samples must be a whole number in [1, {n_train}] (the training split of "
                         f"{data.name} has {n_train} samples), got {n!r}; use None for the whole split")
    if n == n_train:
        return data
    y = data.y_train.numpy()
    position = np.empty(n_train, dtype=np.int64)
    position[np.random.default_rng(_child_seed(seed, 2)).permutation(n_train)] = np.arange(n_train)
    quantile = np.empty(n_train)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        ranked = members[np.argsort(position[members], kind="stable")]
        quantile[ranked] = (np.arange(len(ranked)) + 0.5) / len(ranked)
    keep = np.sort(np.lexsort((position, quantile))[: int(n)])
    index = torch.from_numpy(keep)
    return replace(data, x_train=data.x_train[index], y_train=data.y_train[index])


# --------------------------------------------------------------------------- #
# Light facts: fingerprint and sizes without building the dataset
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class DatasetInfo:
    """Sizes of a dataset's splits, as :func:`load_dataset` would make them.

    Attributes
    ----------
    name : str
        Canonical name.
    n_features, n_classes : int
    n_train, n_val, n_test : int
        Samples per split for the given seed and fractions (``n_val`` is 0
        without a validation split).
    fingerprint : str
        :func:`dataset_fingerprint` of the data.
    """

    name: str
    n_features: int
    n_classes: int
    n_train: int
    n_val: int
    n_test: int
    fingerprint: str

    def widths(self, hidden: Sequence[int]) -> list[int]:
        """Layer widths of an MLP on this dataset: ``[n_features, *hidden, n_classes]``."""
        return [self.n_features, *(int(h) for h in hidden), self.n_classes]


def _source_files(source: _Source, root: Path) -> list[Path] | None:
    """The files a built-in or registered-arrays source reads; None for in-memory sources."""
    key = _lookup_key(source.name)
    if key in _IMAGE_LAYOUTS:
        layout = _IMAGE_LAYOUTS[key]
        if not _files_present(layout, root):
            raise _missing_image_files_error(layout, root, False, _torchvision_datasets()[1])
        folder = root / layout.folder
        if key == "cifar10":
            return [folder / f for f in layout.files]
        return [_present_file(folder, f) for f in layout.files]
    if source.name in SCIKIT_FEATURE_DATASETS:
        path = root / "scikit_feature" / f"{source.name}.mat"
        if not path.is_file():
            _read_scikit_feature(source.name, str(root), False)  # raises the message that explains where
        return [path]
    if key == "digits" or key in _FUNCTION_LOADERS:
        return None
    return [_find_custom_file(source.name, root)]


def dataset_fingerprint(name: str, root: str | os.PathLike | None = None) -> str:
    """Content hash (sha256 hex) of the data behind a dataset name.

    File-backed datasets (image sets, scikit-feature ``.mat`` files, arrays
    registered with :func:`register_arrays`) hash their files, once per file
    version (path, size, mtime, inode), so re-registering a name with other
    arrays, or replacing a file, changes the fingerprint. Function loaders
    hash the arrays their loader returns for seed 0, once per registration.
    The run store puts this fingerprint into every run id.

    Raises
    ------
    ValueError, FileNotFoundError
        As :func:`load_dataset` does for unknown names and missing files.
    """
    root_path = data_root(root)
    source = _resolve(name, root_path)
    key = _lookup_key(source.name)
    if _FUNCTION_LOADERS.get(key) is source:
        cached = _FUNCTION_FINGERPRINTS.get(key)
        if cached is None or cached[0] is not source:
            arrays = source.load(root_path, 0, False)
            cached = (source, arrays_digest(*arrays))
            _FUNCTION_FINGERPRINTS[key] = cached
        return cached[1]
    files = _source_files(source, root_path)
    if files is None:
        return arrays_digest(*source.load(root_path, 0, False))
    return combine([f.name + ":" + file_digest(f) for f in files])


def _held_out(n: int, fraction: float) -> int:
    # scikit-learn's train_test_split: ceil(fraction * n) samples held out
    return int(math.ceil(fraction * n))


def _check_training_left(name: str, n_train: int, fraction: float, n_classes: int) -> None:
    """Refuse a validation split that leaves fewer training samples than classes."""
    n_fit = n_train - _held_out(n_train, fraction)
    if n_fit < n_classes:
        largest = math.floor((n_train - n_classes) / n_train * 1000) / 1000
        raise ValueError(
            f"validation_fraction={fraction:g} leaves {n_fit} of the {n_train} training samples of {name} to train "
            f"on, fewer than its {n_classes} classes; use at most {largest:g} (typically 0.1-0.2), or 0 for no "
            "validation split"
        )


def dataset_info(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    validation_fraction: float = 0.0,
    test_fraction: float | None = None,
) -> DatasetInfo:
    """Widths and split sizes of a dataset without building its tensors.

    MNIST and Fashion-MNIST read only their idx headers and label files;
    CIFAR-10's sizes are fixed by its format; other datasets read their raw
    arrays (cached in-process) but skip splitting and preprocessing. The sizes
    equal those of ``load_dataset(name, validation_fraction=...,
    test_fraction=...)`` for every seed.

    Raises
    ------
    ValueError, FileNotFoundError
        As :func:`load_dataset`.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a dataset name (str), got {type(name).__name__}")
    _check_validation_fraction(validation_fraction)
    if test_fraction is not None:
        _check_test_fraction(test_fraction)
    root_path = data_root(root)
    source = _resolve(name, root_path)
    fingerprint = dataset_fingerprint(name, root_path)
    key = _lookup_key(source.name)
    if key in ("mnist", "fashion_mnist"):
        folder = root_path / _IMAGE_LAYOUTS[key].folder
        shape = _idx_header(_present_file(folder, "train-images-idx3-ubyte"))
        n_features = int(np.prod(shape[1:]))
        train_labels = _idx_labels(_present_file(folder, "train-labels-idx1-ubyte"))
        test_labels = _idx_labels(_present_file(folder, "t10k-labels-idx1-ubyte"))
        n_classes = int(np.unique(np.concatenate([train_labels, test_labels])).size)
        n_train, n_test = len(train_labels), len(test_labels)
    elif key == "cifar10":
        _source_files(source, root_path)
        n_features, n_classes, n_train, n_test = 3072, 10, 50000, 10000
    else:
        arrays = source.load(root_path, 0, False)
        if len(arrays) == 2:
            X, labels = _check_arrays(*arrays, what=source.name)
            n = len(labels)
            n_test = _held_out(n, test_fraction or source.test_fraction or DEFAULT_TEST_FRACTION)
            n_train = n - n_test
        else:
            X, train_labels = _check_arrays(arrays[0], arrays[1], what=f"{source.name} train")
            _, test_labels = _check_arrays(arrays[2], arrays[3], what=f"{source.name} test")
            labels = np.concatenate([train_labels, test_labels])
            n_train, n_test = len(train_labels), len(test_labels)
        n_features = int(X.shape[1])
        n_classes = int(_encode_labels(labels, what=source.name).max()) + 1
    n_val = _held_out(n_train, validation_fraction) if validation_fraction > 0 else 0
    if validation_fraction > 0:
        _check_training_left(source.name, n_train, validation_fraction, n_classes)
    return DatasetInfo(source.name, n_features, n_classes, n_train - n_val, n_val, n_test, fingerprint)
