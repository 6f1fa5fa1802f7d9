"""Notebook ``05_any_model``: NNSTD of small CNNs pruned with ``torch.nn.utils.prune`` (an extension of the paper).

One CNN per seed (two 3x3 convolutions, max-pooling, two linear layers) is
trained on square grey images, copied, pruned per layer by L1 magnitude at two
amounts ``a0 < a1`` and fine-tuned with the masks in place, all through
:func:`sparsetopo.training.modules.train_module` (deterministic, cached by
content under ``<runs_root>/modules``). The topologies are read from the
modules and from their saved ``state_dict`` files and compared per layer with
``M[l, i, j] = NNSTD(net(s_i, a1), net(s_j, a0))``: the diagonal is one parent
pruned at both amounts (*same parent*), the rest pairs independently trained
networks (*different seeds*); the chance level (*random*) pairs random masks
with the same shapes and per-layer edge counts.

Verdicts: superiority against ``closer_margin`` of ``random - different seeds``
("closer than chance", per layer and for the mean over layers) and of
``different seeds - same parent``, on 95% bootstrap intervals that resample
networks (seeds) and random pairs (:func:`comparison_intervals`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import pandas as pd

from ..parallel import show_progress
from .findings import Findings
from .params import StudyParameters, check_int, check_real, check_sequence, check_str

__all__ = ["Parameters", "Result", "build_cnn", "train_networks", "run", "comparison_intervals", "claims", "context",
           "HEADLINE"]

NOTEBOOK = "05_any_model"
#: The question this notebook answers (its headline in the README); an extension of the paper, which studies MLPs.
HEADLINE = ("NNSTD extends to pruned CNNs: networks pruned from the same parent are closer than independently "
            "trained ones, which are closer than random topologies")


def _pair(name: str, value: Any, item: Callable[[str, Any], Any], **options: Any) -> tuple:
    """``value`` checked by :func:`check_sequence`, and holding exactly two entries."""
    out = check_sequence(name, value, item, min_length=2, **options)
    if len(out) != 2:
        raise ValueError(f"parameter {name} must hold exactly two entries, got {list(value)!r}")
    return out


def _amount(name: str, value: Any) -> float:
    """A pruned fraction of a layer's weights, in ``[0, 1)``."""
    value = check_real(name, value, minimum=0, maximum=1)
    if value >= 1:
        raise ValueError(f"parameter {name} must be < 1 (a layer keeps some weights), got {value!r}")
    return value


@dataclass(frozen=True, kw_only=True)
class Parameters(StudyParameters):
    """Parameters of notebook ``05_any_model`` (the names of its ``parameters`` cell).

    Attributes
    ----------
    dataset : square grey images (``n_features`` a perfect square; default: the 8x8 digits).
    channels : output channels of the two 3x3 convolutions (two positive ints).
    hidden : width of the hidden linear layer (>= 1).
    amounts : fraction of each layer's weights pruned, one per network: two increasing fractions in [0, 1).
    seeds : one independently trained network per seed (at least three distinct seeds >= 0, so that
        resampling networks gives an interval).
    dense_epochs : epochs before pruning (>= 1).
    finetune_epochs : epochs after pruning, masks in place (>= 0).
    lr : Adam learning rate (> 0).
    batch_size : (>= 1).
    baseline_pairs : random topology pairs of the chance level (>= 2, for an interval).
    closer_margin, closer_margin_why : superiority margin of the "closer" verdicts, in NNSTD units (>= 0), and the
        sentence that justifies it (default :data:`MARGIN_JUSTIFICATION`, the reason for 0.01).
    n_boot : bootstrap replicates of the intervals (>= 100).
    """

    NOTEBOOK: ClassVar[str] = "05_any_model"

    channels: tuple
    hidden: int
    amounts: tuple
    seeds: tuple
    dense_epochs: int
    finetune_epochs: int
    lr: float
    batch_size: int
    baseline_pairs: int
    closer_margin: float
    closer_margin_why: str
    n_boot: int

    def __post_init__(self) -> None:
        super().__post_init__()
        positive = lambda n, v: check_int(n, v, minimum=1)  # noqa: E731
        self._set("channels", _pair("channels", self.channels, positive))
        self._set("hidden", check_int("hidden", self.hidden, minimum=1))
        self._set("amounts", _pair("amounts", self.amounts, _amount, increasing=True))
        self._set("seeds", check_sequence("seeds", self.seeds, lambda n, v: check_int(n, v, minimum=0), min_length=3,
                                          unique=True))
        self._set("dense_epochs", check_int("dense_epochs", self.dense_epochs, minimum=1))
        self._set("finetune_epochs", check_int("finetune_epochs", self.finetune_epochs, minimum=0))
        self._set("lr", check_real("lr", self.lr, minimum=0, exclusive_minimum=True))
        self._set("batch_size", check_int("batch_size", self.batch_size, minimum=1))
        self._set("baseline_pairs", check_int("baseline_pairs", self.baseline_pairs, minimum=2))
        self._set("closer_margin", check_real("closer_margin", self.closer_margin, minimum=0))
        self._set("closer_margin_why", check_str("closer_margin_why", self.closer_margin_why))
        self._set("n_boot", check_int("n_boot", self.n_boot, minimum=100))


