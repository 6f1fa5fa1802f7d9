"""Batch progress within long epochs: silent in short ones, throttled in long ones."""

from sparsetopo.training import trainer
from sparsetopo.training.trainer import BatchProgress


class _Bar:
    def __init__(self):
        self.postfixes = []

    def set_postfix_str(self, text):
        self.postfixes.append(text)


def test_batch_progress_stays_silent_in_short_epochs_and_throttles_in_long_ones(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(trainer.time, "perf_counter", lambda: clock[0])
    bar = _Bar()
    progress = BatchProgress(bar, after=10.0, every=5.0)
    progress.start()
    for done in range(1, 5):  # 4 batches of 2 s: under 10 s, nothing shown
        clock[0] += 2.0
        progress(done, 100)
    progress.trained()
    assert bar.postfixes == []
    progress.start()
    for done in range(1, 13):  # 12 batches of 2 s: shown at 10 s, then at most every 5 s
        clock[0] += 2.0
        progress(done, 100)
    assert bar.postfixes == ["batch 5/100, 2.0 s/batch", "batch 8/100, 2.0 s/batch", "batch 11/100, 2.0 s/batch"]
    progress.trained()
    assert bar.postfixes[-1] == "epoch trained; evaluating, rewiring, saving"


def test_a_run_with_a_bar_reports_its_batches_through_the_trainer(tmp_path, monkeypatch):
    from sparsetopo import store
    from sparsetopo.store.config import RunConfig

    seen = []
    monkeypatch.setattr(BatchProgress, "__call__", lambda self, done, total: seen.append((done, total)))
    config = RunConfig(dataset="digits", hidden=(16,), method="set", epsilon=2, backend="sparse", epochs=2,
                       batch_size=500, seed=0, snapshot_epochs=())
    store.train(config, root=tmp_path, progress=True)
    total = seen[0][1]
    assert seen == [(k, total) for k in range(1, total + 1)] * 2  # every batch of both epochs, in order
