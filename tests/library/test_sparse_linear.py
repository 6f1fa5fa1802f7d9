import copy

import numpy as np
import pytest
import torch

from sparsetopo.model import MaskedLinear, SparseMLP, enforce_masks, to_sparse_backend
from sparsetopo.sparse_linear import SparseLinear, csr_from_mask
from sparsetopo.topology.masks import random_mask, random_topology


def _layer_pair(n_out=30, n_in=40, density=0.1, seed=0):
    gen = torch.Generator().manual_seed(seed)
    mask = torch.rand(n_out, n_in, generator=gen) < density
    masked = MaskedLinear(n_in, n_out, mask=mask.numpy())
    sparse = SparseLinear(masked.weight.detach(), masked.mask, masked.bias.detach())
    return masked, sparse, mask


def test_sparse_layer_stores_only_present_weights_in_row_major_order():
    masked, sparse, mask = _layer_pair()
    assert sparse.values.numel() == int(mask.sum())
    assert torch.equal(sparse.values.detach(), masked.weight.detach()[mask])
    assert torch.equal(sparse.mask, mask)
    assert torch.equal(sparse.weight_dense, masked.weight.detach())
    crow, col = csr_from_mask(mask)
    assert torch.equal(sparse.crow_indices, crow) and torch.equal(sparse.col_indices, col)


def test_sparse_layer_forward_and_gradients_match_the_masked_layer():
    masked, sparse, mask = _layer_pair()
    x = torch.randn(16, 40, generator=torch.Generator().manual_seed(1), requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    y_m, y_s = masked(x), sparse(x2)
    assert torch.allclose(y_m, y_s, atol=1e-6)
    g = torch.randn_like(y_m)
    y_m.backward(g)
    y_s.backward(g)
    assert torch.allclose(x.grad, x2.grad, atol=1e-6)
    assert torch.allclose(masked.weight.grad[mask], sparse.values.grad, atol=1e-6)
    assert torch.allclose(masked.bias.grad, sparse.bias.grad, atol=1e-6)
    # the masked layer's gradient leaks to absent weights (hence enforce_masks); the sparse one has no such entries
    assert (masked.weight.grad[~mask] != 0).any()


def test_sparse_layer_state_dict_round_trip_restores_structure_and_transpose():
    rng = np.random.default_rng(0)
    a = SparseLinear(torch.randn(30, 40), torch.from_numpy(random_mask(30, 40, 100, rng)), torch.randn(30))
    b = SparseLinear(torch.randn(30, 40), torch.from_numpy(random_mask(30, 40, 100, rng)), torch.randn(30))
    assert not torch.equal(a.mask, b.mask)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.mask, b.mask)
    x = torch.randn(5, 40)
    assert torch.equal(a(x), b(x))
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    a(x1).sum().backward()
    b(x2).sum().backward()
    assert torch.equal(x1.grad, x2.grad)


def test_set_structure_keeps_edge_count_and_moves_optimizer_state_in_place():
    masked, sparse, mask = _layer_pair()
    opt = torch.optim.SGD(sparse.parameters(), lr=0.1, momentum=0.9)
    sparse(torch.randn(4, 40)).sum().backward()
    opt.step()
    buf = opt.state[sparse.values]["momentum_buffer"]
    flat = mask.flatten().clone()
    on, off = flat.nonzero().flatten(), (~flat).nonzero().flatten()
    flat[on[0]], flat[off[0]] = False, True  # move one edge
    new_mask = flat.reshape(mask.shape)
    sparse.set_structure(new_mask, torch.arange(sparse.nnz, dtype=torch.float32), [buf], [torch.zeros_like(buf)])
    assert torch.equal(sparse.mask, new_mask)
    assert opt.state[sparse.values]["momentum_buffer"] is buf and (buf == 0).all()
    with pytest.raises(ValueError, match="edge count"):
        sparse.set_structure(mask & False, torch.zeros(sparse.nnz))


