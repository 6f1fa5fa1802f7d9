"""The numba CSR product of wide sparse layers gives torch's bits, so choosing it changes only the time."""

import itertools

import numpy as np
import pytest
import torch

from sparsetopo import sparse_linear
from sparsetopo._csr_kernels import csr_matmul, row_ranges
from sparsetopo.sparse_linear import SparseLinear, sparse_relu_stack

# The kernel reproduces MKL's CSR product (one multiply and one add per stored entry, in column order, the bias
# last). That is what MKL does on this project's x86 machines (AVX2 / AVX-512); elsewhere torch may round
# differently, and the engine would keep torch's products only if a test said so.
pytestmark = [pytest.mark.skipif(torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"),
                                 reason="torch's CSR products were compared on x86 with AVX2 / AVX-512 only"),
              pytest.mark.filterwarnings("ignore:Sparse")]


def _csr(n_out, n_in, density, gen):
    mask = torch.rand(n_out, n_in, generator=gen) < density
    weight = torch.randn(n_out, n_in, generator=gen) * mask
    crow = torch.zeros(n_out + 1, dtype=torch.int64)
    crow[1:] = mask.sum(1).cumsum(0)
    col = mask.nonzero()[:, 1].contiguous()
    return crow, col, weight[mask].contiguous()


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_the_kernel_gives_the_bits_of_torch_sparse_mm_and_addmm(threads):
    gen = torch.Generator().manual_seed(0)
    cases = itertools.product([1, 7, 130], [5, 300], [0.0, 0.02, 0.3, 1.0], [1, 3, 17, 40, 128])
    for n_out, n_in, density, batch in cases:
        crow, col, values = _csr(n_out, n_in, density, gen)
        x = torch.randn(n_in, batch, generator=gen)
        x[0] = 0.0  # exact zeros and signed zeros pass through the same adds
        bias = torch.randn(n_out, generator=gen)
        w = torch.sparse_csr_tensor(crow, col, values, (n_out, n_in))
        for index_dtype in (np.int32, np.int64):
            ptr, idx = crow.numpy().astype(index_dtype), col.numpy().astype(index_dtype)
            out = np.full((n_out, batch), np.nan, np.float32)
            plain = csr_matmul(ptr, idx, values.numpy(), x.numpy(), out.copy(), threads=threads)
            with_bias = csr_matmul(ptr, idx, values.numpy(), x.numpy(), out, bias.numpy(), threads=threads)
            assert plain.tobytes() == torch.sparse.mm(w, x).numpy().tobytes(), (n_out, n_in, density, batch)
            assert with_bias.tobytes() == torch.addmm(bias.unsqueeze(1), w, x).numpy().tobytes(), (n_out, n_in, density, batch)


def test_row_ranges_cover_every_row_once_with_balanced_entries():
    indptr = np.array([0, 0, 5, 5, 6, 20, 20, 21], np.int64)
    for parts in (1, 2, 3, 7, 20):
        ranges = row_ranges(indptr, parts)
        assert ranges[0][0] == 0 and ranges[-1][1] == 7
        assert all(a < b for a, b in ranges) and all(r[1] == s[0] for r, s in zip(ranges, ranges[1:]))
        assert len(ranges) <= parts
    assert row_ranges(indptr, 2) == [(0, 5), (5, 7)]  # each cut at the first row boundary at or after its share (10.5 entries)
    assert row_ranges(np.arange(0, 1001, 10), 4) == [(0, 25), (25, 50), (50, 75), (75, 100)]


def _stack(widths, density, seed):
    gen = torch.Generator().manual_seed(seed)
    layers = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        mask = torch.rand(n_out, n_in, generator=gen) < density
        layers.append(SparseLinear(torch.randn(n_out, n_in, generator=gen), mask, torch.randn(n_out, generator=gen)))
    return layers


def _forward_backward(layers, x, grad):
    x = x.clone().requires_grad_(True)
    for layer in layers:
        layer.zero_grad(set_to_none=True)
    out = sparse_relu_stack(x, layers)
    out.backward(grad)
    return [out.detach(), x.grad] + [p.grad for layer in layers for p in (layer.values, layer.bias)]


@pytest.mark.parametrize("threads", [1, 2])
def test_a_sparse_stack_gives_the_same_bits_on_the_kernel_and_on_torch(monkeypatch, threads):
    layers = _stack([60, 90, 90, 40], 0.2, seed=3)
    gen = torch.Generator().manual_seed(4)
    x, grad = torch.randn(33, 60, generator=gen), torch.randn(33, 40, generator=gen)
    monkeypatch.setattr(sparse_linear, "PARALLEL_MIN_WORK", 0)  # the caller's thread count for every product
    monkeypatch.setattr(sparse_linear, "KERNEL_MIN_WORK", 1 << 60)
    prev = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        on_torch = _forward_backward(layers, x, grad)
        monkeypatch.setattr(sparse_linear, "KERNEL_MIN_WORK", 0)
        used = []
        real = sparse_linear._kernel_product
        monkeypatch.setattr(sparse_linear, "_kernel_product", lambda *a, **kw: used.append(kw.get("gate") is not None) or real(*a, **kw))
        on_kernel = _forward_backward(layers, x, grad)
    finally:
        torch.set_num_threads(prev)
    # three forward products, three input gradients (the input's too: it requires grad), two of them through the
    # ReLU's gradient in the same pass (not the input's: no ReLU before the stack)
    assert used == [False] * 3 + [True, True, False]
    for a, b in zip(on_torch, on_kernel):
        assert a.numpy().tobytes() == b.numpy().tobytes()


def test_kernel_is_taken_from_kernel_min_work_on_cpu_float32_only(monkeypatch):
    monkeypatch.setattr(sparse_linear, "KERNEL_MIN_WORK", 1000)
    x = torch.zeros(10, 100)
    assert sparse_linear._use_kernel(10, x) and not sparse_linear._use_kernel(9, x)
    assert not sparse_linear._use_kernel(10, x.double())


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_a_set_run_on_the_kernel_has_the_numbers_of_the_run_on_torch(tmp_path, monkeypatch, threads, dropout):
    """Through the engine (SET rewiring, momentum, evaluation; without dropout the hidden layers run as one stack,
    whose input gradients go through the ReLU's gradient inside the kernel): every record and weight of a run whose
    CPU products all take the kernel equals the run on torch's products."""
    from sparsetopo import store
    from sparsetopo.store.config import RunConfig

    config = RunConfig(dataset="digits", hidden=(48, 48), method="set", epsilon=3, backend="sparse", epochs=2,
                       batch_size=32, lr=0.05, seed=5, snapshot_epochs=(), dropout=dropout)
    runs = []
    prev = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        for kernel_min_work in (1 << 62, 0):
            monkeypatch.setattr(sparse_linear, "KERNEL_MIN_WORK", kernel_min_work)
            run = store.train(config, root=tmp_path / str(kernel_min_work), progress=False)
            runs.append((run.records, run.state_dict()))
    finally:
        torch.set_num_threads(prev)
    (records_a, state_a), (records_b, state_b) = runs
    assert [r["train_loss"] for r in records_a] == [r["train_loss"] for r in records_b]
    assert [r["test_acc"] for r in records_a] == [r["test_acc"] for r in records_b]
    assert state_a.keys() == state_b.keys() and all(torch.equal(state_a[k], state_b[k]) for k in state_a)
