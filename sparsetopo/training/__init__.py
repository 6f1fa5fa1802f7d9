"""Training: one loop for dense, static and SET networks, its mask updaters and checkpoints.

:mod:`.loop`           the training loop (resume, snapshots, per-epoch records)
:mod:`.build`          the run's model: initial weights from its seed, sparse layers straight in CSR
:mod:`.set_rewiring`   SET's prune-and-regrow step (a mask updater with exact counts), dense and on index sets
:mod:`.checkpoint`     checkpoints that load with ``torch.load(weights_only=True)``
"""

from .loop import build_model, evaluate, initial_masks, load_run_dataset, train_run

__all__ = ["train_run", "build_model", "evaluate", "load_run_dataset", "initial_masks"]
