"""NNSTD for networks pruned with the usual tools (notebook ``05_any_model``).

Small CNNs (two 3x3 convolutions, max-pooling, two linear layers) are trained
on a dataset of square images (default: scikit-learn's 8x8 digits), pruned
per layer with ``torch.nn.utils.prune.l1_unstructured`` at two amounts and
fine-tuned with the pruning masks in place. Their topologies are read back
with :func:`sparsetopo.topology.modules.topology_from_module` (and from their
saved ``state_dict`` files) and compared with NNSTD, per layer, against the
chance level for their shapes and edge counts
(:func:`sparsetopo.nnstd.pairwise.random_baseline` with ``other=``).

Comparisons (``a0 < a1`` are the two pruning amounts; one network is trained
per seed and pruned at both amounts, so ``net(s, a0)`` and ``net(s, a1)`` share
their dense parent). Every comparison is an entry of the matrix
``M[i, j] = NNSTD(net(s_i, a1), net(s_j, a0))`` (per layer):

``same parent``
    The diagonal ``M[i, i]``: one trained network pruned at both amounts
    (nested masks before fine-tuning).
``different seeds``
    The off-diagonal ``M[i, j]``, ``i != j``: two independently trained
    networks pruned at the two amounts, the comparison a practitioner would make.
``random``
    Independent random masks with the shapes and per-layer edge counts of
    ``net(s, a1)`` and ``net(s, a0)`` (magnitude pruning keeps the same
    counts for every seed).

Verdicts (:mod:`sparsetopo.study.verdicts`, superiority rule with margin
``closer_margin``): "closer than chance" holds when the whole 95% interval of
``random - different seeds`` lies above the margin, and "the same parent stays
closer" when that of ``different seeds - same parent`` does. The intervals
come from a bootstrap that resamples *networks* (seeds), since the pairs of
``n`` networks share networks, together with the independent random pairs.

API (the same as every study module): :class:`Parameters` (frozen, checked
before any work), :func:`run`, :func:`claims`, :func:`figures`, :func:`notes`.
Trained networks are cached as ``state_dict`` files under
``<runs_root>/05_any_model/``, named by their training configuration, so
re-running retrains nothing.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import pandas as pd

from ..parallel import show_progress
from ..store.config import short_hash
from .findings import Findings
from .params import StudyParameters, check_int, check_real, check_sequence, check_str

__all__ = ["Parameters", "Result", "build_cnn", "train_pruned_cnn", "run", "comparison_intervals", "claim_list", "claims",
           "figures", "notes", "discussion", "MARGIN_JUSTIFICATION"]

NOTEBOOK = "05_any_model"
#: The fields that decide a trained network (with its seed and amount): the key of its cached file.
TRAINING_FIELDS = ("dataset", "channels", "hidden", "dense_epochs", "finetune_epochs", "lr", "batch_size")
#: Why the default ``closer_margin`` is 0.01 (the notebook states it before the numbers).
MARGIN_JUSTIFICATION = (
    "0.01 NNSTD, about one standard deviation of the network-level random baseline between its pairs "
    "(0.012 over 16 pairs in the default profile's earlier execution; this run's value is reported beside it): "
    "a gap smaller than the pair-to-pair noise of chance itself is not called closer"
)

logger = logging.getLogger(__name__)


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

    def training_key(self) -> dict[str, Any]:
        """The :data:`TRAINING_FIELDS` as plain values (lists for tuples): what names a cached network."""
        values = self.as_dict()
        return {name: values[name] for name in TRAINING_FIELDS}


@dataclass(frozen=True, eq=False)
class Result:
    """What :func:`run` measured.

    Attributes
    ----------
    params : Parameters
    networks : pd.DataFrame
        One row per trained network: seed, amount, test accuracy, density,
        mask sources, file.
    layers : pd.DataFrame
        One row per layer: name, kind, shape, the mean NNSTD of each
        comparison, the random baseline's mean and confidence interval.
    means : dict
        Mean over layers of each comparison and of the baseline (with CI).
    readback_mismatches : int
        Layers whose mask read from the saved ``state_dict`` differs from the
        one read from the module (0 when the readers agree).
    descriptions : dict
        Per network, :meth:`ModelTopology.describe` of the file read back.
    matrix : np.ndarray
        ``(n_layers, n_seeds, n_seeds)``: ``M[l, i, j] = NNSTD(net(s_i, a1), net(s_j, a0))`` of layer ``l``.
    baseline_samples : np.ndarray
        ``(baseline_pairs, n_layers)`` NNSTD of the independent random pairs.
    """

    params: Parameters
    networks: pd.DataFrame
    layers: pd.DataFrame
    means: dict
    readback_mismatches: int
    descriptions: dict = field(default_factory=dict)
    matrix: np.ndarray | None = None
    baseline_samples: np.ndarray | None = None

    @property
    def files(self) -> list[str]:
        """The saved ``state_dict`` file of every network (rows of :attr:`networks`), below ``params.runs_root``."""
        return [f"{self.params.runs_root}/{NOTEBOOK}/{name}" for name in self.networks["file"]]


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


def _prunable(model) -> list:
    from torch import nn

    return [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]


def _images(x, side: int):
    return x.reshape(-1, 1, side, side)


def _epochs(model, x, y, epochs: int, lr: float, batch_size: int, generator) -> None:
    import torch
    import torch.nn.functional as F

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(x.shape[0], generator=generator)
        for start in range(0, x.shape[0], batch_size):
            batch = order[start : start + batch_size]
            optimizer.zero_grad()
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()


def _accuracy(model, x, y) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def train_pruned_cnn(params: Parameters, seed: int, amount: float, data, *, cache: Path | None = None):
    """Train a CNN, prune every layer by L1 magnitude, fine-tune; cached as a state_dict.

    The file's name holds the seed, the amount and a hash of
    :meth:`Parameters.training_key`, so networks trained otherwise never share a file.

    Returns
    -------
    model : torch.nn.Sequential
        Pruned with ``torch.nn.utils.prune`` (``weight_orig`` and
        ``weight_mask`` per layer; the masks stay in place while fine-tuning).
    accuracy : float
        Test accuracy after fine-tuning.
    path : Path or None
        The cached ``state_dict`` file.
    """
    import torch
    from torch.nn.utils import prune

    side = round(math.sqrt(data.n_features))
    if side * side != data.n_features:
        raise ValueError(f"dataset {data.name!r} has {data.n_features} features, not a square image")
    x_train, x_test = _images(data.x_train, side), _images(data.x_test, side)
    torch.manual_seed(seed)
    model = build_cnn(params.channels, params.hidden, side, data.n_classes)
    path = None
    if cache is not None:
        config = params.training_key()
        config.update(seed=int(seed), amount=float(amount))
        key = short_hash(config, 12)
        path = cache / f"cnn_s{seed}_p{round(amount * 100)}_{key}.pt"
    if path is not None and path.exists():
        for layer in _prunable(model):
            prune.identity(layer, "weight")  # creates weight_orig / weight_mask so the keys match
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        logger.info("seed %s, %.0f%% pruned: read from %s", seed, 100 * amount, path.name)
        return model, _accuracy(model, x_test, data.y_test), path
    generator = torch.Generator().manual_seed(seed)
    _epochs(model, x_train, data.y_train, params.dense_epochs, params.lr, params.batch_size, generator)
    for layer in _prunable(model):
        prune.l1_unstructured(layer, "weight", amount=float(amount))
    _epochs(model, x_train, data.y_train, params.finetune_epochs, params.lr, params.batch_size, generator)
    if path is not None:
        from ..atomic import atomic_path

        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".pt") as tmp:
            torch.save(model.state_dict(), tmp)
    logger.info("seed %s, %.0f%% pruned: trained and fine-tuned", seed, 100 * amount)
    return model, _accuracy(model, x_test, data.y_test), path


def _train_all(params: Parameters, data, store: Path) -> dict:
    """``(seed, amount) -> (model, accuracy, path)`` for every network, trained on one thread.

    Training runs with ``torch.set_num_threads(1)`` (restored afterwards), so
    the weights, and hence the pruned topologies, do not depend on the
    machine's core count.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {(seed, amount): train_pruned_cnn(params, seed, amount, data, cache=store)
                for seed in params.seeds for amount in params.amounts}
    finally:
        torch.set_num_threads(threads)


