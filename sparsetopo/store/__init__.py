"""The run store: a run's identity is its configuration and its data; finished work is found, not redone.

:mod:`.config`      ``RunConfig`` (a frozen dataclass) and run ids (readable slug + hash)
:mod:`.validation`  checks of config values, with messages that say what to use instead
:mod:`.runs`        run folders: train-or-load, resume, sweeps -> tidy DataFrame
:mod:`.integrity`   what makes a run complete: a verified file list, finite numbers
:mod:`.locking`     one writer per run folder
:mod:`.inventory`   what a store holds (status, accuracy, engine revision, size); removal of outdated runs
"""

from .config import ENGINE_REVISION, RunConfig, run_id
from .inventory import StoredRun, StoreInventory, inventory, prune_outdated
from .runs import Run, is_complete, load_run, run_directory, runs_frame, runs_root, sweep, train

__all__ = ["RunConfig", "run_id", "ENGINE_REVISION", "Run", "train", "load_run", "is_complete", "run_directory",
           "runs_root", "runs_frame", "sweep", "inventory", "prune_outdated", "StoreInventory", "StoredRun"]
