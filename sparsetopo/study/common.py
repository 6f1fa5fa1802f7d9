"""Pieces several notebooks share: which layers are sparse, the network-level mean over them, and the
random-topology baseline as a table. Study modules import these from here, never from each other."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..stats import mean_ci
from ..topology.masks import as_topology, densities
from .verdicts import network_bootstrap_ci

__all__ = ["sparse_layers", "sparse_mean", "baseline_frame", "pair_summary", "layer_matrix", "baseline_value", "group_blocks"]


def sparse_layers(topology: Sequence[Any]) -> list[int]:
    """Indices of the layers that are not dense (NNSTD of a dense layer is always 0)."""
    return [k for k, d in enumerate(densities(as_topology(topology))) if d < 1.0]


def sparse_mean(layer_values: Any, layers: Sequence[int]) -> Any:
    """Network-level NNSTD: the mean of per-layer values over the sparse ``layers`` only.

    ``layer_values`` holds one value per layer on its last axis (a tuple of layer distances,
    or an array ``(..., n_layers)``); the result drops that axis.
    """
    layers = list(layers)
    if not layers:
        raise ValueError("a network-level NNSTD needs at least one sparse layer")
    values = np.asarray(layer_values, dtype=float)
    out = values[..., layers].mean(axis=-1)
    return float(out) if out.ndim == 0 else out



def baseline_frame(calibration, layers: Sequence[int] | None = None) -> pd.DataFrame:
    """A random-topology :class:`~sparsetopo.nnstd.pairwise.Calibration` as a tidy table.

    Parameters
    ----------
    calibration : from :func:`sparsetopo.nnstd.pairwise.random_baseline`.
    layers : sparse layers averaged into the network row (default: layers whose samples are not all 0).

    Returns
    -------
    pd.DataFrame
        One row per layer plus ``"mean"`` (the mean over ``layers``, with a Student-t interval
        over the pairs, which are independent): ``layer`` (``"0"``, ``"1"``, ..., ``"mean"``),
        ``baseline``, ``ci_low``, ``ci_high``, ``sd`` (pair-to-pair standard deviation).
    """
    samples = np.asarray(calibration.samples, dtype=float)
    if layers is None:
        layers = [k for k in range(samples.shape[1]) if samples[:, k].any()] or [0]
    network = sparse_mean(samples, layers)
    rows = []
    for k in range(samples.shape[1]):
        rows.append({"layer": str(k), "baseline": float(calibration.layer_mean[k]),
                     "ci_low": float(calibration.layer_ci[k, 0]), "ci_high": float(calibration.layer_ci[k, 1]),
                     "sd": float(samples[:, k].std(ddof=1))})
    m, lo, hi = mean_ci(network, confidence=calibration.confidence)
    rows.append({"layer": "mean", "baseline": m, "ci_low": lo, "ci_high": hi, "sd": float(network.std(ddof=1))})
    return pd.DataFrame(rows)


def pair_summary(matrix: np.ndarray, *, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Mean, range and network-bootstrap interval of the pairwise distances of one group of networks.

    Returns
    -------
    dict
        ``mean``, ``ci_low``, ``ci_high`` (:func:`~sparsetopo.study.verdicts.network_bootstrap_ci`),
        ``min``, ``max`` (closest and farthest pair), ``networks``, ``pairs``.
    """
    m = np.asarray(matrix, dtype=float)
    iu = np.triu_indices(m.shape[0], k=1)
    ci = network_bootstrap_ci(m, n_boot=n_boot, seed=seed, confidence=confidence)
    return {"mean": ci.estimate, "ci_low": ci.low, "ci_high": ci.high, "min": float(m[iu].min()),
            "max": float(m[iu].max()), "networks": int(m.shape[0]), "pairs": int(iu[0].size)}


def layer_matrix(matrix, layer: str | int, sparse: Sequence[int]) -> np.ndarray:
    """One layer's distances of a :class:`~sparsetopo.nnstd.pairwise.DistanceMatrix`, or with
    ``layer="mean"`` the mean over the ``sparse`` layers (a dense layer is always 0 and would only dilute it)."""
    if str(layer) == "mean":
        return matrix.layers[list(sparse)].mean(axis=0)
    return matrix.layers[int(layer)]


def baseline_value(baseline: pd.DataFrame, layer: str | int, sparse: Sequence[int]) -> float:
    """One layer's random baseline from a :func:`baseline_frame`, or with ``layer="mean"`` the mean of the
    ``sparse`` layers' baselines."""
    b = baseline.set_index("layer")["baseline"]
    return float(np.mean([b[str(k)] for k in sparse])) if str(layer) == "mean" else float(b[str(layer)])



def group_blocks(matrix: np.ndarray, groups: Sequence[str], baseline: Any, *, seed: int = 0) -> pd.DataFrame:
    """Mean distance within and between groups of networks, against a random baseline.

    Parameters
    ----------
    matrix : ``(n, n)`` symmetric distances between networks (e.g. a DistanceMatrix's ``mean``).
    groups : the group of each network; blocks follow the groups' order of first appearance.
    baseline : the random-topology baseline (``mean`` and ``ci``), e.g. a
        :class:`~sparsetopo.nnstd.pairwise.Calibration`.
    seed : seed of the bootstrap.

    Returns
    -------
    pd.DataFrame
        One row per pair of groups ``a <= b``: ``block`` ("a – b"), ``group_a, group_b, n_pairs`` (within a
        group only pairs of different networks), ``nnstd_mean``, its 95% interval ``ci_low, ci_high``
        (:func:`~sparsetopo.study.verdicts.network_bootstrap_ci`, resampling networks, not pairs; NaN with too
        few networks), ``nnstd_min, nnstd_max, ratio`` (to the baseline mean) and the baseline's
        ``random_mean, random_low, random_high``.
    """
    import itertools

    from .verdicts import network_bootstrap_ci

    g = np.asarray(groups)
    rows = []
    for a, b in itertools.combinations_with_replacement(list(dict.fromkeys(groups)), 2):
        ia, ib = np.flatnonzero(g == a), np.flatnonzero(g == b)
        sub = matrix[np.ix_(ia, ib)]
        values = sub[np.triu_indices(len(ia), k=1)] if a == b else sub.ravel()
        try:
            lo, hi = network_bootstrap_ci(sub, between=a != b, seed=seed).ci
        except ValueError:  # too few networks to resample
            lo, hi = np.nan, np.nan
        mean = float(np.mean(values)) if values.size else np.nan
        rows.append({"block": f"{a} – {b}", "group_a": a, "group_b": b, "n_pairs": int(values.size),
                     "nnstd_mean": mean, "ci_low": lo, "ci_high": hi,
                     "nnstd_min": float(np.min(values)) if values.size else np.nan,
                     "nnstd_max": float(np.max(values)) if values.size else np.nan,
                     "ratio": mean / baseline.mean if baseline.mean > 0 else np.nan,
                     "random_mean": baseline.mean, "random_low": baseline.ci[0], "random_high": baseline.ci[1]})
    return pd.DataFrame(rows)