def test_to_sparse_backend_keeps_weights_bitwise_and_enforce_masks_leaves_sparse_layers_alone():
    widths = [20, 16, 8, 3]
    masks = random_topology(widths, density=0.3, seed=0)
    torch.manual_seed(0)
    model = SparseMLP(widths, masks=masks)
    before = model.dense_state_dict()
    to_sparse_backend(model, [0, 1])
    assert isinstance(model.layers[0], SparseLinear) and isinstance(model.layers[2], MaskedLinear)
    after = model.dense_state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    values = model.layers[0].values.detach().clone()
    enforce_masks(model)
    assert torch.equal(model.layers[0].values.detach(), values)
    assert all(np.array_equal(a, b) for a, b in zip(model.masks(), masks))


def test_sparse_layers_hand_activations_on_feature_major_and_the_dense_layer_after_them_agrees():
    gen = torch.Generator().manual_seed(3)
    masks = [torch.rand(50, 40, generator=gen) < 0.1, torch.rand(30, 50, generator=gen) < 0.1, torch.ones(5, 30, dtype=torch.bool)]
    masked_model = SparseMLP([40, 50, 30, 5], masks=[m.numpy() for m in masks])
    sparse_model = to_sparse_backend(copy.deepcopy(masked_model), [0, 1])
    x = torch.randn(8, 40, generator=gen)
    hidden = sparse_model.layers[0](x)
    # the transposed view of a contiguous (n_out, batch) tensor: the next CSR product needs no copy
    assert hidden.shape == (8, 50) and hidden.stride() == (1, 8)
    # the dense output layer takes its feature-major branch and agrees with the batch-major product
    h = torch.relu(sparse_model.layers[1](torch.relu(hidden)))
    out_layer = sparse_model.layers[2]
    assert torch.allclose(out_layer(h), torch.nn.functional.linear(h.contiguous(), out_layer.weight, out_layer.bias), atol=1e-6)
    y_masked, y_sparse = masked_model(x), sparse_model(x)
    assert torch.allclose(y_masked, y_sparse, atol=1e-6)
    y_masked.square().sum().backward()
    y_sparse.square().sum().backward()
    for k in (0, 1):
        assert torch.allclose(sparse_model.layers[k].values.grad, masked_model.layers[k].weight.grad[masks[k]], atol=1e-5)
        assert torch.allclose(sparse_model.layers[k].bias.grad, masked_model.layers[k].bias.grad, atol=1e-5)
    assert torch.allclose(sparse_model.layers[2].weight.grad, masked_model.layers[2].weight.grad, atol=1e-5)


def test_is_dense_follows_every_change_of_the_mask():
    layer = MaskedLinear(6, 4)
    assert layer.is_dense
    layer.set_mask(np.eye(4, 6, dtype=bool))
    assert not layer.is_dense
    layer.load_state_dict({**layer.state_dict(), "mask": torch.ones(4, 6, dtype=torch.bool)})
    assert layer.is_dense
    layer.mask[0, 0] = False  # an in-place write anywhere
    assert not layer.is_dense
    layer.mask = torch.ones(4, 6, dtype=torch.bool)  # a new buffer
    assert layer.is_dense


def test_fused_relu_gives_the_same_bits_as_relu_after_the_layer():
    gen = torch.Generator().manual_seed(4)
    mask = torch.rand(60, 50, generator=gen) < 0.1
    layer = SparseLinear(torch.randn(60, 50, generator=gen), mask, torch.randn(60, generator=gen))
    x = torch.randn(16, 50, generator=gen)
    upstream = torch.randn(16, 60, generator=gen)
    fused = layer(x, relu=True)
    (fused * upstream).sum().backward()
    grads_fused = layer.values.grad.clone(), layer.bias.grad.clone()
    layer.values.grad = layer.bias.grad = None
    separate = torch.relu(layer(x))
    (separate * upstream).sum().backward()
    assert torch.equal(fused, separate)
    assert torch.equal(grads_fused[0], layer.values.grad) and torch.equal(grads_fused[1], layer.bias.grad)


