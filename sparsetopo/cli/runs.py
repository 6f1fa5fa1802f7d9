"""``sparsetopo runs``: list the run store, and remove the runs of earlier engine revisions.

Examples
--------
sparsetopo runs                          # every run: status, accuracy, engine revision, size, config
sparsetopo runs --prune-old              # which runs of earlier engine revisions would be removed (nothing is)
sparsetopo runs --prune-old --delete     # remove them
"""

from __future__ import annotations

import argparse
import sys

from ..store.config import ENGINE_REVISION
from ..store.inventory import StoredRun, format_size, inventory, prune_outdated

__all__ = ["add_runs_parser"]


def add_runs_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``runs`` subcommand on an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "runs",
        help="list the run store (status, accuracy, engine revision, size); --prune-old removes outdated runs",
        description="List every run folder of the store. Runs of an earlier engine revision are never reused "
        f"(run ids hash the engine revision, now {ENGINE_REVISION}); --prune-old lists them for removal and "
        "--prune-old --delete removes them. Folders that are not runs of this store are never touched.",
    )
    p.add_argument("--runs-root", default=None, help="folder of the run store (default: $SPARSETOPO_RUNS or ./runs)")
    p.add_argument("--verify", action="store_true",
                   help="check every file of complete runs against its result.json (reads them all)")
    p.add_argument("--prune-old", action="store_true",
                   help="list the runs of earlier engine revisions that --delete would remove (a dry run)")
    p.add_argument("--delete", action="store_true", help="with --prune-old: really remove them")
    p.set_defaults(func=_runs_command)


def _row(run: StoredRun) -> list[str]:
    revision = "?" if run.engine_revision is None else str(run.engine_revision)
    if run.outdated:
        revision += " (old)"
    acc = "-" if run.final_test_acc is None else f"{run.final_test_acc:.4f}"
    return [run.directory.name, run.status, acc, str(run.config.epochs), revision, format_size(run.size_bytes),
            run.config_changes()]


def _table(runs: list[StoredRun]) -> str:
    header = ["run id", "status", "test acc", "epochs", "revision", "size", "config (non-default fields)"]
    rows = [header] + [_row(r) for r in runs]
    widths = [max(len(row[k]) for row in rows) for k in range(len(header) - 1)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1] for row in rows).rstrip()


def _runs_command(args: argparse.Namespace) -> int:
    if args.delete and not args.prune_old:
        print("sparsetopo runs: error: --delete only acts with --prune-old (sparsetopo runs --prune-old --delete)",
              file=sys.stderr)
        return 2
    if args.prune_old:
        return _prune(args)
    inv = inventory(args.runs_root, verify=args.verify)
    print(f"run store: {inv.root} ({len(inv.runs)} runs, {format_size(inv.size_bytes)}; "
          f"current engine revision {ENGINE_REVISION})")
    if inv.runs:
        print(_table(list(inv.runs)))
    outdated = inv.outdated
    if outdated:
        size = format_size(sum(r.size_bytes for r in outdated))
        print(f"{len(outdated)} runs of earlier engine revisions ({size}) are never reused: "
              "sparsetopo runs --prune-old lists them, --prune-old --delete removes them")
    unknown = [r for r in inv.runs if r.engine_revision is None]
    if unknown:
        print(f"{len(unknown)} runs of unknown revision (their data or initial topology changed or is missing) are kept")
    if inv.other:
        names = ", ".join(p.name for p in inv.other[:5]) + (", ..." if len(inv.other) > 5 else "")
        print(f"{len(inv.other)} other entries are not run folders and are left alone: {names}")
    return 0


def _prune(args: argparse.Namespace) -> int:
    candidates = prune_outdated(args.runs_root, delete=False)
    if not candidates:
        print(f"no runs of earlier engine revisions in {inventory(args.runs_root).root} (current revision {ENGINE_REVISION})")
        return 0
    size = format_size(sum(r.size_bytes for r in candidates))
    if not args.delete:
        print(_table(candidates))
        print(f"would remove {len(candidates)} runs of earlier engine revisions ({size}); "
              "nothing was removed: add --delete to remove them")
        return 0
    removed = prune_outdated(args.runs_root, delete=True)
    for run in removed:
        print(f"removed {run.directory} (engine revision {run.engine_revision}, {format_size(run.size_bytes)})")
    kept = len(candidates) - len(removed)
    print(f"removed {len(removed)} runs ({format_size(sum(r.size_bytes for r in removed))})"
          + (f"; {kept} in use by another process were kept" if kept else ""))
    return 0
