"""The library installed alone (``pip install .``, no extras), used as a researcher would: ``make library-check``.

Run by the interpreter of a fresh virtualenv holding only torch and the package. It checks that no extra
crept in, then compares two pruned models with NNSTD, draws the random baseline, trains a SET run on the
embedded digits and calls the command line, all from an empty working directory that must stay empty
(caches go to the user cache directory, runs to the store named here). Exit code 1 on any failure.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

EXTRAS_ONLY = ("torchvision", "seaborn", "papermill", "jupyterlab", "dask", "distributed", "pytest", "pdoc")


def main() -> None:
    present = [name for name in EXTRAS_ONLY if importlib.util.find_spec(name) is not None]
    assert not present, f"packages of the extras are installed: {present}"

    scratch = Path(tempfile.mkdtemp(prefix="sparsetopo-library-"))
    work = scratch / "work"
    work.mkdir()
    os.chdir(work)
    os.environ.pop("SPARSETOPO_CACHE", None)
    os.environ["XDG_CACHE_HOME"] = str(scratch / "user-cache")  # platformdirs' user cache on Linux

    import torch
    from torch import nn
    from torch.nn.utils import prune

    import sparsetopo
    from sparsetopo import store
    from sparsetopo.nnstd import nnstd, random_baseline
    from sparsetopo.topology.modules import topology_from_module

    assert sparsetopo.__version__ == importlib.metadata.version("sparsetopo"), "two versions"
    assert (Path(sparsetopo.__file__).parent / "py.typed").is_file(), "py.typed is not installed"

    def pruned_cnn(amount: float, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 8, 3), nn.ReLU(), nn.Flatten(),
                              nn.Linear(8 * 4 * 4, 10))
        for layer in (model[0], model[2], model[5]):
            prune.l1_unstructured(layer, "weight", amount=amount)
        model(torch.zeros(1, 1, 8, 8))  # it runs
        return model

    a, b = topology_from_module(pruned_cnn(0.5, 0)), topology_from_module(pruned_cnn(0.8, 1))
    assert len(repr(a)) < 400, repr(a)
    d = nnstd(a, b)
    assert len(d.layer_distances) == 3 and 0 < d.mean < 1, d
    assert nnstd(a, a).mean == 0
    baseline = random_baseline(a, other=b, n_pairs=2, progress=False)
    cached = list((scratch / "user-cache" / "sparsetopo" / "nnstd").iterdir())
    assert len(cached) == 2, cached
    print(f"NNSTD of two pruned CNNs: {d}; random baseline {baseline.mean:.4f}")

    config = store.RunConfig(dataset="digits", method="set", epsilon=20, epochs=5, lr=0.05, batch_size=32)
    run = store.train(config, root=scratch / "runs", progress=False)
    assert run.final_test_acc > 0.85, run
    print(f"SET on digits: {run}")

    cli = Path(sys.executable).with_name("sparsetopo")
    version = subprocess.run([str(cli), "--version"], check=True, capture_output=True, text=True).stdout
    assert version.startswith(f"sparsetopo {sparsetopo.__version__}"), version
    out = subprocess.run([str(cli), "train", "--dataset", "digits", "--epochs", "2", "--runs-root",
                          str(scratch / "runs"), "--no-progress"], check=True, capture_output=True, text=True).stdout
    assert "run stored in" in out, out
    listing = subprocess.run([str(cli), "runs", "--runs-root", str(scratch / "runs")], check=True,
                             capture_output=True, text=True).stdout
    assert "2 runs" in listing, listing

    left = sorted(p.name for p in work.iterdir())
    assert not left, f"the library wrote into the working directory: {left}"
    os.chdir(scratch.parent)
    shutil.rmtree(scratch)
    print(f"library-only install: sparsetopo {sparsetopo.__version__}, torch {torch.__version__}: all checks passed")


if __name__ == "__main__":
    main()