def test_cached_csr_operands_follow_steps_structure_changes_and_loads():
    gen = torch.Generator().manual_seed(5)
    mask = torch.rand(20, 30, generator=gen) < 0.2
    layer = SparseLinear(torch.randn(20, 30, generator=gen), mask, torch.randn(20, generator=gen))
    x = torch.randn(4, 30, generator=gen)

    def dense_forward():
        return x @ layer.weight_dense.t() + layer.bias.detach()

    layer(x).sum().backward()  # builds the cache
    with torch.no_grad():
        layer.values.mul_(0.5)  # an optimizer step writes in place
    assert torch.allclose(layer(x), dense_forward(), atol=1e-6)
    new_mask = torch.zeros_like(mask)
    new_mask.view(-1)[torch.randperm(600, generator=gen)[: layer.nnz]] = True
    layer.set_structure(new_mask, torch.randn(layer.nnz, generator=gen))
    assert torch.allclose(layer(x), dense_forward(), atol=1e-6)
    other = SparseLinear(torch.randn(20, 30, generator=gen), new_mask, torch.randn(20, generator=gen))
    layer.load_state_dict(other.state_dict())
    assert torch.allclose(layer(x), dense_forward(), atol=1e-6)
    layer.values = torch.nn.Parameter(layer.values.detach() * 2)  # a new tensor altogether
    y = layer(x)
    assert torch.allclose(y, dense_forward(), atol=1e-6)
    y.sum().backward()  # gradients reach the new parameter
    assert layer.values.grad is not None and layer.values.grad.shape == layer.values.shape


def test_changing_the_structure_between_forward_and_backward_is_an_error():
    gen = torch.Generator().manual_seed(6)
    mask = torch.rand(10, 12, generator=gen) < 0.3
    layer = SparseLinear(torch.randn(10, 12, generator=gen), mask, torch.randn(10, generator=gen))
    y = layer(torch.randn(3, 12, generator=gen), relu=True)
    new_mask = torch.zeros_like(mask)
    new_mask.view(-1)[: layer.nnz] = True
    layer.set_structure(new_mask, torch.randn(layer.nnz, generator=gen))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_a_stack_of_sparse_layers_gives_the_same_bits_as_layer_by_layer():
    gen = torch.Generator().manual_seed(7)
    widths = [30, 40, 40, 40, 5]
    masks = [(torch.rand(widths[k + 1], widths[k], generator=gen) < 0.15).numpy() for k in range(3)] + [np.ones((5, 40), bool)]
    model = to_sparse_backend(SparseMLP(widths, masks=masks), [0, 1, 2])
    assert model._segments() == [([0, 1, 2], True), ([3], False)]
    x = torch.randn(6, 30, generator=gen)
    y = model(x)
    y.square().sum().backward()
    stacked = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    h = x
    for k in range(3):
        h = model.layers[k](h, relu=True)
    y_by_layer = model.layers[3](h)
    y_by_layer.square().sum().backward()
    assert torch.equal(y, y_by_layer)
    assert all(torch.equal(a, p.grad) for a, p in zip(stacked, model.parameters()))
    # dropout between the layers splits the stack; evaluation joins it again
    dropped = to_sparse_backend(SparseMLP(widths, masks=masks, dropout=0.2), [0, 1, 2])
    assert dropped._segments() == [([0], True), ([1], True), ([2], True), ([3], False)]
    dropped.eval()
    assert dropped._segments()[0] == ([0, 1, 2], True)


def test_a_sparse_model_copies_and_pickles_after_training_steps(tmp_path):
    gen = torch.Generator().manual_seed(8)
    masks = [(torch.rand(30, 20, generator=gen) < 0.2).numpy(), np.ones((5, 30), bool)]
    model = to_sparse_backend(SparseMLP([20, 30, 5], masks=masks), [0])
    x = torch.randn(4, 20, generator=gen)
    y = model(x)
    y.sum().backward()  # the layer now holds its CSR views
    clone = copy.deepcopy(model)
    assert torch.equal(clone(x), y)
    with torch.no_grad():
        clone.layers[0].values.mul_(2.0)
    assert torch.equal(model(x), y) and not torch.equal(clone(x), y)  # the copy owns its weights
    torch.save(model, tmp_path / "model.pt")
    assert torch.equal(torch.load(tmp_path / "model.pt", weights_only=False)(x), y)