def run(params: Parameters) -> Result:
    """Train and prune the networks (or read them from the run store), read their topologies, compare them with NNSTD.

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
    trained = _train_all(params, data, Path(params.runs_root) / NOTEBOOK)
    topologies, rows, descriptions = {}, [], {}
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
                  baseline_samples=np.asarray(baseline.samples, dtype=float))


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
    from .verdicts import _check_confidence

    confidence = _check_confidence(confidence)
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


def claim_list(result: Result) -> list[dict[str, Any]]:
    """The claims of notebook ``05_any_model``, each measured from the run.

    Entries with a ``"verdict"`` (a :class:`~sparsetopo.study.verdicts.Verdict`) are decided by the
    superiority rule of :func:`comparison_intervals`' differences against ``params.closer_margin``; the
    others are descriptions (``holds`` None): the accuracy of the pruned networks and the agreement of the
    two topology readers, which are checks of this notebook's setup, not claims of the paper.
    """
    from .verdicts import Margin, superiority

    p = result.params
    (a0, a1), layers, means = p.amounts, result.layers, result.means
    margin = Margin(p.closer_margin, p.closer_margin_why)
    accuracies = result.networks["test_acc"]
    out = [
        {
            "claim": "Test accuracy of the pruned and fine-tuned CNNs (lowest)",
            "measured": float(accuracies.min()),
            "holds": None,
            "detail": f"{len(result.networks)} CNNs, {p.dense_epochs} dense + {p.finetune_epochs} fine-tuning epochs",
            "spread": ", ".join(f"{a:.3f}" for a in accuracies),
        },
        {
            "claim": "Layers whose topology read from the state_dict file differs from the module's",
            "measured": float(result.readback_mismatches),
            "holds": None,
            "detail": "masks read with weights_only=True against topology_from_module",
        },
    ]
    n = result.matrix.shape[1]
    network = result.matrix.mean(axis=0)
    base = result.baseline_samples.mean(axis=1)
    comparisons = [("network (mean over layers)", network, base, means["random_sd"])]
    comparisons += [(f"layer {row['layer']} ({row['kind']})", result.matrix[k], result.baseline_samples[:, k],
                     float(row["random_sd"])) for k, row in layers.iterrows()]
    for name, matrix, baseline, sd in comparisons:
        ci = comparison_intervals(matrix, baseline, n_boot=p.n_boot)
        estimate, low, high = ci["random - different"]
        off = matrix[~np.eye(n, dtype=bool)]
        out.append({
            "claim": f"Independently trained CNNs pruned at {a0:.0%} and {a1:.0%} are closer than chance: {name}",
            "verdict": superiority(estimate, (low, high), margin),
            "spread": f"different seeds {off.mean():.3f} ({n * (n - 1)} pairs of {n} seeds), random "
                      f"{baseline.mean():.3f} (SD {sd:.3f} over {baseline.size} pairs)",
            "detail": "random minus different-seed NNSTD, 95% bootstrap interval over seeds and random pairs",
        })
    estimate, low, high = comparison_intervals(network, base, n_boot=p.n_boot)["different - same parent"]
    out.append({
        "claim": "One network pruned at two amounts stays closer than two networks",
        "verdict": superiority(estimate, (low, high), margin),
        "spread": f"same parent {means['same parent']:.3f}, different seeds {means['different seeds']:.3f}",
        "detail": f"different-seed minus same-parent NNSTD (mean over layers; {a0:.0%} vs {a1:.0%} pruned), "
                  "95% bootstrap interval over seeds",
    })
    return out


def claims(result: Result) -> Findings:
    """The findings of notebook ``05_any_model`` (the claims of :func:`claim_list`, and the numbers behind
    the figure); the parameters recorded are ``result.params``."""
    p = result.params
    findings = Findings(NOTEBOOK, p.figures_dir, parameters=p.as_dict())
    findings.add_data("nnstd_per_layer", result.layers)
    findings.add_data("means", result.means)
    for claim in claim_list(result):
        verdict = claim.pop("verdict", None)
        if verdict is None:
            findings.claim(**claim)
        else:
            claim.pop("measured", None)
            findings.claim_verdict(claim.pop("claim"), verdict, **claim)
    return findings


def notes(result: Result) -> dict[str, str]:
    """Sentences of measured numbers for the notebook (keys ``"networks"``, ``"means"``, ``"rule"``)."""
    m, p = result.means, result.params
    return {
        "networks": "\n".join(f"{name}: {description}" for name, description in result.descriptions.items()),
        "means": f"Mean over layers: same parent {m['same parent']:.3f}, different seeds {m['different seeds']:.3f}, "
                 f"random {m['random']:.3f} [{m['random_ci'][0]:.3f}, {m['random_ci'][1]:.3f}]. "
                 f"Input sets nested at these densities would already cost about {m['nested floor']:.3f} per neuron.",
        "rule": f"Margin {p.closer_margin:g} NNSTD; the network-level random baseline's standard deviation between "
                f"its {result.baseline_samples.shape[0]} pairs in this run is {m['random_sd']:.4f}.",
    }


def discussion(result: Result, findings: Findings) -> str:
    """"Discussion and limitations" of notebook 05 as Markdown, every number read from ``result`` / ``findings``."""
    p, m = result.params, result.means
    verdicts = {c.claim: c for c in findings.claims if c.verdict is not None}
    network = next(c for name, c in verdicts.items() if name.endswith("network (mean over layers)"))
    layer_words = [f"{name.split(': ', 1)[1]} {c.verdict}" for name, c in verdicts.items()
                   if ": layer " in name]
    parent = verdicts["One network pruned at two amounts stays closer than two networks"]
    n = len(p.seeds)
    return "\n".join([
        "## Discussion and limitations",
        "",
        f"- **Closer than chance.** Over {n} independently trained CNNs, networks of different seeds are "
        f"{m['different seeds']:.3f} apart (mean over layers) against {m['random']:.3f} for random masks of the "
        f"same shapes; the difference {network.measured:.3f} [{network.rule['ci'][0]:.3f}, "
        f"{network.rule['ci'][1]:.3f}] against the margin {p.closer_margin:g} makes the claim "
        f"**{network.verdict}**. Per layer: {'; '.join(layer_words)}.",
        f"- **Same parent.** One network pruned at {p.amounts[0]:.0%} and {p.amounts[1]:.0%} stays at "
        f"{m['same parent']:.3f}, close to the {m['nested floor']:.3f} that nested input sets cost at these "
        f"densities: **{parent.verdict}** (difference {parent.measured:.3f} [{parent.rule['ci'][0]:.3f}, "
        f"{parent.rule['ci'][1]:.3f}]).",
        f"- **Limitations.** The networks are tiny ({p.channels[0]} and {p.channels[1]} channels, a hidden layer of "
        f"{p.hidden}) and trained on 8x8 digits for {p.dense_epochs} + {p.finetune_epochs} epochs; {n} seeds give "
        f"wide intervals, and the first convolution has only 9 inputs per neuron, so its distances are coarse. "
        "This notebook shows that NNSTD applies to models pruned with standard tools; it does not test a claim of "
        "the paper, which studies MLPs only.",
    ])


def figures(result: Result) -> dict[str, Any]:
    """``{"nnstd_per_layer": Figure}``: grouped bars per layer with the chance interval (closed: show with
    ``display``)."""
    import matplotlib.pyplot as plt

    layers = result.layers
    x = np.arange(len(layers))
    fig, ax = plt.subplots(figsize=(9.5, 3.8))
    width = 0.27
    colors = {"same parent": "#4c72b0", "different seeds": "#dd8452", "random": "#8c8c8c"}
    for i, name in enumerate(("same parent", "different seeds", "random")):
        values = layers[name].to_numpy()
        yerr = None
        if name == "random":
            yerr = np.vstack([values - layers["random_ci_low"], layers["random_ci_high"] - values])
        ax.bar(x + (i - 1) * width, values, width, label=name, color=colors[name], yerr=yerr, capsize=3)
    ax.axhline(result.means["nested floor"], color="black", linestyle="--", linewidth=1,
               label="nested input sets at these densities")
    ax.set_xticks(x, [f"{n}\n{k}" for n, k in zip(layers["layer"], layers["kind"])], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("NNSTD (0 = same topology)")
    a0, a1 = result.params.amounts
    ax.set_title(f"Per-layer NNSTD of CNNs pruned at {a0:.0%} and {a1:.0%} (torch.nn.utils.prune)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    plt.close(fig)
    return {"nnstd_per_layer": fig}
