"""``sparsetopo distance``: NNSTD between saved networks from the command line.

Usage::

    sparsetopo distance A B [--epoch E]
    sparsetopo distance --matrix A B C ... --out DIR [--epoch E]

Each of A, B, ... is one of

* a topology saved by :func:`sparsetopo.topology.save_topology` (``.npz``);
* a PyTorch checkpoint or ``state_dict`` of a masked or sparse model
  (``.pt``/``.pth``; a ``'state_dict'`` or ``'model'`` entry is used when
  present; ``*.mask`` buffers when present, otherwise the non-zero pattern of
  the 2-D weights);
* a run folder in the published layout (``epoch_EEE/weight_l<k>.npz``),
  with ``--epoch``, or one ``epoch_EEE`` folder of it.

Errors (missing files, unknown formats, mismatched shapes) print one line on
stderr and exit with code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import re
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Sequence

import numpy as np

from .distances import DistanceMatrix, cached_nnstd, pairwise_nnstd
from .nnstd import METHODS, TIE_BREAKS
from .topology import load_published, load_topology, masks_from_state_dict

__all__ = ["add_distance_parser", "run_distance", "load_network"]

_EPOCH_DIR = re.compile(r"^epoch_(\d+)$")


class InputError(Exception):
    """A problem with the command's inputs, reported as exit code 2."""


def add_distance_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``distance`` subcommand; its ``func`` returns an exit code."""
    parser = subparsers.add_parser(
        "distance",
        help="NNSTD between saved networks (pair, or a matrix with --matrix)",
        description=(
            "Neural Network Sparse Topology Distance between networks saved as "
            "sparsetopo .npz topologies, PyTorch .pt/.pth state_dicts, or run "
            "folders in the published layout (epoch_EEE/weight_l<k>.npz, with --epoch)."
        ),
    )
    parser.add_argument("networks", nargs="+", metavar="NETWORK",
                        help="two networks, or two or more with --matrix")
    parser.add_argument("--epoch", type=int, default=None,
                        help="epoch to read from run folders in the published layout")
    parser.add_argument("--matrix", action="store_true",
                        help="pairwise matrix of all networks, written to --out as CSV and a heatmap PNG")
    parser.add_argument("--out", type=Path, default=None, help="output folder for --matrix")
    parser.add_argument("--fixed-output", action="store_true",
                        help="keep output (class) neurons in place instead of matching them")
    parser.add_argument("--method", choices=METHODS, default="auto",
                        help="assignment solver per layer (default: auto)")
    parser.add_argument("--tie-break", choices=TIE_BREAKS, default="structure",
                        help="choice among tied optimal matchings; 'solver' is the published code's (default: structure)")
    parser.add_argument("--n-jobs", type=int, default=1, help="worker processes for --matrix (default: 1)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="compute the --matrix pairs on this Dask scheduler (tcp://host:8786; --n-jobs is then "
                        "ignored and the cache folder must be shared with the workers) or 'local' "
                        "(default: $SPARSETOPO_SCHEDULER, else local)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="NNSTD cache folder (default: $SPARSETOPO_CACHE or ./runs/.cache/nnstd)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run_distance)
    return parser


def load_network(path: str | Path, epoch: int | None = None) -> list[np.ndarray]:
    """Read a network's topology from any supported file or folder.

    Parameters
    ----------
    path : path
        ``.npz`` topology, ``.pt``/``.pth`` checkpoint or state_dict, run
        folder in the published layout, or an ``epoch_EEE`` folder.
    epoch : int, optional
        Epoch to read from a run folder.

    Returns
    -------
    list of np.ndarray
        Boolean masks ``(n_out, n_in)``.

    Raises
    ------
    InputError
        With a message that says what is wrong and what would work.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        return _load_folder(path, epoch)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            masks, _ = load_topology(path)
        except (ValueError, KeyError, OSError, zipfile.BadZipFile) as err:
            raise InputError(f"{path}: not a sparsetopo topology file ({err})") from None
        return masks
    if suffix in (".pt", ".pth"):
        return _load_torch(path)
    raise InputError(
        f"{path}: unknown format {suffix or '(no suffix)'}; expected a .npz topology "
        "(save_topology), a .pt/.pth state_dict, or a run folder with epoch_EEE/weight_l<k>.npz"
    )


def _load_folder(path: Path, epoch: int | None) -> list[np.ndarray]:
    match = _EPOCH_DIR.match(path.name)
    if match and any(path.glob("weight_l*.npz")):
        if epoch is not None and epoch != int(match.group(1)):
            raise InputError(f"{path} is the folder of epoch {int(match.group(1))}, but --epoch {epoch} was given")
        return load_published(path.parent, int(match.group(1)))
    epochs = sorted(int(m.group(1)) for p in path.iterdir() if (m := _EPOCH_DIR.match(p.name)) and p.is_dir())
    if not epochs:
        raise InputError(
            f"{path}: a folder, but not a run in the published layout (no epoch_EEE "
            "folders with weight_l<k>.npz files)"
        )
    if epoch is None:
        raise InputError(f"{path} is a run folder; choose an epoch with --epoch (available: {', '.join(map(str, epochs))})")
    if epoch not in epochs:
        raise InputError(f"{path} has no epoch {epoch} (available: {', '.join(map(str, epochs))})")
    try:
        return load_published(path, epoch)
    except (FileNotFoundError, ValueError) as err:
        raise InputError(str(err)) from None


