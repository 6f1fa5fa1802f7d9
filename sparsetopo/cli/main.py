"""Command line: ``sparsetopo train | runs | distance | datasets``.

Examples
--------
sparsetopo train --dataset digits
sparsetopo train --dataset fashion_mnist --method set --epsilon 20 --epochs 5
sparsetopo train --dataset fashion_mnist --method rigl --drop-fraction 0.3 --update-every 100
sparsetopo train --recipe set_reference --epochs 20
sparsetopo train --dataset mnist --print-config > run.yaml; sparsetopo train --config run.yaml
sparsetopo runs --prune-old
sparsetopo distance runs/a/topology/epoch_010.npz runs/b/topology/epoch_010.npz
sparsetopo distance --matrix A B C --out figures/matrix
sparsetopo metrics runs/a --null degree --out metrics.csv
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import os
import sys
import types
import typing
from pathlib import Path
from typing import Any, Sequence

from .. import __version__
from ..errors import InputError, one_line, run_reporting_errors

if typing.TYPE_CHECKING:  # the run configuration loads torch: imported where a command needs it
    from ..store.config import RunConfig

__all__ = ["main", "console_main", "build_parser", "config_from_args", "load_config_file", "config_yaml", "starting_values_used",
           "train_starting_values", "STARTING_LR", "SMALL_SPLIT", "SMALL_SPLIT_BATCH_SIZE"]

STARTING_LR = 0.05
"""The learning rate of ``sparsetopo train`` where no flag, ``--config`` file or ``--recipe`` sets one.

RunConfig's library default (0.01, with batch size 128) gives the small built-in datasets (digits, the
scikit-feature sets) a few dozen SGD steps in ten epochs, which leaves them near chance. The command says
when it uses a starting value; a configuration given explicitly keeps its run id.
"""
SMALL_SPLIT = 10_000
"""A training split with fewer samples than this gets :data:`SMALL_SPLIT_BATCH_SIZE` unless a batch size is given."""
SMALL_SPLIT_BATCH_SIZE = 32
"""The batch size of ``sparsetopo train`` on a small training split (larger ones keep RunConfig's 128)."""


def _run_config() -> type:
    """:class:`~sparsetopo.store.config.RunConfig`, imported on first use (it loads torch), so that commands that
    never train (``distance``, ``metrics``) start without it."""
    from ..store.config import RunConfig

    return RunConfig


def _engine_revision() -> int:
    from ..store.config import ENGINE_REVISION

    return ENGINE_REVISION


def _field_parser(field: dataclasses.Field, owner: type | None = None):
    """(type converter, nargs) for a field of ``owner`` (RunConfig when None, a method's options), from its
    annotation."""
    owner = owner or _run_config()
    hint = typing.get_type_hints(owner)[field.name]
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
    for field in dataclasses.fields(_run_config()):
        if field.name == "method_options":
            continue  # each method's options are flags of their own (below)
        flag = "--" + field.name.replace("_", "-")
        kind, nargs = _field_parser(field)
        default = {"lr": f"{STARTING_LR} here, RunConfig's {field.default}",
                   "batch_size": f"{SMALL_SPLIT_BATCH_SIZE} for a training split under {SMALL_SPLIT} samples, "
                                 f"else {field.default}"}.get(field.name, field.default)
        help_text = (field.metadata.get("help", "") + f" (default: {default})").replace("%", "%%")
        if kind is None:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text)
        elif field.name in ("epsilon", "density", "preprocessing", "topology_seed", "initial_topology", "zeta", "regrow_init"):
            p.add_argument(flag, type=_none_or(kind), default=argparse.SUPPRESS, help=help_text + "; 'none' to unset")
        else:
            p.add_argument(flag, type=kind, nargs=nargs, default=argparse.SUPPRESS, help=help_text)
    _add_method_option_flags(p)
    p.add_argument("--config", default=None, metavar="FILE",
                   help="a YAML (or JSON) file of config fields, e.g. one written by --print-config; flags given "
                   "next to it override it, and it overrides --recipe")
    p.add_argument("--print-config", action="store_true",
                   help="print the complete config as YAML (for --config) and exit without training")
    p.add_argument("--runs-root", default=None, help="folder of the run store (default: $SPARSETOPO_RUNS or ./runs)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="train on a worker of this Dask scheduler (tcp://host:8786; the run store must be on a "
                   "filesystem the workers share) or 'local' (default: $SPARSETOPO_SCHEDULER, else local)")
    p.set_defaults(func=_train_command)


_OPTION_DEST = "method_option_"  # argparse destination prefix of a method's option flags


def _method_option_owners() -> dict[str, list[str]]:
    """Option name -> the methods that have it, for the methods whose options travel in ``method_options``."""
    from ..training.updaters import UPDATERS, option_fields

    owners: dict[str, list[str]] = {}
    for method in UPDATERS:
        if method == "set":
            continue  # SET's options are RunConfig fields with flags of their own
        for name in option_fields(method):
            owners.setdefault(name, []).append(method)
    return owners


def _add_method_option_flags(p: argparse.ArgumentParser) -> None:
    """One flag per option of every method beyond SET (e.g. ``--drop-fraction`` for rigl), named after it."""
    from ..training.updaters import UPDATERS

    for name, methods in _method_option_owners().items():
        options = UPDATERS[methods[0]].OPTIONS
        field = next(f for f in dataclasses.fields(options) if f.name == name)
        kind, _ = _field_parser(field, options)
        default = field.default if field.default is not dataclasses.MISSING else None
        help_text = (field.metadata.get("help", name) + f" (only --method {' or '.join(methods)}; default: {default})")
        flag, dest = "--" + name.replace("_", "-"), _OPTION_DEST + name
        if kind is None:
            p.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                           help=help_text.replace("%", "%%"))
        else:
            hint = typing.get_type_hints(options)[name]
            optional = type(None) in typing.get_args(hint)
            p.add_argument(flag, dest=dest, metavar=name.upper(), type=_none_or(kind) if optional else kind,
                           default=argparse.SUPPRESS,
                           help=help_text.replace("%", "%%") + ("; 'none' to unset" if optional else ""))