def test_op_threads_runs_small_products_on_one_thread_and_restores_the_count(monkeypatch):
    from sparsetopo import sparse_linear

    monkeypatch.setattr(sparse_linear, "PARALLEL_MIN_WORK", 1000)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with sparse_linear.op_threads(999) as inside:
            assert inside == 1 and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with sparse_linear.op_threads(1000) as inside:
            assert inside == 2 and torch.get_num_threads() == 2
        with pytest.raises(RuntimeError), sparse_linear.op_threads(10):
            raise RuntimeError("inside the scope")
        assert torch.get_num_threads() == 2  # restored after an error too
        assert sparse_linear.threads_for_work(10) == 1 and sparse_linear.threads_for_work(10**6) == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_the_sparse_products_give_the_same_bits_at_one_and_two_threads(monkeypatch, dropout):
    # the thread policy may run a product on one thread where the caller asked for two: only sound
    # because these kernels give the same bits at any thread count
    from sparsetopo import sparse_linear

    gen = torch.Generator().manual_seed(9)
    widths = [300, 400, 400, 10]
    masks = [(torch.rand(widths[k + 1], widths[k], generator=gen) < 0.2).numpy() for k in range(2)] + [np.ones((10, 400), bool)]
    model = to_sparse_backend(SparseMLP(widths, masks=masks, dropout=dropout), [0, 1])
    x = torch.randn(256, 300, generator=gen)
    before = torch.get_num_threads()
    monkeypatch.setattr(sparse_linear, "PARALLEL_MIN_WORK", 0)  # every product at the caller's count
    try:
        runs = []
        for threads in (1, 2, 1):
            torch.set_num_threads(threads)
            model.dropout_generator = torch.Generator().manual_seed(3)
            # the dense output layer's product may round differently at two threads: compare the sparse part
            runs.append(_sparse_part(model, x))
    finally:
        torch.set_num_threads(before)
    for a, b in zip(runs[0], runs[1]):
        assert torch.equal(a, b)


def _sparse_part(model, x):
    """The two sparse layers with ReLU (one fused node without dropout, dropout between them with it)."""
    from sparsetopo.sparse_linear import sparse_relu_stack

    model.train()
    if model.dropout == 0:
        y = sparse_relu_stack(x, [model.layers[0], model.layers[1]])
    else:
        y = model.layers[1](model._drop(model.layers[0](x, relu=True)), relu=True)
    y.square().sum().backward()
    out = [y.detach().clone()] + [p.grad.clone() for layer in model.layers[0:2] for p in layer.parameters()]
    model.zero_grad(set_to_none=True)
    return out


def test_dropout_after_a_sparse_layer_gives_the_same_bits_in_either_layout():
    gen = torch.Generator().manual_seed(10)
    masks = [(torch.rand(50, 30, generator=gen) < 0.2).numpy(), np.ones((5, 50), bool)]
    model = SparseMLP([30, 50, 5], masks=masks, dropout=0.4)
    model.train()
    h = torch.relu(torch.randn(8, 50, generator=gen))
    h_fm = torch.empty(50, 8).copy_(h.t()).t()  # the same values, feature-major
    outs = []
    for inp in (h, h_fm):
        inp = inp.clone().requires_grad_(True)
        model.dropout_generator = torch.Generator().manual_seed(4)
        y = model._drop(inp)
        y.square().sum().backward()
        outs.append((y.detach(), inp.grad))
    assert outs[1][0].stride() == (1, 8)  # stays feature-major
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])


