"""Command line: ``sparsetopo train ...`` and ``sparsetopo distance ...``.

Examples
--------
sparsetopo train --dataset fashion_mnist --method set --epsilon 20 --epochs 5
sparsetopo train --recipe set_reference --epochs 20
sparsetopo distance runs/a/topology/epoch_010.npz runs/b/topology/epoch_010.npz
sparsetopo distance --matrix A B C --out figures/matrix
sparsetopo metrics runs/a --null degree --out metrics.csv
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from typing import Sequence

from ..errors import one_line, run_reporting_errors
from ..store.config import RunConfig

__all__ = ["main", "build_parser", "config_from_args"]


def _field_parser(field: dataclasses.Field):
    """(type converter, nargs) for a RunConfig field, from its annotation."""
    hint = typing.get_type_hints(RunConfig)[field.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union else hint
    if typing.get_origin(base) is tuple:
        return int, "+"
    if base is bool:
        return None, None
    return base, None


def _add_train_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train one MLP (dense, static sparse or SET) through the run store",
        description="Train one run. A run whose config was trained before is returned at once; "
        "an interrupted one resumes from its last checkpoint. Flags given explicitly override --recipe.",
    )
    from ..training.recipes import RECIPES

    p.add_argument("--recipe", choices=sorted(RECIPES), default=None,
                   help="start from a named recipe (e.g. set_reference: the SET reference's Fashion-MNIST example)")
    # only flags given on the command line reach the config (argparse.SUPPRESS), so they override a recipe
    for field in dataclasses.fields(RunConfig):
        flag = "--" + field.name.replace("_", "-")
        kind, nargs = _field_parser(field)
        help_text = (field.metadata.get("help", "") + f" (default: {field.default})").replace("%", "%%")
        if kind is None:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text)
        elif field.name in ("epsilon", "density", "preprocessing", "topology_seed", "initial_topology", "zeta", "regrow_init"):
            p.add_argument(flag, type=_none_or(kind), default=argparse.SUPPRESS, help=help_text + "; 'none' to unset")
        else:
            p.add_argument(flag, type=kind, nargs=nargs, default=argparse.SUPPRESS, help=help_text)
    p.add_argument("--runs-root", default=None, help="folder of the run store (default: $SPARSETOPO_RUNS or ./runs)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="train on a worker of this Dask scheduler (tcp://host:8786; the run store must be on a "
                   "filesystem the workers share) or 'local' (default: $SPARSETOPO_SCHEDULER, else local)")
    p.set_defaults(func=_train_command)


def _none_or(kind):
    def convert(text: str):
        return None if text.lower() == "none" else kind(text)

    convert.__name__ = getattr(kind, "__name__", "value")
    return convert


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig of parsed ``train`` arguments: defaults, then ``--recipe``, then the flags given."""
    from ..training.recipes import recipe_values

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(RunConfig) if hasattr(args, f.name)}
    # --density (or --layer-edges) replaces the recipe's epsilon rather than clashing with it
    base = recipe_values(args.recipe, values) if args.recipe else {}
    if base and values.get("method", base.get("method")) != base.get("method"):
        # a different method drops the recipe fields it does not use, as RunConfig.replace does
        return RunConfig(**base).replace(**values)
    return RunConfig(**{**base, **values})


def _train_command(args: argparse.Namespace) -> int:
    from ..parallel import parallel_map, resolve_scheduler
    from ..store.runs import _train_quietly, is_complete, load_run, run_directory, runs_root, train

    address = resolve_scheduler(args.scheduler, source="--scheduler")  # a malformed address fails before anything starts
    config = config_from_args(args)
    cached = is_complete(run_directory(config, args.runs_root))
    if address is None:
        run = train(config, root=args.runs_root, progress=not args.no_progress)
    else:  # one task on a cluster worker, into the same run store
        root = str(runs_root(args.runs_root).resolve())
        parallel_map(_train_quietly, [(config, root)], scheduler=address, desc="train", progress=not args.no_progress)
        run = load_run(run_directory(config, root))
    s = run.summary
    print(f"final test accuracy: {s['final_test_acc']:.4f} (best {s['best_test_acc']:.4f}) after {s['epochs']} epochs")
    print(f"parameters: {s['n_parameters']}  edges per layer: {s['edges']}")
    print(f"run stored in: {run.directory}" + ("  (already complete: loaded, not retrained)" if cached else ""))
    return 0


def _add_datasets_parser(subparsers) -> None:
    p = subparsers.add_parser("datasets", help="list the dataset names that --dataset accepts")
    p.set_defaults(func=_datasets_command)


def _datasets_command(args: argparse.Namespace) -> int:
    from ..data import available_datasets, data_root

    print(f"data root: {data_root()}")
    for name in available_datasets():
        print(name)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit code 2)."""

    def error(self, message: str):  # type: ignore[override]
        print(f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


_one_line = one_line


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sparsetopo", description="Topological insights into sparse neural networks")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_train_parser(subparsers)
    _add_datasets_parser(subparsers)
    try:
        from .distance import add_distance_parser
    except ImportError:  # pragma: no cover - the module ships with the package
        pass
    else:
        add_distance_parser(subparsers)
    from .metrics import add_metrics_parser

    add_metrics_parser(subparsers)
    for sub in subparsers.choices.values():
        sub.add_argument("--verbosity", choices=_VERBOSITY, default=argparse.SUPPRESS,
                         help="how much to report; 'debug' adds tracebacks to error messages (default: info)")
    parser.add_argument("--verbosity", choices=_VERBOSITY, default="info",
                        help="how much to report; 'debug' adds tracebacks to error messages (default: info)")
    return parser


_VERBOSITY = ("debug", "info", "warning", "error")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input, 1 failure, 130 interrupted).

    Errors a user can fix (:data:`sparsetopo.errors.USER_ERRORS`: bad values,
    files, a full disk, a lost cluster) print one line ``sparsetopo <command>:
    error: ...`` on stderr; ``--verbosity debug`` prints their traceback too.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbosity != "info":
        from .. import set_verbosity

        set_verbosity(args.verbosity)
    return run_reporting_errors(f"sparsetopo {args.command}", lambda: args.func(args), debug=args.verbosity == "debug")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