@dataclass(frozen=True, eq=False)
class Result:
    """What :func:`run` measured.

    Attributes
    ----------
    params : Parameters
    networks : pd.DataFrame
        One row per pruned network: network, seed, pruned, test_acc, density, mask source, file.
    layers : pd.DataFrame
        One row per layer: layer, kind, the mean NNSTD of each comparison, the random baseline's
        interval and pair-to-pair standard deviation.
    means : dict
        Mean over layers of each comparison and of the baseline (with its interval), and the nested floor
        ``1 - (1 - a1) / (1 - a0)`` (what nested input sets cost per neuron at these densities).
    readback_mismatches : int
        Layers whose mask read from the saved ``state_dict`` differs from the module's (0 when the readers agree).
    descriptions : dict
        Per network, :meth:`ModelTopology.describe` of its file read back.
    matrix : np.ndarray
        ``(n_layers, n_seeds, n_seeds)``: ``M[l, i, j] = NNSTD(net(s_i, a1), net(s_j, a0))``.
    baseline_samples : np.ndarray
        ``(baseline_pairs, n_layers)`` NNSTD of the independent random pairs.
    side : int
        Side of the square input images.
    paths : list
        The saved ``state_dict`` file of every row of :attr:`networks`.
    """

    params: Parameters
    networks: pd.DataFrame
    layers: pd.DataFrame
    means: dict
    readback_mismatches: int
    descriptions: dict = field(default_factory=dict)
    matrix: np.ndarray | None = None
    baseline_samples: np.ndarray | None = None
    side: int = 0
    paths: list = field(default_factory=list)

    @property
    def files(self) -> list[str]:
        """:attr:`paths` as strings (below ``params.runs_root``)."""
        return [str(p) for p in self.paths]


def build_cnn(channels: tuple, hidden: int, side: int, n_classes: int):
    """conv3x3(1->c1) relu conv3x3(c1->c2) relu maxpool2 flatten linear(hidden) relu linear(classes)."""
    from collections import OrderedDict

    from torch import nn

    c1, c2 = channels
    pooled = side // 2
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(1, c1, 3, padding=1), relu1=nn.ReLU(),
        conv2=nn.Conv2d(c1, c2, 3, padding=1), relu2=nn.ReLU(), pool=nn.MaxPool2d(2),
        flatten=nn.Flatten(), fc1=nn.Linear(c2 * pooled * pooled, hidden), relu3=nn.ReLU(),
        fc2=nn.Linear(hidden, n_classes),
    ))


