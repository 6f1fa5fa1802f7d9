"""``sparsetopo metrics``: topology metrics of saved networks, optionally beside a null model.

Usage::

    sparsetopo metrics PATH... [--metric NAME ...] [--null er|degree] [--draws N]
                       [--epoch E ...] [--out FILE.csv [--force]]

Each PATH is a run folder of the run store (``topology/epoch_EEE.npz``) or of
the published layout (``epoch_EEE/weight_l<k>.npz``), one ``epoch_EEE``
folder, a ``.npz`` topology, or a ``.pt``/``.pth`` state_dict (read as by
``sparsetopo distance``). Run folders report every stored epoch unless
``--epoch`` picks some. The table is printed; ``--out`` also writes it as a
tidy CSV (one row per network, epoch, metric and layer) and never replaces
an existing file without ``--force``. Errors print one line on stderr and
exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from ..atomic import atomic_path
from ..errors import InputError, UnsupportedTopologyError
from ..metrics.frame import metrics_frame, topology_frame
from ..metrics.registry import METRICS
from ..topology.nulls import NULLS
from .distance import load_network

__all__ = ["add_metrics_parser", "run_metrics"]


def add_metrics_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``metrics`` subcommand; its ``func`` returns an exit code."""
    parser = subparsers.add_parser(
        "metrics",
        help="graph metrics of saved networks (degrees, dead neurons, effective paths, spectra), with null models",
        description="Topology metrics of networks saved as run folders (run store or published layout), .npz "
        "topologies or PyTorch .pt/.pth state_dicts, each optionally beside its value under a null model.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="run folders, epoch_EEE folders, .npz or .pt/.pth files")
    parser.add_argument("--metric", action="append", default=None, metavar="NAME",
                        help="a metric to compute (repeat for several; default: all; --list shows them)")
    parser.add_argument("--null", choices=sorted(NULLS), default=None,
                        help="compare with a null model: er (Erdős–Rényi, exact counts) or degree (degree-preserving)")
    parser.add_argument("--draws", type=int, default=16, help="null draws (default: 16)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the null draws (default: 0)")
    parser.add_argument("--epoch", type=int, action="append", default=None,
                        help="epoch of run folders to report (repeat for several; default: all stored)")
    parser.add_argument("--layers", default=None, metavar="NAME,NAME,...",
                        help="order of the layers of .pt/.pth state_dicts, as key prefixes (default: key order)")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE.csv", help="also write the table as CSV")
    parser.add_argument("--force", action="store_true", help="replace an existing --out file")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="metrics cache folder (default: $SPARSETOPO_CACHE, else the user cache directory, ~/.cache/sparsetopo/metrics on Linux)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument("--list", action="store_true", help="list the metrics and exit")
    parser.set_defaults(func=run_metrics)
    return parser


def run_metrics(args: argparse.Namespace) -> int:
    """Handler of ``sparsetopo metrics``; returns the exit code."""
    try:
        return _run(args)
    except (InputError, UnsupportedTopologyError, ValueError, KeyError, FileNotFoundError) as err:
        message = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
        print(f"sparsetopo metrics: error: {' '.join(message.split())}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.list:
        for name, m in METRICS.items():
            print(f"{name:<22} {m.kind:<9} {m.description}")
        return 0
    if not args.paths:
        raise InputError("give at least one PATH (a run folder, an epoch_EEE folder, a .npz or .pt/.pth file)")
    unknown = [m for m in args.metric or [] if m not in METRICS]
    if unknown:
        raise InputError(f"unknown metric(s) {', '.join(unknown)}; available: {', '.join(METRICS)}")
    if args.draws < 2:
        raise InputError(f"--draws must be at least 2 (a spread needs two draws), got {args.draws}")
    if args.out is not None and args.out.exists() and not args.force:
        raise InputError(f"{args.out} exists; pass --force to replace it, or choose another --out")
    layers = None if args.layers is None else [n.strip() for n in args.layers.split(",") if n.strip()]
    options = dict(null=args.null, draws=args.draws, seed=args.seed)
    frames = []
    for path in (Path(p) for p in args.paths):
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_file() and path.suffix.lower() in (".pt", ".pth"):
            if args.epoch is not None:
                raise InputError(f"--epoch applies to run folders, but {path} is a state_dict without epochs")
            frames.append(topology_frame(load_network(path, layers=layers), args.metric, label=path.stem, **options))
            continue
        if layers is not None:
            raise InputError(f"--layers orders the layers of .pt/.pth state_dicts, but {path} is not one")
        if path.is_file() and args.epoch is not None:
            raise InputError(f"--epoch applies to run folders, but {path} is a file holding one network")
        frames.append(metrics_frame([path], args.metric, args.epoch, cache_dir=args.cache_dir,
                                    use_cache=not args.no_cache, **options))
    frame = pd.concat(frames, ignore_index=True)
    _print(frame, args.null is not None)
    if args.out is not None:
        with atomic_path(args.out, suffix=".csv") as tmp:
            frame.to_csv(tmp, index=False)
        print(f"wrote {args.out}")
    return 0


def _cell(row: pd.Series, with_null: bool) -> str:
    if pd.isna(row["value"]):
        return "-"
    text = f"{row['value']:.4g}"
    if with_null and not pd.isna(row["null_mean"]):
        z = "" if pd.isna(row["z"]) else f" z={row['z']:+.1f}"
        text += f" ({row['null_mean']:.4g}{z} p{row['percentile']:.0f})"
    return text


def _print(frame: pd.DataFrame, with_null: bool) -> None:
    if with_null:
        print("cells: value (null mean, z-score, percentile among null draws)")
    for (run, epoch), group in frame.groupby(["run", "epoch"], sort=False, dropna=False):
        print(f"\n{run}" + ("" if pd.isna(epoch) else f"  epoch {epoch}"))
        cells = group.assign(cell=[_cell(r, with_null) for _, r in group.iterrows()])
        table = cells.pivot(index="metric", columns="layer", values="cell")
        table = table.loc[list(dict.fromkeys(group["metric"])), list(dict.fromkeys(group["layer"]))]
        print(table.to_string())