def test_step_threads_runs_small_sparse_networks_on_one_thread():
    """Per backend and size: a network with small sparse layers trains on one thread, a masked one or one with a
    large product keeps the caller's count."""
    from sparsetopo.sparse_linear import PARALLEL_MIN_WORK, step_threads

    gen = torch.Generator().manual_seed(4)
    widths = [300, 400, 400, 10]
    masks = [(torch.rand(widths[k + 1], widths[k], generator=gen) < 0.05).numpy() for k in range(2)] + [np.ones((10, 400), bool)]
    sparse = to_sparse_backend(SparseMLP(widths, masks=masks), [0, 1])
    masked = SparseMLP(widths, masks=masks)
    nnz = max(layer.nnz for layer in sparse.layers if isinstance(layer, SparseLinear))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert step_threads(sparse, 128) == 1
        assert step_threads(masked, 128) == 2  # the masked backend gains from two threads
        assert step_threads(sparse, PARALLEL_MIN_WORK // nnz + 1) == 2  # a product at or above the threshold
        assert step_threads(sparse, PARALLEL_MIN_WORK // 4000 + 1) == 2  # the dense 10 x 400 output layer
        torch.set_num_threads(1)
        assert step_threads(sparse, 10**9) == 1
    finally:
        torch.set_num_threads(before)


def _run_at_two_threads(config, root, monkeypatch, short_ops):
    """A run trained at two threads, with or without the step's short operations on one thread."""
    from sparsetopo import sparse_linear, store
    from sparsetopo.training import trainer

    before = torch.get_num_threads()
    with monkeypatch.context() as patch:
        if not short_ops:
            patch.setattr(trainer, "step_threads", lambda model, batch_size: torch.get_num_threads())
        calls = []
        real = sparse_linear._AtCallerThreads.apply
        patch.setattr(sparse_linear._AtCallerThreads, "apply", lambda *a: calls.append(1) or real(*a))
        try:
            torch.set_num_threads(2)
            run = store.train(config, root=root, progress=False)
        finally:
            torch.set_num_threads(before)
    assert bool(calls) == short_ops  # the dense output layer ran at the caller's count exactly when asked
    return run.records, run.state_dict()


def _same_run(a, b):
    (records_a, state_a), (records_b, state_b) = a, b
    assert [r["train_loss"] for r in records_a] == [r["train_loss"] for r in records_b]
    assert state_a.keys() == state_b.keys()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)


def test_short_operations_on_one_thread_keep_the_numbers_of_a_two_thread_run(tmp_path, monkeypatch):
    """The step policy changes where the short operations run, not a bit: a two-thread run with it equals the
    two-thread run without it (the dense output layer keeps two threads; every other operation computes each
    output in one thread)."""
    from sparsetopo.store.config import RunConfig

    config = RunConfig(dataset="digits", hidden=(48, 48), method="set", epsilon=3, backend="sparse", epochs=2,
                       batch_size=32, lr=0.05, seed=5, snapshot_epochs=(), dropout=0.2)
    _same_run(_run_at_two_threads(config, tmp_path / "on", monkeypatch, True),
              _run_at_two_threads(config, tmp_path / "off", monkeypatch, False))


@pytest.mark.realdata
def test_short_operations_on_one_thread_keep_the_numbers_at_the_fig4_widths(tmp_path, monkeypatch):
    """The same at sizes where the operations do split across two threads (784-1000-1000-10 at ε = 20,
    batch 128, dropout: 128,000-element activations; the output layer's weight gradient rounds by thread
    count there)."""
    from helpers import require_real

    from sparsetopo.store.config import RunConfig

    require_real("FashionMNIST")
    config = RunConfig(dataset="fashion_mnist", hidden=(1000, 1000), method="set", epsilon=20, backend="sparse",
                       epochs=1, batch_size=128, lr=0.05, seed=2, snapshot_epochs=(), dropout=0.3,
                       train_samples=1280)
    _same_run(_run_at_two_threads(config, tmp_path / "on", monkeypatch, True),
              _run_at_two_threads(config, tmp_path / "off", monkeypatch, False))
