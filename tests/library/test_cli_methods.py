"""`sparsetopo train --method rigl|snip|gmp` with the method's options as flags."""

from __future__ import annotations

import pytest

from sparsetopo.cli.main import build_parser, config_from_args, config_yaml, main
from sparsetopo.errors import InputError
from sparsetopo.store.config import RunConfig, run_id
from sparsetopo.training.updaters.gmp import GmpOptions
from sparsetopo.training.updaters.rigl import RiglOptions


def _config(*argv: str) -> RunConfig:
    return config_from_args(build_parser().parse_args(["train", *argv]))


def test_a_methods_options_are_flags_that_reach_its_config():
    rigl = _config("--method", "rigl", "--drop-fraction", "0.5", "--update-every", "20", "--update-output")
    assert rigl.options == RiglOptions(drop_fraction=0.5, update_every=20, update_output=True)
    gmp = _config("--method", "gmp", "--epochs", "6", "--prune-start-epoch", "1", "--prune-every", "10")
    assert gmp.options == GmpOptions(prune_start_epoch=1, prune_end_epoch=5, prune_every=10)
    assert _config("--method", "snip").options is not None and _config("--method", "snip").method_options is None


def test_an_option_of_another_method_is_a_one_line_error(capsys):
    with pytest.raises(InputError, match="--drop-fraction applies to --method rigl, not set"):
        _config("--method", "set", "--drop-fraction", "0.5")
    assert main(["train", "--method", "snip", "--prune-every", "3", "--print-config"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "sparsetopo train: error: --prune-every applies to --method gmp, not snip; drop it or choose that method"


def test_printed_config_of_a_method_with_options_reads_back_to_the_same_run(tmp_path):
    config = _config("--method", "rigl", "--update-end", "0.5", "--epochs", "3")
    file = tmp_path / "run.yaml"
    file.write_text(config_yaml(config))
    again = _config("--config", str(file))
    assert again == config and run_id(again) == run_id(config)
    assert _config("--config", str(file), "--drop-fraction", "0.1").options == RiglOptions(drop_fraction=0.1, update_end=0.5)
    # a file of another method's options gives way to a method changed on the command line
    assert _config("--config", str(file), "--method", "gmp").options == GmpOptions(prune_end_epoch=3)