def _load_torch(path: Path) -> list[np.ndarray]:
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"{path}: cannot be read as a PyTorch state_dict ({first_line})") from None
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping):
        raise InputError(f"{path} holds a {type(obj).__name__}, not a state_dict; save model.state_dict()")
    try:
        return masks_from_state_dict(obj)
    except ValueError as err:
        raise InputError(f"{path}: {err}") from None


def _labels_for(paths: Sequence[Path]) -> list[str]:
    """Shortest trailing path parts that tell the inputs apart."""
    for depth in range(1, max(len(p.parts) for p in paths) + 1):
        labels = []
        for p in paths:
            parts = p.parts[-depth:]
            if depth == 1 and p.suffix:
                parts = (p.stem,)
            labels.append("/".join(parts))
        if len(set(labels)) == len(labels):
            return labels
    return [str(p) for p in paths]


def run_distance(args: argparse.Namespace) -> int:
    """Handler of ``sparsetopo distance``; returns the exit code."""
    try:
        return _run(args)
    except InputError as err:
        print(f"sparsetopo distance: error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:  # mismatched shapes, NaN weights
        print(f"sparsetopo distance: error: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.networks]
    if args.matrix:
        if len(paths) < 2:
            raise InputError("--matrix needs at least two networks")
        if args.out is None:
            raise InputError("--matrix needs --out DIR for the CSV and heatmap")
    elif len(paths) != 2:
        raise InputError(f"give exactly two networks (got {len(paths)}), or use --matrix for more")
    if args.n_jobs == 0:
        raise InputError("--n-jobs must be a positive number of processes (or -1 for all cores)")
    networks = [load_network(p, args.epoch) for p in paths]
    labels = _labels_for(paths)
    options = dict(method=args.method, fixed_output=args.fixed_output, tie_break=args.tie_break,
                   cache_dir=args.cache_dir, use_cache=not args.no_cache)
    if not args.matrix:
        result = cached_nnstd(networks[0], networks[1], **options)
        _print_pair(labels, networks[0], result, args)
        return 0
    from .parallel import use_scheduler

    with use_scheduler(args.scheduler) if args.scheduler is not None else contextlib.nullcontext():
        matrix = pairwise_nnstd(networks, labels=labels, n_jobs=args.n_jobs, progress=not args.no_progress, **options)
    written = _write_matrix(matrix, args.out, args)
    print(matrix.frame().to_string(float_format=lambda x: f"{x:.6f}"))
    for path in written:
        print(f"wrote {path}")
    return 0


def _describe(args: argparse.Namespace) -> str:
    output = "output fixed" if args.fixed_output else "output matched"
    return f"method {args.method}, {output}, ties: {args.tie_break}"


def _print_pair(labels: Sequence[str], first: list, result, args: argparse.Namespace) -> None:
    print(f"NNSTD(first={labels[0]}, second={labels[1]})  [{_describe(args)}]")
    print(f"{'layer':>5}  {'n_out':>6}  {'n_in':>6}  {'distance':>9}  solver")
    for k, (mask, distance, used) in enumerate(zip(first, result.layer_distances, result.methods)):
        print(f"{k:>5}  {mask.shape[0]:>6}  {mask.shape[1]:>6}  {distance:>9.6f}  {used}")
    print(f"{'mean':>5}  {'':>6}  {'':>6}  {result.mean:>9.6f}")


def _write_matrix(matrix: DistanceMatrix, out: Path, args: argparse.Namespace) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = [_atomic(out / "nnstd_mean.csv", lambda tmp: matrix.frame().to_csv(tmp))]
    for k in range(matrix.layers.shape[0]):
        written.append(_atomic(out / f"nnstd_layer{k}.csv", lambda tmp, k=k: matrix.frame(layer=k).to_csv(tmp)))

    n = len(matrix.labels)
    size = max(4.0, 0.45 * n + 2.0)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    image = ax.imshow(matrix.mean, vmin=0.0, vmax=1.0, cmap="viridis", interpolation="none")
    ax.set_xticks(range(n), labels=matrix.labels, rotation=90)
    ax.set_yticks(range(n), labels=matrix.labels)
    ax.set_xlabel("network")
    ax.set_ylabel("network")
    epoch = f", epoch {args.epoch}" if args.epoch is not None else ""
    ax.set_title(f"NNSTD, mean over layers{epoch}\n({_describe(args)})", fontsize=9)
    if n <= 12:
        for i in range(n):
            for j in range(n):
                value = matrix.mean[i, j]
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if value < 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="NNSTD (0 = same topology)")
    fig.tight_layout()
    written.append(_atomic(out / "nnstd_mean.png", lambda tmp: fig.savefig(tmp, dpi=150, format="png")))
    plt.close(fig)
    return written


def _atomic(path: Path, write) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
