"""`sparsetopo train`: starting values that learn, --config / --print-config, --version."""

from __future__ import annotations

import re

import pytest

from sparsetopo import __version__
from sparsetopo.cli.main import (
    SMALL_SPLIT_BATCH_SIZE,
    STARTING_LR,
    build_parser,
    config_from_args,
    main,
    train_starting_values,
)
from sparsetopo.store import ENGINE_REVISION, RunConfig, run_id
from sparsetopo.training.recipes import RECIPES


def _config(*argv: str) -> RunConfig:
    return config_from_args(build_parser().parse_args(["train", *argv]))


def test_version_flag_prints_the_package_version_and_engine_revision(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"sparsetopo {__version__} (engine revision {ENGINE_REVISION})"


def test_starting_values_apply_only_where_no_flag_file_or_recipe_sets_them(tmp_path):
    assert (_config().lr, _config().batch_size) == (STARTING_LR, SMALL_SPLIT_BATCH_SIZE)
    assert (_config("--lr", "0.01").lr, _config("--lr", "0.01").batch_size) == (0.01, SMALL_SPLIT_BATCH_SIZE)
    recipe = _config("--recipe", "set_reference")
    assert (recipe.lr, recipe.batch_size) == (RECIPES["set_reference"]["lr"], RECIPES["set_reference"]["batch_size"])
    file = tmp_path / "run.yaml"
    file.write_text("lr: 0.2\nhidden: [32, 16]\n")
    from_file = _config("--config", str(file))
    assert (from_file.lr, from_file.batch_size, from_file.hidden) == (0.2, SMALL_SPLIT_BATCH_SIZE, (32, 16))
    assert _config("--config", str(file), "--lr", "0.3").lr == 0.3  # a flag overrides the file


def test_only_a_small_training_split_gets_the_small_batch(monkeypatch):
    import sparsetopo.data as data

    assert train_starting_values("digits") == {"lr": STARTING_LR, "batch_size": SMALL_SPLIT_BATCH_SIZE}
    real_info = data.dataset_info

    def large(name, **kwargs):  # MNIST's split size, without needing its files here
        info = real_info("digits")
        return type(info)(**{**info.__dict__, "n_train": 60_000}) if name == "big" else real_info(name, **kwargs)

    monkeypatch.setattr(data, "dataset_info", large)
    assert train_starting_values("big") == {"lr": STARTING_LR}
    assert train_starting_values("big", train_samples=3000)["batch_size"] == SMALL_SPLIT_BATCH_SIZE
    assert train_starting_values("no_such_dataset") == {"lr": STARTING_LR}  # training reports the unknown name


def test_an_explicit_configuration_keeps_its_run_id():
    explicit = _config("--dataset", "digits", "--lr", "0.01", "--batch-size", "128")
    assert explicit == RunConfig()
    assert run_id(explicit) == "digits-set-eps20-h64x64-s0-58879135"  # the id pinned in test_engine


def test_print_config_writes_a_file_that_config_reads_back_to_the_same_run(tmp_path, capsys):
    argv = ["--dataset", "digits", "--method", "static", "--density", "0.2", "--hidden", "32", "16", "--epochs", "3"]
    assert main(["train", *argv, "--print-config"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"# sparsetopo {__version__} (engine revision {ENGINE_REVISION})")
    assert "the command line's starting values" in text and not list(tmp_path.iterdir())  # nothing trained
    file = tmp_path / "run.yaml"
    file.write_text(text)
    assert _config("--config", str(file)) == _config(*argv)
    assert run_id(_config("--config", str(file))) == run_id(_config(*argv))


def test_a_different_method_on_top_of_a_config_file_drops_the_fields_it_does_not_use(tmp_path):
    file = tmp_path / "run.yaml"
    file.write_text("method: set\nepsilon: 5\nzeta: 0.2\n")
    static = _config("--config", str(file), "--method", "static")
    assert (static.method, static.epsilon, static.zeta) == ("static", 5.0, 0.0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("lr: 0.1\nlearning_rate: 0.2\n", r"unknown config fields \['learning_rate'\]"),
        ("- lr\n- 0.1\n", "must hold a mapping of config fields"),
        ("lr: [0.1\n", "is not valid YAML or JSON"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_the_file(tmp_path, capsys, content, message):
    file = tmp_path / "run.yaml"
    file.write_text(content)
    assert main(["train", "--config", str(file), "--runs-root", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(file) in err and re.search(message, err), err
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err


def test_train_with_the_defaults_learns_digits_and_says_which_values_it_chose(tmp_path, capsys):
    assert main(["train", "--dataset", "digits", "--runs-root", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "lr=0.05, batch_size=32: the command line's starting values" in out and "under 10,000 samples" in out
    accuracy = float(re.search(r"final test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy > 0.9, out


def test_commands_that_never_train_get_their_parser_alone():
    from sparsetopo.cli.main import LIGHT_COMMANDS, _command_of

    assert _command_of(["--verbosity", "debug", "distance", "a", "b"]) == "distance"
    assert _command_of(["train", "--dataset", "digits"]) == "train" and _command_of(["--version"]) is None
    for command in LIGHT_COMMANDS:
        (sub,) = [a for a in build_parser(command)._actions if a.dest == "command"]
        assert list(sub.choices) == [command]
    (sub,) = [a for a in build_parser()._actions if a.dest == "command"]
    assert {"train", "runs", "datasets", *LIGHT_COMMANDS} <= set(sub.choices)
    with pytest.raises(ValueError, match="only must be one of"):
        build_parser("train")


def test_a_light_command_with_bad_input_still_fails_in_one_line(capsys):
    assert main(["distance", "--matrix", "x"]) == 2  # --matrix without --out: the command's own check
    err = capsys.readouterr().err.strip()
    assert err.startswith("sparsetopo distance: error:") and "\n" not in err
