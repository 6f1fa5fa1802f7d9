"""Training: what a run is, the trainer, the sparse-training methods (mask updaters) and checkpoints.

:mod:`.config`         ``RunConfig`` (flat, what run ids hash) and its view in frozen groups
:mod:`.validation`     checks of config values, with messages that say what to use instead
:mod:`.loop`           a training run: model, hooks, resume, snapshots, per-epoch records (``train_run``)
:mod:`.trainer`        epochs of minibatch SGD with per-step and per-epoch hooks
:mod:`.updaters`       the sparse-training methods behind one protocol: static, SET, RigL, SNIP, gradual pruning
:mod:`.build`          the run's model: initial weights from its seed, sparse layers straight in CSR
:mod:`.set_rewiring`   SET's prune-and-regrow step (exact counts), dense and on index sets
:mod:`.checkpoint`     checkpoints that load with ``torch.load(weights_only=True)``
"""

from .loop import build_model, evaluate, initial_masks, load_run_dataset, train_run

__all__ = ["train_run", "build_model", "evaluate", "load_run_dataset", "initial_masks"]