def _method_option_flags(args: argparse.Namespace, method: str) -> dict[str, Any]:
    """The method options given as flags; one that ``method`` does not have raises :class:`InputError` naming it."""
    given = {k[len(_OPTION_DEST):]: v for k, v in vars(args).items() if k.startswith(_OPTION_DEST)}
    owners = _method_option_owners()
    for name in given:
        if method not in owners[name]:
            raise InputError(f"--{name.replace('_', '-')} applies to --method {' or '.join(owners[name])}, "
                             f"not {method}; drop it or choose that method")
    return given


def _none_or(kind):
    def convert(text: str):
        return None if text.lower() == "none" else kind(text)

    convert.__name__ = getattr(kind, "__name__", "value")
    return convert


def load_config_file(path: str | Path) -> dict[str, Any]:
    """The RunConfig fields in a YAML or JSON file: a mapping of field names (``_`` or ``-``) to values.

    Raises
    ------
    InputError
        The file cannot be read or parsed, is not a mapping, or names a field
        RunConfig does not have (the message names the file and the fields).
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"--config {path}: {err.strerror or err}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputError(f"--config {path} is not valid YAML or JSON ({_one_line(err)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"--config {path} must hold a mapping of config fields (field: value per line), "
                         f"got a {type(data).__name__}")
    values = {str(key).replace("-", "_"): value for key, value in data.items()}
    names = [f.name for f in dataclasses.fields(_run_config())]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise InputError(f"--config {path}: unknown config fields {unknown}; the fields are {names}")
    for key in ("hidden", "layer_edges", "snapshot_epochs"):
        if isinstance(values.get(key), list):
            values[key] = tuple(values[key])
    return values


def _config_layers(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(base, flags)``: the recipe overlaid by the --config file, and the flags given."""
    from ..training.recipes import recipe_values

    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(_run_config()) if hasattr(args, f.name)}
    # --density (or --layer-edges) replaces the recipe's epsilon rather than clashing with it
    base = recipe_values(args.recipe, flags) if getattr(args, "recipe", None) else {}
    if getattr(args, "config", None):
        base.update(load_config_file(args.config))
    return base, flags