def train_networks(params: Parameters, data) -> dict:
    """``(seed, amount) -> (model, test accuracy, state_dict file)`` for every network.

    Per seed: the CNN is built after ``torch.manual_seed(seed)`` and trained
    ``dense_epochs``; a copy per amount is pruned with ``prune.l1_unstructured``
    on every convolution and linear layer and fine-tuned ``finetune_epochs``
    with the same seed from epoch ``dense_epochs`` (one stream of batch orders).
    Both steps go through :func:`~sparsetopo.training.modules.train_module`
    (Adam, cached by content under ``<runs_root>/modules``).
    """
    import copy

    import torch
    from torch import nn
    from torch.nn.utils import prune

    from ..training.modules import module_accuracy, train_module

    side = round(math.sqrt(data.n_features))
    if side * side != data.n_features:
        raise ValueError(f"dataset {data.name!r} has {data.n_features} features, not a square image")
    train = (data.x_train.reshape(-1, 1, side, side), data.y_train)
    x_test = data.x_test.reshape(-1, 1, side, side)
    settings = {"lr": params.lr, "batch_size": params.batch_size, "optimizer": "adam",
                "cache_dir": Path(params.runs_root) / "modules"}
    out = {}
    for seed in params.seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            dense = build_cnn(params.channels, params.hidden, side, data.n_classes)
        train_module(dense, train, epochs=params.dense_epochs, seed=seed, name=f"cnn_s{seed}", **settings)
        for amount in params.amounts:
            model = copy.deepcopy(dense)
            for layer in model:
                if isinstance(layer, (nn.Conv2d, nn.Linear)):
                    prune.l1_unstructured(layer, "weight", amount=float(amount))
            tuned = train_module(model, train, epochs=params.finetune_epochs, seed=seed, start_epoch=params.dense_epochs,
                                 name=f"cnn_s{seed}_p{round(amount * 100)}", **settings)
            out[(seed, amount)] = (model, module_accuracy(model, x_test, data.y_test), tuned.path)
    return out


def run(params: Parameters) -> Result:
    """Train and prune the networks (or read them from the cache), read their topologies, compare them with NNSTD.

    NNSTD pairs are cached under ``params.cache_dir``; the random baseline's
    pairs run on ``params.n_jobs`` workers (its numbers do not depend on it).

    Raises
    ------
    TypeError
        When ``params`` is not this module's :class:`Parameters`.
    """
    from ..data import load_dataset
    from ..nnstd.pairwise import cached_nnstd, random_baseline
    from ..topology.layered import describe_layer
    from ..topology.modules import load_state_dict_topology, topology_from_module

    if not isinstance(params, Parameters):
        raise TypeError(f"params must be any_model.Parameters, got {type(params).__name__}")
    data = load_dataset(params.dataset, seed=0)
    cache_dir = params.cache_dir
    trained = train_networks(params, data)
    topologies, rows, descriptions, paths = {}, [], {}, []
    mismatches = 0
    for seed in params.seeds:
        for amount in params.amounts:
            model, accuracy, path = trained[(seed, amount)]
            topology = topology_from_module(model)
            from_file = load_state_dict_topology(path)
            mismatches += sum(not np.array_equal(a, b) for a, b in zip(topology.masks, from_file.masks))
            mismatches += abs(len(topology) - len(from_file))
            label = f"seed {seed}, {amount:.0%} pruned"
            topologies[(seed, amount)] = topology
            descriptions[label] = from_file.describe()
            edges = sum(int(m.sum()) for m in topology.masks)
            total = sum(m.size for m in topology.masks)
            rows.append({"network": label, "seed": seed, "pruned": amount, "test_acc": accuracy,
                         "density": edges / total, "mask source": ", ".join(sorted(set(topology.sources))),
                         "file": path.name})
            paths.append(path)
    (a0, a1) = params.amounts
    seeds = params.seeds
    reference, other = topologies[(seeds[0], a0)], topologies[(seeds[0], a1)]
    # the later / sparser network first, as everywhere in the package
    matrix = np.array([[cached_nnstd(topologies[(si, a1)].masks, topologies[(sj, a0)].masks,
                                     cache_dir=cache_dir).layer_distances for sj in seeds] for si in seeds])
    matrix = np.moveaxis(matrix, -1, 0)  # (layers, seeds, seeds)
    baseline = random_baseline(other.masks, other=reference.masks, n_pairs=params.baseline_pairs, seed=0,
                               n_jobs=params.n_jobs, progress=show_progress(), cache_dir=cache_dir)
    diagonal = np.array([np.diag(m) for m in matrix])  # (layers, seeds)
    off = ~np.eye(len(seeds), dtype=bool)
    layers = pd.DataFrame({
        "layer": list(reference.names),
        "kind": [describe_layer(m) for m in reference.masks],
        "same parent": diagonal.mean(axis=1),
        "different seeds": np.array([m[off].mean() for m in matrix]),
        "random": baseline.layer_mean,
        "random_ci_low": baseline.layer_ci[:, 0],
        "random_ci_high": baseline.layer_ci[:, 1],
        "random_sd": np.asarray(baseline.samples).std(axis=0, ddof=1),
    })
    network = matrix.mean(axis=0)
    means = {
        # 1 - kept(a1) / kept(a0): the per-neuron cost of nested input sets at these densities
        "nested floor": 1 - (1 - a1) / (1 - a0),
        "same parent": float(np.diag(network).mean()),
        "different seeds": float(network[off].mean()),
        "random": baseline.mean,
        "random_ci": baseline.ci,
        "random_sd": float(np.asarray(baseline.samples).mean(axis=1).std(ddof=1)),
    }
    return Result(params=params, networks=pd.DataFrame(rows), layers=layers, means=means,
                  readback_mismatches=int(mismatches), descriptions=descriptions, matrix=matrix,
                  baseline_samples=np.asarray(baseline.samples, dtype=float), side=round(math.sqrt(data.n_features)),
                  paths=paths)


