"""A truly sparse linear layer: weights stored as their non-zero values only.

:class:`SparseLinear` holds a ``(n_out, n_in)`` weight in compressed sparse row
(CSR) form: a parameter ``values`` of length ``nnz`` and two index buffers,
``crow_indices`` ``(n_out + 1,)`` and ``col_indices`` ``(nnz,)``, in row-major
order (the order in which ``weight[mask]`` lists a dense weight's entries).
The forward product and the input gradient are CSR matrix products, the weight
gradient is ``torch.sparse.sampled_addmm`` sampled at the stored positions, so
an epoch costs O(batch * nnz) instead of O(batch * n_out * n_in).

**The stored structure is the mask.** A position that is not stored has no
value, no gradient and no optimizer state, so nothing has to zero it after an
optimizer step: :func:`sparsetopo.model.enforce_masks` (the one place masks
act) has nothing to do for these layers, and a topology change goes through
:meth:`SparseLinear.set_structure`, which rebuilds the index buffers together
with the values and their optimizer state.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

# CSR support is marked beta, and our index buffers are built valid by
# construction (csr_from_mask), so torch's one-time notices carry no news here.
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")

__all__ = ["SparseLinear", "csr_from_mask", "sparse_relu_stack", "PARALLEL_MIN_WORK", "op_threads", "threads_for_work",
           "caller_threads", "step_threads", "short_ops_on_one_thread", "dense_products", "KERNEL_MIN_WORK"]

PARALLEL_MIN_WORK = 1 << 23
"""Products of fewer multiply-adds than this (stored values x batch) run on one thread.

A sparse layer's products are short (a layer of 3,800 edges at batch 128 is
0.5 M multiply-adds, tens of microseconds), and every multi-threaded operation
ends in a barrier between the threads. On a busy machine a thread that the host
has descheduled holds that barrier for a time slice, so at two threads such a
training step was slower than at one (``benchmarks/bench_training.py
--threads``). The products, the ReLU and its gradient and the bias gradient give
the same bits at any thread count (each output is computed by one thread, in
the same order; tests check it), so running them on one thread changes only
the time. Larger products keep ``torch.get_num_threads()``: there two threads
pay. Set it to 0 to keep the thread count for every product, or to a huge
number to run them all on one thread.
"""


KERNEL_MIN_WORK = 1 << 27
"""CSR products of at least this many multiply-adds (stored values x batch) run on
:func:`sparsetopo._csr_kernels.csr_matmul` on CPU (float32), smaller ones on torch's.

Both give the same bits (tested); the numba loop reads the operand's rows in
about half MKL's time once they no longer stay in cache (a 333,334-wide layer
at ε = 20 and batch 128: 1.7e9 multiply-adds), while up to 16,000-wide layers
(8.2e7) both took the same time within noise (``benchmarks/bench_scale.py
--steps``). Set it to 0 to use the kernel for every CPU product, or to a huge
number to keep torch's products everywhere.
"""


_CALLER_THREADS: int | None = None
"""The caller's torch thread count while a training step runs its short operations on one thread
(:func:`short_ops_on_one_thread`); None outside such a step."""


def caller_threads() -> int:
    """The thread count the caller asked for: ``torch.get_num_threads()``, or the count a
    :func:`short_ops_on_one_thread` step set aside."""
    return torch.get_num_threads() if _CALLER_THREADS is None else _CALLER_THREADS


def threads_for_work(work: int) -> int:
    """The thread count :class:`SparseLinear` runs products of ``work`` multiply-adds with (see :data:`PARALLEL_MIN_WORK`)."""
    return 1 if work < PARALLEL_MIN_WORK else caller_threads()


def step_threads(model: nn.Module, batch_size: int) -> int:
    """The thread count for the short operations of a training step of ``model``: 1 when it has a
    :class:`SparseLinear` layer and every linear layer's products are small (stored values, or ``n_out * n_in``
    for an ``nn.Linear``, times ``batch_size``, below :data:`PARALLEL_MIN_WORK`), else
    ``torch.get_num_threads()``. The masked backend keeps the caller's threads: its dense products are long
    enough to gain from them."""
    threads = torch.get_num_threads()
    layers = [m for m in model.modules() if isinstance(m, (SparseLinear, nn.Linear))]
    if threads == 1 or not any(isinstance(layer, SparseLinear) for layer in layers):
        return threads
    for layer in layers:
        entries = layer.nnz if isinstance(layer, SparseLinear) else int(layer.weight.numel())
        if entries * int(batch_size) >= PARALLEL_MIN_WORK:
            return threads
    return 1


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch threads; the previous count is restored on exit, also on errors."""
    before = torch.get_num_threads()
    if threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def short_ops_on_one_thread(enabled: bool = True) -> Iterator[bool]:
    """Run the block's short operations on one thread when ``enabled`` (a training step of a network for which
    :func:`step_threads` is 1) and the caller has more; yields whether it does. The previous count is restored
    on exit, also on errors.

    In a step of a network with small sparse layers the sparse products already run on one thread; what
    stayed at the caller's count were the loss, dropout, the optimizer and the dense layers' products, short
    operations whose barriers made a step at two threads slower than at one on a loaded machine. Inside the
    block they run on one thread, except the dense layers' products (:func:`dense_products`), which keep the
    caller's count: MKL splits a GEMM's sums by thread count, while every other operation here computes each
    output in one thread in a fixed order. So a step gives the same bits as before at every thread count
    (tested at two threads against the step without this block).
    """
    global _CALLER_THREADS
    threads = torch.get_num_threads()
    if not enabled or _CALLER_THREADS is not None or threads == 1:
        yield False
        return
    _CALLER_THREADS = threads
    torch.set_num_threads(1)
    try:
        yield True
    finally:
        torch.set_num_threads(threads)
        _CALLER_THREADS = None


