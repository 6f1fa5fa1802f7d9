"""Training: one loop for dense, static and SET networks, its mask updaters and checkpoints.

:mod:`.loop`           the training loop (resume, snapshots, per-epoch records)
:mod:`.set_rewiring`   SET's prune-and-regrow step (a mask updater with exact counts)
:mod:`.checkpoint`     checkpoints that load with ``torch.load(weights_only=True)``
"""

from .loop import build_model, evaluate, initial_masks, load_run_dataset, train_run

__all__ = ["train_run", "build_model", "evaluate", "load_run_dataset", "initial_masks"]
