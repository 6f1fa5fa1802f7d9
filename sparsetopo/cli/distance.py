"""``sparsetopo distance``: NNSTD between saved networks from the command line.

Usage::

    sparsetopo distance A B [--epoch E] [--layers NAME,NAME,...]
    sparsetopo distance --matrix A B C ... --out DIR [--epoch E]

Each of A, B, ... is one of

* a topology saved by :func:`sparsetopo.topology.masks.save_topology` (``.npz``);
* a PyTorch checkpoint or ``state_dict`` (``.pt``/``.pth``, loaded with
  ``weights_only=True``; a ``'state_dict'`` or ``'model'`` entry is used when
  present) of a model of ``Linear`` and ``Conv2d`` layers: masks from
  ``torch.nn.utils.prune``'s ``weight_mask``, else a stored ``mask`` buffer,
  else the non-zero weights (:mod:`sparsetopo.topology.modules`), layers in
  key order or in the order given by ``--layers``;
* a run folder in the published layout (``epoch_EEE/weight_l<k>.npz``),
  with ``--epoch``, or one ``epoch_EEE`` folder of it.

The two networks may differ in layer widths (see :mod:`sparsetopo.nnstd.distance`).
Errors (missing files, unknown formats, layers that cannot be ordered or do
not chain, networks that cannot be compared, ``--epoch`` for inputs without
epochs) print one line on stderr and exit with code 2; a file that cannot be
written (full disk, read-only folder) exits with code 1, naming the file.
``--matrix`` never overwrites files already in ``--out`` unless ``--force``
is given.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from ..atomic import atomic_path
from ..errors import InputError, run_reporting_errors, write_error
from ..nnstd.distance import METHODS, TIE_BREAKS
from ..nnstd.pairwise import DistanceMatrix, cached_nnstd, pairwise_nnstd
from ..topology.layered import describe_layer
from ..topology.masks import DENSE_MASK_MAX_POSITIONS, load_published, load_topology_fitting
from ..topology.modules import load_state_dict_topology

SPARSE_INPUT_MIN_POSITIONS = DENSE_MASK_MAX_POSITIONS
"""A .npz topology with a layer of more positions (n_out x n_in) than this is compared as sparse layers,
never densified (a 4096 x 4096 layer as a dense mask is 16 MB; a 100,000 x 100,000 one would be 10 GB)."""

__all__ = ["add_distance_parser", "run_distance", "load_network"]

_EPOCH_DIR = re.compile(r"^epoch_(\d+)$")


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
                        help="epoch to read from run folders in the published layout (an error for other inputs)")
    parser.add_argument("--layers", default=None, metavar="NAME,NAME,...",
                        help="order of the layers of .pt/.pth state_dicts, as key prefixes (default: key order)")
    parser.add_argument("--matrix", action="store_true",
                        help="pairwise matrix of all networks, written to --out as CSV and a heatmap PNG")
    parser.add_argument("--out", type=Path, default=None, help="output folder for --matrix")
    parser.add_argument("--force", action="store_true",
                        help="let --matrix overwrite the CSV and PNG files already in --out (default: refuse)")
    parser.add_argument("--fixed-output", action="store_true",
                        help="keep output (class) neurons in place instead of matching them")
    parser.add_argument("--method", choices=METHODS, default="auto",
                        help="assignment solver per layer (default: auto)")
    parser.add_argument("--tie-break", choices=TIE_BREAKS, default="structure",
                        help="choice among tied optimal matchings; 'solver' is the published code's (default: structure)")
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="worker processes for --matrix, -1 for all cores (default: 2 where this process may "
                        "use at least 2 cores, else 1)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="compute the --matrix pairs on this Dask scheduler (tcp://host:8786; --n-jobs is then "
                        "ignored and the cache folder must be shared with the workers) or 'local' "
                        "(default: $SPARSETOPO_SCHEDULER, else local)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="NNSTD cache folder (default: $SPARSETOPO_CACHE, else the user cache directory, ~/.cache/sparsetopo/nnstd on Linux)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run_distance)
    return parser


def load_network(
    path: str | Path,
    epoch: int | None = None,
    *,
    layers: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """Read a network's topology from any supported file or folder.

    Parameters
    ----------
    path : path
        ``.npz`` topology, ``.pt``/``.pth`` checkpoint or state_dict, run
        folder in the published layout, or an ``epoch_EEE`` folder.
    epoch : int, optional
        Epoch to read from a run folder; an error for any other input.
    layers : sequence of str, optional
        Layer order of a state_dict (key prefixes); an error for other inputs.

    Returns
    -------
    list of np.ndarray
        Boolean masks ``(n_out, n_in)``, or ``(out_channels, in_channels, kh,
        kw)`` for convolutions. A ``.npz`` topology with a layer of more than
        :data:`SPARSE_INPUT_MIN_POSITIONS` positions comes back as scipy CSR
        layers instead (never densified).

    Raises
    ------
    InputError
        With a message that says what is wrong and what would work.
    """
    return _load(Path(path), epoch, layers)[0]


def _load(path: Path, epoch: int | None, layers: Sequence[str] | None) -> tuple[list[np.ndarray], str]:
    """Masks and a one-line description of where they came from."""
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        if layers is not None:
            raise InputError(f"--layers orders the layers of .pt/.pth state_dicts, but {path} is a folder")
        masks = _load_folder(path, epoch)
        return masks, (f"{len(masks)} layers, published layout (weight_l0..weight_l{len(masks) - 1}.npz; the last is "
                       f"taken as the output layer, of {masks[-1].shape[0]} neurons)")
    suffix = path.suffix.lower()
    if epoch is not None:
        raise InputError(
            f"--epoch {epoch} was given, but {path} is a {suffix or 'file'} file without epochs; --epoch applies "
            "only to run folders in the published layout (drop it, or pass the run folder)"
        )
    if suffix == ".npz":
        if layers is not None:
            raise InputError(f"--layers orders the layers of .pt/.pth state_dicts, but {path} is a .npz topology")
        try:
            masks, _ = load_topology_fitting(path)
            if sp.issparse(masks[0]):
                # wide layers stay sparse end to end (nnstd and its cache take scipy sparse layers)
                return masks, f"{len(masks)} layers, sparsetopo topology (kept sparse: {_widest(masks)})"
        except (ValueError, KeyError, OSError, zipfile.BadZipFile) as err:
            raise InputError(f"{path}: not a sparsetopo topology file ({err})") from None
        return masks, f"{len(masks)} layers, sparsetopo topology"
    if suffix in (".pt", ".pth"):
        try:
            topology = load_state_dict_topology(path, layers=layers)
        except ValueError as err:
            message = str(err)
            raise InputError(message if message.startswith(str(path)) else f"{path}: {message}") from None
        return list(topology.masks), topology.describe()
    raise InputError(
        f"{path}: unknown format {suffix or '(no suffix)'}; expected a .npz topology "
        "(save_topology), a .pt/.pth state_dict, or a run folder with epoch_EEE/weight_l<k>.npz"
    )


def _widest(layers: Sequence) -> str:
    n_out, n_in = max((layer.shape for layer in layers), key=lambda shape: shape[0] * shape[1])
    return f"widest layer {n_out}x{n_in}"


def _load_folder(path: Path, epoch: int | None) -> list[np.ndarray]:
    match = _EPOCH_DIR.match(path.name)
    if match and any(path.glob("weight_l*.npz")):
        if epoch is not None and epoch != int(match.group(1)):
            raise InputError(f"{path} is the folder of epoch {int(match.group(1))}, but --epoch {epoch} was given")
        return load_published(path.parent, int(match.group(1)))
    epochs = sorted(int(m.group(1)) for p in path.iterdir() if (m := _EPOCH_DIR.match(p.name)) and p.is_dir())
    if not epochs:
        _point_to_snapshots(path, epoch)
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


def _point_to_snapshots(path: Path, epoch: int | None) -> None:
    """Raise an error pointing to the snapshot files when ``path`` is a sparsetopo run folder (or its topology/)."""
    folder = path / "topology" if (path / "topology").is_dir() else path
    snapshots = sorted(folder.glob("epoch_*.npz"))
    if not snapshots:
        return
    numbers = [int(m.group(1)) for p in snapshots if (m := _EPOCH_DIR.match(p.stem))]
    wanted = next((p for p in snapshots if epoch is not None and p.stem == f"epoch_{epoch:03d}"), snapshots[-1])
    raise InputError(
        f"{path} is a sparsetopo run folder, not the published layout; give one of its topology snapshots, e.g. "
        f"{wanted} (epochs saved: {', '.join(map(str, numbers))}), without --epoch"
    )


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
    """Handler of ``sparsetopo distance``; returns the exit code (errors: one line on stderr)."""
    debug = getattr(args, "verbosity", None) == "debug"
    return run_reporting_errors("sparsetopo distance", lambda: _run(args), debug=debug, stream=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.networks]
    if args.matrix:
        if len(paths) < 2:
            raise InputError("--matrix needs at least two networks")
        if args.out is None:
            raise InputError("--matrix needs --out DIR for the CSV and heatmap")
    elif len(paths) != 2:
        raise InputError(f"give exactly two networks (got {len(paths)}), or use --matrix for more")
    if args.n_jobs is not None and (args.n_jobs == 0 or args.n_jobs < -1):
        raise InputError("--n-jobs must be a positive number of processes (or -1 for all cores)")
    if args.scheduler is not None:
        from ..parallel import resolve_scheduler

        resolve_scheduler(args.scheduler, source="--scheduler")  # a malformed address fails before any work
    if args.epoch is not None and not any(p.is_dir() for p in paths):
        raise InputError(
            f"--epoch {args.epoch} was given, but no input is a run folder: each file holds one network "
            "and has no epochs; drop --epoch, or give run folders in the published layout"
        )
    layers = None if args.layers is None else [n.strip() for n in args.layers.split(",") if n.strip()]
    if layers is not None and not layers:
        raise InputError("--layers needs a comma-separated list of layer names, e.g. --layers conv1,conv2,fc1,fc2")
    loaded = [_load(p, args.epoch, layers) for p in paths]
    networks = [masks for masks, _ in loaded]
    labels = _labels_for(paths)
    options = dict(method=args.method, fixed_output=args.fixed_output, tie_break=args.tie_break,
                   cache_dir=args.cache_dir, use_cache=not args.no_cache)
    if not args.matrix:
        result = cached_nnstd(networks[0], networks[1], **options)
        for label, (_, description) in zip(labels, loaded):
            print(f"{label}: {description}")
        _print_pair(labels, networks, result, args)
        return 0
    sparse = [any(sp.issparse(layer) for layer in network) for network in networks]
    if any(sparse) and not all(sparse):
        # a matrix keeps its networks all sparse or all dense masks
        if any(np.ndim(m) != 2 for network, is_sparse in zip(networks, sparse) if not is_sparse for m in network):
            raise InputError("--matrix with a wide topology file compares MLPs only (linear layers); "
                             "a convolutional network here cannot be kept sparse")
        networks = [network if is_sparse else [sp.csr_matrix(m) for m in network]
                    for network, is_sparse in zip(networks, sparse)]
    _refuse_overwrite(args.out, _matrix_files(args.out, networks), args.force)
    from ..parallel import use_scheduler

    with use_scheduler(args.scheduler) if args.scheduler is not None else contextlib.nullcontext():
        matrix = pairwise_nnstd(networks, labels=labels, n_jobs=_n_jobs(args), progress=not args.no_progress,
                                meanwhile=_import_drawing, **options)
    written = _write_matrix(matrix, args.out, args)
    print(matrix.frame().to_string(float_format=lambda x: f"{x:.6f}"))
    for path in written:
        print(f"wrote {path}")
    return 0


def _n_jobs(args: argparse.Namespace) -> int:
    """``--n-jobs``, or by default 2 worker processes where this process may use 2 cores or more."""
    if args.n_jobs is not None:
        return args.n_jobs
    from ..parallel import usable_cores

    return min(2, usable_cores())


def _describe(args: argparse.Namespace) -> str:
    output = "output fixed" if args.fixed_output else "output matched"
    return f"method {args.method}, {output}, ties: {args.tie_break}"


def _print_pair(labels: Sequence[str], networks: Sequence[list], result, args: argparse.Namespace) -> None:
    first, second = networks
    print(f"NNSTD(first={labels[0]}, second={labels[1]})  [{_describe(args)}]")
    print(f"{'layer':>5}  {'n_out':>6}  {'n_in':>6}  {'distance':>9}  {'solver':<6}  layer (first / second)")
    for k, (distance, used) in enumerate(zip(result.layer_distances, result.methods)):
        a, b = first[k], second[k]
        shapes = describe_layer(a) if a.shape == b.shape else f"{describe_layer(a)} / {'x'.join(map(str, b.shape))}"
        n_in = int(np.prod(a.shape[1:]))
        print(f"{k:>5}  {a.shape[0]:>6}  {n_in:>6}  {distance:>9.6f}  {used:<6}  {shapes}")
    print(f"{'mean':>5}  {'':>6}  {'':>6}  {result.mean:>9.6f}")


def _matrix_files(out: Path, networks: Sequence[list]) -> list[Path]:
    """The files ``--matrix`` writes into ``out``."""
    n_layers = min(len(n) for n in networks)
    return [out / "nnstd_mean.csv", *(out / f"nnstd_layer{k}.csv" for k in range(n_layers)), out / "nnstd_mean.png"]


def _refuse_overwrite(out: Path, files: Sequence[Path], force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for the CSV and heatmap files")
    existing = [p.name for p in files if p.exists()]
    if existing and not force:
        raise InputError(
            f"--out {out} already holds {', '.join(existing)}; pass --force to overwrite them, or choose another "
            "--out folder"
        )


def _import_drawing() -> None:
    """Import what the heatmap needs (about half a second), while worker processes compute the pairs."""
    import matplotlib.pyplot  # noqa: F401

    from ..nnstd import heatmap  # noqa: F401


def _write_matrix(matrix: DistanceMatrix, out: Path, args: argparse.Namespace) -> list[Path]:
    import matplotlib.pyplot as plt

    from ..nnstd.heatmap import distance_heatmap

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(err, out, "create the --out folder") from None
    written = [_atomic(out / "nnstd_mean.csv", lambda tmp: matrix.frame().to_csv(tmp))]
    for k in range(matrix.layers.shape[0]):
        written.append(_atomic(out / f"nnstd_layer{k}.csv", lambda tmp, k=k: matrix.frame(layer=k).to_csv(tmp)))

    epoch = f", epoch {args.epoch}" if args.epoch is not None else ""
    ax = distance_heatmap(matrix.mean, matrix.labels, title=f"NNSTD, mean over layers{epoch}\n({_describe(args)})",
                          cbar_label="NNSTD (0 = same topology)")
    ax.set_xlabel("network")
    ax.set_ylabel("network")
    ax.title.set_fontsize(9)
    fig = ax.figure
    fig.tight_layout()
    written.append(_atomic(out / "nnstd_mean.png", lambda tmp: fig.savefig(tmp, dpi=150, format="png")))
    plt.close(fig)
    return written


def _atomic(path: Path, write) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it; errors name ``path``."""
    try:
        with atomic_path(path, suffix=path.suffix) as tmp:
            write(tmp)
    except OSError as err:
        raise write_error(err, path) from None
    return path