class _AtCallerThreads(torch.autograd.Function):
    """``fn(x, weight, bias)`` at ``threads`` threads, forward and backward (recomputed in the backward pass and
    differentiated by autograd there: the same kernels, in the same layouts, as without this node)."""

    @staticmethod
    def forward(ctx, fn, threads, x, weight, bias):
        ctx.fn, ctx.threads = fn, threads
        ctx.save_for_backward(x, weight, bias)
        with _torch_threads(threads):
            return fn(x, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        saved = ctx.saved_tensors
        needs = ctx.needs_input_grad[2:]
        leaves = [None if t is None else t.detach().requires_grad_(bool(need)) for t, need in zip(saved, needs)]
        wanted = [k for k, (t, need) in enumerate(zip(leaves, needs)) if t is not None and need]
        grads: list = [None, None, None]
        with _torch_threads(ctx.threads), torch.enable_grad():
            out = ctx.fn(*leaves)
            for k, g in zip(wanted, torch.autograd.grad(out, [leaves[k] for k in wanted], grad)):
                grads[k] = g
        return (None, None, *grads)


def dense_products(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor], x: torch.Tensor,
                   weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``fn(x, weight, bias)``, a dense layer's products: inside a :func:`short_ops_on_one_thread` step at the
    caller's thread count (forward and backward), elsewhere as it is."""
    if _CALLER_THREADS is None:
        return fn(x, weight, bias)
    return _AtCallerThreads.apply(fn, _CALLER_THREADS, x, weight, bias)


@contextmanager
def op_threads(work: int) -> Iterator[int]:
    """Run the block with :func:`threads_for_work` threads (yielded); the previous count is restored on exit, also on errors."""
    wanted = threads_for_work(work)
    with _torch_threads(wanted):
        yield wanted


def csr_from_mask(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """CSR index arrays ``(crow_indices, col_indices)`` (int64) of a bool mask ``(n_out, n_in)``."""
    mask = torch.as_tensor(mask, dtype=torch.bool)
    counts = mask.sum(dim=1)
    crow = torch.zeros(mask.shape[0] + 1, dtype=torch.int64, device=mask.device)
    crow[1:] = torch.cumsum(counts, 0)
    col = mask.nonzero(as_tuple=True)[1].to(torch.int64)
    return crow, col


def _use_kernel(nnz: int, x: torch.Tensor) -> bool:
    """Whether a CSR product of ``nnz`` stored values with the feature-major ``x`` runs on :mod:`sparsetopo._csr_kernels`."""
    return x.device.type == "cpu" and x.dtype == torch.float32 and nnz * x.shape[1] >= KERNEL_MIN_WORK


def _kernel_product(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, x: torch.Tensor,
                    bias: torch.Tensor | None, gate: torch.Tensor | None = None) -> torch.Tensor:
    """``W @ x`` (``+ bias[:, None]``) for the CSR ``W`` and a contiguous feature-major ``x``, on the numba kernel with
    the current torch thread count: the bits of ``torch.sparse.mm`` / ``torch.addmm`` (``_csr_kernels``); with
    ``gate`` (contiguous, ``(n_out, batch)``), then ``threshold_backward(., gate, 0)`` in the same pass."""
    from ._csr_kernels import csr_matmul  # numba loads with the first wide product, not with the package

    out = torch.empty(crow.numel() - 1, x.shape[1], dtype=x.dtype)
    csr_matmul(crow.numpy(), col.numpy(), values.detach().numpy(), x.detach().numpy(), out.numpy(),
               None if bias is None else bias.detach().numpy(), torch.get_num_threads(),
               None if gate is None else gate.detach().numpy())
    return out


def _feature_major(x: torch.Tensor) -> torch.Tensor:
    """``x.t()`` ``(n, batch)`` as a contiguous tensor; no copy when ``x`` is already the view of one.

    Writing through the transposed view of a fresh tensor is about twice as fast
    as ``x.t().contiguous()`` (which reads through it) on CPU; the numbers are the same.
    """
    x_t = x.t()
    if x_t.is_contiguous():
        return x_t
    out = torch.empty(x_t.shape, dtype=x.dtype, device=x.device)
    out.t().copy_(x)
    return out


class _SparseStack(torch.autograd.Function):
    """``x`` through consecutive CSR layers (``x @ W.T + b``, then ReLU if ``relu``) in one autograd node.

    Operands are kept feature-major in memory: the CSR products run on a
    contiguous ``(n_in, batch)`` right-hand side (about 5x faster than on a
    transposed view, and the weight gradient wants the same layout), and the
    result is returned as the transposed view of a contiguous ``(n_out, batch)``
    tensor, so a following sparse layer (or elementwise op, which keeps the
    layout) takes it on without a copy. The bias is added inside the product
    (``addmm``), the ReLU in place on it, and both are differentiated here:
    the same kernels in the same order as ``relu(x @ W.T + b)`` layer by
    layer, so the same bits, with one autograd node for the whole stack
    instead of three per layer. Without ``relu`` the stack has one layer.
    """

    @staticmethod
    def forward(ctx, x, layers, relu, *params):  # params: values_0, bias_0, values_1, bias_1, ...
        # one thread for small products (PARALLEL_MIN_WORK): the same bits, no barriers between threads
        work = max(layer.nnz for layer in layers) * x.shape[0] if x.device.type == "cpu" else PARALLEL_MIN_WORK
        with op_threads(work):
            h = _feature_major(x)  # no copy when x is the output of a sparse layer
            hs, structure = [h], []
            for layer, values, bias in zip(layers, params[0::2], params[1::2]):
                if _use_kernel(layer.nnz, h):
                    h = _kernel_product(layer.crow_indices, layer.col_indices, values, h, bias)
                else:
                    w = layer._csr_operands(values)[0]
                    h = torch.sparse.mm(w, h) if bias is None else torch.addmm(bias.unsqueeze(1), w, h)
                if relu:
                    h.clamp_min_(0.0)
                hs.append(h)
                structure += [layer.crow_indices, layer.col_indices, layer._perm_t]
        ctx.layers, ctx.relu, ctx.work = layers, relu, work
        # the index buffers are saved too (set_structure writes them in place), so changing the structure
        # before the backward pass is an error, not wrong gradients
        ctx.save_for_backward(*hs, *params, *structure)
        return h.t()

    @staticmethod
    def backward(ctx, grad_out):
        n = len(ctx.layers)
        saved = ctx.saved_tensors
        hs, params, structure = saved[: n + 1], saved[n + 1 : 3 * n + 1], saved[3 * n + 1 :]
        grads = [None] * (2 * n)
        with op_threads(ctx.work):
            g = _feature_major(grad_out)  # (n_out, batch); no copy when it arrives feature-major
            gated = False  # whether g already went through the ReLU's gradient (in the kernel's product)
            for k in reversed(range(n)):
                values, perm_t = params[2 * k], structure[3 * k + 2]
                _, pattern, w_t_values, w_t = ctx.layers[k]._csr_operands(values)
                if ctx.relu and not gated:
                    g = torch.ops.aten.threshold_backward(g, hs[k + 1], 0)
                gated = False
                if ctx.needs_input_grad[3 + 2 * k]:
                    grads[2 * k] = torch.sparse.sampled_addmm(pattern, g, hs[k].t(), beta=0.0).values()
                if ctx.needs_input_grad[4 + 2 * k]:
                    grads[2 * k + 1] = g.sum(1)
                if k > 0 or ctx.needs_input_grad[0]:
                    torch.index_select(values, 0, perm_t, out=w_t_values)  # W.T's values, in its row-major order
                    if _use_kernel(values.numel(), g):
                        layer, gated = ctx.layers[k], ctx.relu and k > 0
                        g = _kernel_product(layer._crow_t, layer._col_t, w_t_values, g.contiguous(), None,
                                            gate=hs[k] if gated else None)
                    else:
                        g = torch.sparse.mm(w_t, g)
        return (g.t() if ctx.needs_input_grad[0] else None, None, None, *grads)


def sparse_relu_stack(x: torch.Tensor, layers: Sequence[SparseLinear]) -> torch.Tensor:
    """``relu(... relu(relu(x @ W0.T + b0) @ W1.T + b1) ...)`` through consecutive :class:`SparseLinear` layers.

    The same numbers as calling each layer with ``relu=True`` in turn, in one
    autograd node (less per-batch overhead when the layers are small).
    """
    layers = tuple(layers)
    return _SparseStack.apply(x, layers, True, *[t for layer in layers for t in (layer.values, layer.bias)])


def _check_csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, n_out: int, n_in: int) -> None:
    """Refuse CSR arrays that do not describe an ``(n_out, n_in)`` matrix with ``values.numel()`` entries."""
    if crow.shape != (n_out + 1,) or col.dim() != 1 or values.shape != col.shape:
        raise ValueError(f"CSR arrays do not fit a {n_out}x{n_in} layer: crow_indices {tuple(crow.shape)} (want ({n_out + 1},)), "
                         f"col_indices {tuple(col.shape)}, values {tuple(values.shape)} (want one value per column index)")
    if int(crow[0]) != 0 or int(crow[-1]) != col.numel() or (col.numel() and (int(col.min()) < 0 or int(col.max()) >= n_in)):
        raise ValueError(f"CSR arrays are inconsistent: crow_indices must run from 0 to nnz={col.numel()} and columns lie in [0, {n_in})")


class SparseLinear(nn.Module):
    """Linear layer whose weight is the CSR matrix of its stored values.

    Parameters
    ----------
    weight : tensor ``(n_out, n_in)``
        Initial weights; only the entries inside ``mask`` are kept.
    mask : bool tensor ``(n_out, n_in)``
        The topology (present edges).
    bias : tensor ``(n_out,)`` or None

    The parameters are ``values`` ``(nnz,)`` and ``bias`` ``(n_out,)``;
    ``crow_indices``/``col_indices`` are buffers, so the structure travels with
    ``state_dict``. Dense views for analysis of small layers: :attr:`weight_dense`
    and :attr:`mask`. :meth:`from_csr` builds a layer without any dense tensor.
    """

    is_sparse_backend = True

    def __init__(self, weight: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        mask = torch.as_tensor(mask, dtype=torch.bool, device=weight.device)
        if tuple(mask.shape) != tuple(weight.shape):
            raise ValueError(f"mask has shape {tuple(mask.shape)} but the weight is {tuple(weight.shape)}; masks are (n_out, n_in)")
        self.out_features, self.in_features = (int(s) for s in weight.shape)
        crow, col = csr_from_mask(mask)
        self.values = nn.Parameter(weight.detach()[mask].clone())
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())
        self.register_buffer("crow_indices", crow)
        self.register_buffer("col_indices", col)
        self._refresh_transpose()

    @classmethod
    def from_csr(cls, shape: tuple[int, int], crow_indices: torch.Tensor, col_indices: torch.Tensor,
                 values: torch.Tensor, bias: torch.Tensor | None = None) -> SparseLinear:
        """A layer built from its CSR arrays, without any dense ``(n_out, n_in)`` tensor.

        ``crow_indices`` ``(n_out + 1,)`` and ``col_indices`` ``(nnz,)`` (int64,
        columns increasing within each row) and ``values`` ``(nnz,)`` in that
        order; the same layer as ``SparseLinear(weight, mask, bias)`` for the
        weight and mask they describe. The tensors are copied.
        """
        n_out, n_in = (int(s) for s in shape)
        crow = torch.as_tensor(crow_indices, dtype=torch.int64).clone()
        col = torch.as_tensor(col_indices, dtype=torch.int64).clone()
        _check_csr(crow, col, values, n_out, n_in)
        layer = cls.__new__(cls)
        nn.Module.__init__(layer)
        layer.out_features, layer.in_features = n_out, n_in
        layer.values = nn.Parameter(values.detach().clone())
        layer.bias = None if bias is None else nn.Parameter(bias.detach().clone())
        layer.register_buffer("crow_indices", crow.to(values.device))
        layer.register_buffer("col_indices", col.to(values.device))
        layer._refresh_transpose()
        return layer

    def flat_indices(self) -> torch.Tensor:
        """Row-major flat position ``row * n_in + col`` of every stored value ``(nnz,)`` (int64, increasing)."""
        return self.row_indices() * self.in_features + self.col_indices

    @torch.no_grad()
    def set_structure_csr(self, crow_indices: torch.Tensor, col_indices: torch.Tensor, values: torch.Tensor,
                          state: Sequence[torch.Tensor] = (), new_state: Sequence[torch.Tensor] = ()) -> None:
        """:meth:`set_structure` from CSR arrays (no dense mask): the new structure, its values and optimizer state.

        ``crow_indices``/``col_indices`` as in :meth:`from_csr`; ``values`` and
        every ``new_state`` tensor in their order. The edge count must not change.
        """
        crow = torch.as_tensor(crow_indices, dtype=torch.int64)
        col = torch.as_tensor(col_indices, dtype=torch.int64)
        _check_csr(crow, col, values, self.out_features, self.in_features)
        if col.numel() != self.nnz:
            raise ValueError(f"set_structure_csr keeps the edge count ({self.nnz}); got {col.numel()} columns")
        self.crow_indices.copy_(crow.to(self.crow_indices.device))
        self.col_indices.copy_(col.to(self.col_indices.device))
        self.values.copy_(values.to(self.values.device))
        for old, new in zip(state, new_state):
            old.copy_(new.to(old.device))
        self._refresh_transpose()

    # -- structure -------------------------------------------------------
    def _refresh_transpose(self) -> None:
        """CSR of the transpose (for the input gradient) and the value permutation into it."""
        rows = self.row_indices()
        # sort stored entries by (column, row): the row-major order of W.T
        key = self.col_indices * self.out_features + rows
        perm = torch.argsort(key, stable=True)
        counts = torch.bincount(self.col_indices, minlength=self.in_features)
        crow_t = torch.zeros(self.in_features + 1, dtype=torch.int64, device=counts.device)
        crow_t[1:] = torch.cumsum(counts, 0)
        self._crow_t, self._col_t, self._perm_t = crow_t, rows[perm].contiguous(), perm
        self._csr_cache = None

    def _csr_operands(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(W, zero pattern, values of W.T, W.T)`` as CSR tensors, built once per structure and values storage.

        ``W`` shares ``values``' storage, so it follows optimizer steps without
        being rebuilt; on CPU its indices are 32-bit copies of the buffers (what
        MKL takes), which :meth:`_refresh_transpose` drops with the cache after
        every change of the structure. ``W.T``'s values are a buffer the
        backward pass fills.
        """
        key = (values.data_ptr(), values.dtype, values.device, self.crow_indices.data_ptr(), self.col_indices.data_ptr())
        if self._csr_cache is None or self._csr_cache[0] != key:
            shape = (self.out_features, self.in_features)
            v = values.detach()
            # MKL takes 32-bit indices: given int64 ones, torch converts them on every product (the same numbers)
            small = v.device.type == "cpu" and max(self.nnz, *shape) < 2**31 - 1
            mkl = (lambda t: t.to(torch.int32)) if small else (lambda t: t)
            w = torch.sparse_csr_tensor(mkl(self.crow_indices), mkl(self.col_indices), v, shape, check_invariants=False)
            pattern = torch.sparse_csr_tensor(self.crow_indices, self.col_indices, torch.zeros_like(v), shape, check_invariants=False)
            t_values = torch.empty_like(v)
            w_t = torch.sparse_csr_tensor(mkl(self._crow_t), mkl(self._col_t), t_values, shape[::-1], check_invariants=False)
            self._csr_cache = (key, w, pattern, t_values, w_t)
        return self._csr_cache[1:]

    def __getstate__(self):  # copies and pickles leave the CSR views out (they cannot be copied); they are rebuilt on use
        state = self.__dict__.copy()
        state["_csr_cache"] = None
        return state

    def row_indices(self) -> torch.Tensor:
        """Row of every stored value ``(nnz,)``."""
        counts = self.crow_indices[1:] - self.crow_indices[:-1]
        return torch.repeat_interleave(torch.arange(self.out_features, device=counts.device), counts)

    def _apply(self, fn, *args, **kwargs):  # .to(device) moves the cached transpose too
        out = super()._apply(fn, *args, **kwargs)
        self._refresh_transpose()
        return out

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._refresh_transpose()

    @property
    def nnz(self) -> int:
        return int(self.col_indices.numel())

    @property
    def n_edges(self) -> int:
        return self.nnz

    @property
    def is_dense(self) -> bool:
        return self.nnz == self.out_features * self.in_features

    @property
    def mask(self) -> torch.Tensor:
        """The topology as a bool tensor ``(n_out, n_in)`` (a fresh copy of ``n_out * n_in`` bytes).

        For analyses of small layers; training, rewiring and snapshots use the
        index buffers (:meth:`flat_indices`) and never build it.
        """
        m = torch.zeros(self.out_features, self.in_features, dtype=torch.bool, device=self.values.device)
        m[self.row_indices(), self.col_indices] = True
        return m

    @property
    def weight_dense(self) -> torch.Tensor:
        """The weight as a dense tensor ``(n_out, n_in)``, zero off the structure (detached copy)."""
        w = torch.zeros(self.out_features, self.in_features, dtype=self.values.dtype, device=self.values.device)
        w[self.row_indices(), self.col_indices] = self.values.detach()
        return w

    @torch.no_grad()
    def set_structure(self, mask: np.ndarray | torch.Tensor, values: torch.Tensor, state: list[torch.Tensor] = (), new_state: list[torch.Tensor] = ()) -> None:
        """Replace the topology; ``values`` (row-major order of ``mask``) become the weights.

        ``state``/``new_state`` pair the optimizer state tensors of ``values``
        (e.g. SGD momentum) with their new contents in the same order; they
        are updated in place, so the optimizer keeps its references. The
        number of edges must not change (SET rewiring keeps it exactly).
        """
        mask_t = torch.as_tensor(np.asarray(mask) if not torch.is_tensor(mask) else mask, dtype=torch.bool).to(self.values.device)
        if tuple(mask_t.shape) != (self.out_features, self.in_features):
            raise ValueError(f"new mask shape {tuple(mask_t.shape)} != layer shape {(self.out_features, self.in_features)}")
        if int(mask_t.sum()) != self.nnz or values.numel() != self.nnz:
            raise ValueError(f"set_structure keeps the edge count ({self.nnz}); got a mask of {int(mask_t.sum())} edges and {values.numel()} values")
        crow, col = csr_from_mask(mask_t)
        self.crow_indices.copy_(crow)
        self.col_indices.copy_(col)
        self.values.copy_(values.to(self.values.device))
        for old, new in zip(state, new_state):
            old.copy_(new.to(old.device))
        self._refresh_transpose()

    def forward(self, x: torch.Tensor, relu: bool = False) -> torch.Tensor:
        """``x @ W.T + b`` for ``x`` ``(batch, n_in)``; with ``relu``, ``relu(x @ W.T + b)`` in one step."""
        return _SparseStack.apply(x, (self,), relu, self.values, self.bias)

    def extra_repr(self) -> str:
        total = self.out_features * self.in_features
        return f"in_features={self.in_features}, out_features={self.out_features}, edges={self.nnz}/{total} ({self.nnz / total:.2%}), CSR"