def train_starting_values(dataset: str, train_samples: int | None = None) -> dict[str, Any]:
    """The values ``sparsetopo train`` starts from for ``dataset``, where nothing else sets them.

    ``lr`` is :data:`STARTING_LR`; ``batch_size`` is :data:`SMALL_SPLIT_BATCH_SIZE` when the training
    split (or ``train_samples`` of it) has fewer than :data:`SMALL_SPLIT` samples, so that ten epochs are
    enough SGD steps; a larger split keeps RunConfig's batch size (and its speed per epoch). A dataset
    whose size cannot be read here gets only the learning rate (training then reports the problem).
    """
    from ..data import dataset_info

    values: dict[str, Any] = {"lr": STARTING_LR}
    try:
        n_train = dataset_info(dataset).n_train
    except (ValueError, KeyError, TypeError, OSError):
        return values
    if train_samples is not None:
        n_train = min(n_train, int(train_samples))
    if n_train < SMALL_SPLIT:
        values["batch_size"] = SMALL_SPLIT_BATCH_SIZE
    return values


def starting_values_used(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`train_starting_values` that parsed ``train`` arguments leave in effect (nothing else sets them)."""
    base, flags = _config_layers(args)
    given = {**base, **flags}
    defaults = {f.name: f.default for f in dataclasses.fields(_run_config())}
    start = train_starting_values(given.get("dataset", defaults["dataset"]), given.get("train_samples"))
    return {k: v for k, v in start.items() if k not in given}


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig of parsed ``train`` arguments.

    Later layers override earlier ones: RunConfig's defaults, the command's starting values
    (:func:`train_starting_values`), ``--recipe``, the ``--config`` file, the flags given.
    """
    RunConfig = _run_config()
    base, flags = _config_layers(args)
    start = starting_values_used(args)
    method = flags.get("method", base.get("method", RunConfig.__dataclass_fields__["method"].default))
    options = _method_option_flags(args, method)
    if options:
        inherited = base.get("method_options") if base.get("method", method) == method else None
        flags["method_options"] = {**dict(inherited or {}), **options}
    if "method" in base and flags.get("method", base["method"]) != base["method"]:
        # a different method drops the recipe / file fields it does not use, as RunConfig.replace does
        return RunConfig(**{**start, **base}).replace(**flags)
    return RunConfig(**{**start, **base, **flags})


def config_yaml(config: RunConfig, note: str = "") -> str:
    """``config`` as YAML, every field, in declaration order: a file ``--config`` reads back to the same run id."""
    import yaml

    values = {k: list(v) if isinstance(v, tuple) else v for k, v in config.to_dict().items()}
    header = f"# sparsetopo {__version__} (engine revision {_engine_revision()}): sparsetopo train --config FILE\n"
    if note:
        header += f"# {note}\n"
    return header + yaml.safe_dump(values, sort_keys=False, allow_unicode=True, default_flow_style=None)


def _starting_note(start: dict[str, Any]) -> str:
    given = ", ".join(f"{k}={v}" for k, v in start.items())
    flags = " / ".join("--" + k.replace("_", "-") for k in start)
    why = "RunConfig's lr 0.01 learns slowly"
    if "batch_size" in start:
        why += f"; batch size {start['batch_size']} for a training split under {SMALL_SPLIT:,} samples"
    return f"{given}: the command line's starting values ({why}); {flags} to choose"


def _train_command(args: argparse.Namespace) -> int:
    from ..parallel import resolve_scheduler, use_scheduler
    from ..store.runs import is_complete, load_run, run_directory, runs_root, sweep, train

    address = resolve_scheduler(args.scheduler, source="--scheduler")  # a malformed address fails before anything starts
    config = config_from_args(args)
    start = starting_values_used(args)
    if args.print_config:
        print(config_yaml(config, _starting_note(start) if start else ""), end="")
        return 0
    if start:
        print(_starting_note(start))
    cached = is_complete(run_directory(config, args.runs_root))
    if address is None:
        run = train(config, root=args.runs_root, progress=not args.no_progress)
    else:  # one task on a cluster worker, into the same run store
        root = str(runs_root(args.runs_root).resolve())
        with use_scheduler(address):
            sweep([config], root=root, progress=not args.no_progress)
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


class _VersionAction(argparse.Action):
    """``--version``: the package and engine revision, read when asked (the revision's module loads torch)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"sparsetopo {__version__} (engine revision {_engine_revision()})")
        parser.exit()


#: Commands that never train: ``main`` builds only their parser, so they start without torch.
LIGHT_COMMANDS = ("distance", "metrics")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``sparsetopo`` argument parser with its subcommands (``train``, ``runs``, ``datasets``, ``distance``,
    ``metrics``); ``only`` (one of :data:`LIGHT_COMMANDS`) builds that subcommand alone."""
    if only is not None and only not in LIGHT_COMMANDS:
        raise ValueError(f"only must be one of {LIGHT_COMMANDS} or None, got {only!r}")
    parser = _Parser(prog="sparsetopo", description="Topological insights into sparse neural networks")
    parser.add_argument("--version", action=_VersionAction, help="show the version and the engine revision, then exit")
    subparsers = parser.add_subparsers(dest="command", required=True)
    if only is None:
        _add_train_parser(subparsers)
        from .runs import add_runs_parser

        add_runs_parser(subparsers)
        _add_datasets_parser(subparsers)
    if only in (None, "distance"):
        from .distance import add_distance_parser

        add_distance_parser(subparsers)
    if only in (None, "metrics"):
        from .metrics import add_metrics_parser

        add_metrics_parser(subparsers)
    for sub in subparsers.choices.values():
        sub.add_argument("--verbosity", choices=_VERBOSITY, default=argparse.SUPPRESS,
                         help="how much to report; 'debug' adds tracebacks to error messages (default: info)")
    parser.add_argument("--verbosity", choices=_VERBOSITY, default="info",
                        help="how much to report; 'debug' adds tracebacks to error messages (default: info)")
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is not an option or the value of ``--verbosity``)."""
    words = list(argv)
    i = 0
    while i < len(words):
        w = words[i]
        if w == "--verbosity":
            i += 2
            continue
        if not w.startswith("-"):
            return w
        i += 1
    return None


_VERBOSITY = ("debug", "info", "warning", "error")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input, 1 failure, 130 interrupted).

    Errors a user can fix (:data:`sparsetopo.errors.USER_ERRORS`: bad values,
    files, a full disk, a lost cluster) print one line ``sparsetopo <command>:
    error: ...`` on stderr; ``--verbosity debug`` prints their traceback too.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_of(argv)
    parser = build_parser(command if command in LIGHT_COMMANDS else None)
    args = parser.parse_args(argv)
    if args.verbosity != "info":
        from .. import set_verbosity

        set_verbosity(args.verbosity)
    return run_reporting_errors(f"sparsetopo {args.command}", lambda: args.func(args), debug=args.verbosity == "debug")


def console_main() -> None:
    """The ``sparsetopo`` script and ``python -m sparsetopo``: :func:`main`, then the process exits with its code.

    The standard streams are flushed and the ``atexit`` handlers run (logging, Dask clients, temporary folders),
    then the process ends without the interpreter tearing down every loaded module and object one by one: that
    teardown took about 0.3 s after a distance matrix (scipy, matplotlib), a tenth of the whole command. Code
    that calls :func:`main` itself gets the exit code back as before.
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: let the interpreter report it as usual
        sys.exit(code)
    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    console_main()