def comparison_intervals(matrix: np.ndarray, baseline: np.ndarray, *, n_boot: int = 2000, seed: int = 0,
                         confidence: float = 0.95) -> dict[str, np.ndarray]:
    """Bootstrap intervals of the two "closer" differences, resampling networks and random pairs.

    Parameters
    ----------
    matrix : ``(n, n)`` NNSTD ``M[i, j]`` between network ``i`` pruned at the larger amount and network ``j``
        pruned at the smaller one (the diagonal: one parent; off it: different seeds), ``n >= 3``.
    baseline : ``(n_pairs,)`` NNSTD of independent random pairs, ``n_pairs >= 2``.

    Returns
    -------
    dict
        ``"random - different"`` and ``"different - same parent"``: each ``[estimate, low, high]``.
        A replicate draws ``n`` seeds with replacement (the off-diagonal statistic uses the pairs of
        distinct drawn seeds, redrawn until one exists) and ``n_pairs`` random pairs with replacement;
        the interval is the percentile interval of the replicates.
    """
    if not 0 < float(confidence) < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    m = np.asarray(matrix, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 3:
        raise ValueError(f"matrix must be square with at least 3 networks, got shape {m.shape}")
    if b.ndim != 1 or b.size < 2:
        raise ValueError(f"baseline must hold at least 2 pair distances, got shape {b.shape}")
    n = m.shape[0]
    off = ~np.eye(n, dtype=bool)

    def stats(rows: np.ndarray, pairs: np.ndarray) -> tuple[float, float]:
        i, j = np.meshgrid(rows, rows, indexing="ij")
        distinct = i != j
        different = float(m[i[distinct], j[distinct]].mean())
        return float(b[pairs].mean()) - different, different - float(m[rows, rows].mean())

    rng = np.random.default_rng(seed)
    reps = np.empty((int(n_boot), 2))
    for r in range(int(n_boot)):
        rows = rng.integers(0, n, n)
        while np.unique(rows).size < 2:
            rows = rng.integers(0, n, n)
        reps[r] = stats(rows, rng.integers(0, b.size, b.size))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(reps, [alpha, 1 - alpha], axis=0)
    estimate = (float(b.mean()) - float(m[off].mean()), float(m[off].mean()) - float(np.diag(m).mean()))
    return {name: np.array([estimate[k], low[k], high[k]])
            for k, name in enumerate(("random - different", "different - same parent"))}


def claims(result: Result) -> Findings:
    """The findings of notebook ``05_any_model``: two descriptions of the setup (lowest test accuracy,
    read-back mismatches), the "closer than chance" verdicts (network level and per layer) and the
    "same parent" verdict, the numbers behind the figure, and the headline (:data:`HEADLINE`)."""
    from .verdicts import Margin, superiority

    p = result.params
    (a0, a1), layers, means = p.amounts, result.layers, result.means
    findings = Findings(NOTEBOOK, p.figures_dir, parameters=p.as_dict())
    findings.add_data("nnstd_per_layer", layers)
    findings.add_data("means", means)
    accuracies = result.networks["test_acc"]
    findings.claim("Test accuracy of the pruned and fine-tuned CNNs (lowest)", float(accuracies.min()), None,
                   detail=f"{len(result.networks)} CNNs, {p.dense_epochs} dense + {p.finetune_epochs} fine-tuning epochs",
                   spread=", ".join(f"{a:.3f}" for a in accuracies))
    findings.claim("Layers whose topology read from the state_dict file differs from the module's",
                   float(result.readback_mismatches), None,
                   detail="masks read with weights_only=True against topology_from_module")
    margin = Margin(p.closer_margin, p.closer_margin_why)
    n = result.matrix.shape[1]
    network = result.matrix.mean(axis=0)
    base = result.baseline_samples.mean(axis=1)
    comparisons = [("network (mean over layers)", network, base, means["random_sd"])]
    comparisons += [(f"layer {row['layer']} ({row['kind']})", result.matrix[k], result.baseline_samples[:, k],
                     float(row["random_sd"])) for k, row in layers.iterrows()]
    closer = f"Independently trained CNNs pruned at {a0:.0%} and {a1:.0%} are closer than chance"
    for name, matrix, baseline, sd in comparisons:
        estimate, low, high = comparison_intervals(matrix, baseline, n_boot=p.n_boot)["random - different"]
        off = matrix[~np.eye(n, dtype=bool)]
        findings.claim_verdict(
            f"{closer}: {name}", superiority(estimate, (low, high), margin),
            detail="random minus different-seed NNSTD, 95% bootstrap interval over seeds and random pairs",
            spread=f"different seeds {off.mean():.3f} ({n * (n - 1)} pairs of {n} seeds), random "
                   f"{baseline.mean():.3f} (SD {sd:.3f} over {baseline.size} pairs)")
    estimate, low, high = comparison_intervals(network, base, n_boot=p.n_boot)["different - same parent"]
    parent = "One network pruned at two amounts stays closer than two networks"
    findings.claim_verdict(
        parent, superiority(estimate, (low, high), margin),
        detail=f"different-seed minus same-parent NNSTD (mean over layers; {a0:.0%} vs {a1:.0%} pruned), "
               "95% bootstrap interval over seeds",
        spread=f"same parent {means['same parent']:.3f}, different seeds {means['different seeds']:.3f}")
    findings.headline(HEADLINE, [parent, f"{closer}: network (mean over layers)"],
                      setting=f"CNNs (3x3 convolutions of {p.channels[0]} and {p.channels[1]} channels, a hidden layer "
                              f"of {p.hidden}) on {p.dataset}, {len(p.seeds)} seeds, L1-pruned {a0:.0%} and {a1:.0%} "
                              f"with torch.nn.utils.prune, {p.dense_epochs} + {p.finetune_epochs} epochs")
    return findings


def context(result: Result, findings: Findings) -> dict[str, Any]:
    """The numbers the notebook's templates (``templates/05_any_model/*.md``) are filled from."""
    p = result.params
    decided = [c for c in findings.claims if c.verdict is not None]
    verdicts = [{"claim": c.claim, "short": c.claim.split(": ", 1)[-1], "measured": c.measured,
                 "ci": c.rule["ci"], "verdict": c.verdict} for c in decided]
    descriptions = list(result.descriptions.items())
    return {
        "params": p, "a0": p.amounts[0], "a1": p.amounts[1], "n_seeds": len(p.seeds), "side": result.side,
        "means": result.means, "networks": result.networks.to_dict("records"),
        "layers": result.layers.to_dict("records"), "readback_mismatches": result.readback_mismatches,
        "descriptions": descriptions, "same_description": len({text for _, text in descriptions}) == 1,
        "verdicts": verdicts, "network": verdicts[0], "layer_verdicts": verdicts[1:-1], "parent": verdicts[-1],
        "lowest_accuracy": float(result.networks["test_acc"].min()),
    }
