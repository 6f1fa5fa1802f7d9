"""The CSR product of wide sparse layers on CPU (numba), with the bits of torch's.

:func:`csr_matmul` computes ``out = W @ x`` (``+ bias[:, None]``) for a CSR
``W`` ``(n_out, n_in)`` and a feature-major ``x`` ``(n_in, batch)``: each row
of ``out`` accumulates its stored entries in column order, one multiply and
one add per term (no fused multiply-add), the bias added last. These are the
bits of ``torch.sparse.mm(W, x)`` and ``torch.addmm(bias[:, None], W, x)``
on MKL's CSR kernels (tested, at one and two threads), so choosing between
them changes the time only.

Why it exists: both read, for every stored entry, its row of ``x`` (``batch``
floats at a random place), which makes a wide layer's product memory-bound;
this loop does it in about half MKL's time (a 333,334-wide layer at ε = 20,
13.3 M entries, batch 128: 0.92 s against 2.03 s at one thread, 0.49 s
against 0.93 s at two). On small layers both are bound by dispatch and MKL's
is as fast, so :mod:`sparsetopo.sparse_linear` calls this one only for
products of at least ``PARALLEL_MIN_WORK`` multiply-adds.

Threads: the rows are cut into ``threads`` ranges of about equal stored
entries, each computed by the serial kernel (which releases the GIL) in a
thread of a small pool; every output is computed by one thread in the same
order, so the bits do not depend on the count. No OpenMP runtime is involved
(numba's ``parallel=True`` would load a second one next to torch's, and GNU
OpenMP is not safe to use in forked children of a process that used it).

With ``gate``, the input gradient of a ReLU layer is masked by the ReLU's
gradient in the same pass (one read and write of a wide operand fewer; the bits
of ``threshold_backward`` after the product).

The sampled weight gradient stays ``torch.sparse.sampled_addmm``: the same
eight-lane sum written as a numba loop measured three to ten times slower.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

__all__ = ["csr_matmul"]


@njit(cache=True, nogil=True)
def _matmul_rows(indptr, indices, values, x, bias, has_bias, gate, has_gate, out, start, stop):
    batch = x.shape[1]
    for i in range(start, stop):
        for b in range(batch):
            out[i, b] = np.float32(0.0)
        for p in range(indptr[i], indptr[i + 1]):
            w = values[p]
            j = indices[p]
            for b in range(batch):
                out[i, b] += w * x[j, b]
        if has_bias:
            for b in range(batch):
                out[i, b] = out[i, b] + bias[i]
        if has_gate:  # ReLU's gradient: torch's threshold_backward(out, gate, 0)
            for b in range(batch):
                if not gate[i, b] > 0.0:
                    out[i, b] = np.float32(0.0)


_POOL: tuple[int, ThreadPoolExecutor] | None = None
_POOL_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """The process's thread pool (rebuilt after a fork or for more workers)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != os.getpid() or _POOL[1]._max_workers < workers:
            _POOL = (os.getpid(), ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sparsetopo-csr"))
        return _POOL[1]


def row_ranges(indptr: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """``parts`` consecutive row ranges of about equal stored entries (empty ranges dropped)."""
    n_rows = len(indptr) - 1
    cuts = np.searchsorted(indptr, np.linspace(0, indptr[-1], parts + 1)[1:-1], side="left")
    bounds = [0, *sorted(int(c) for c in cuts), n_rows]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def csr_matmul(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, x: np.ndarray, out: np.ndarray,
               bias: np.ndarray | None = None, threads: int = 1, gate: np.ndarray | None = None) -> np.ndarray:
    """``out = W @ x`` (``+ bias[:, None]``) for ``W`` given by its CSR arrays; returns ``out``.

    ``indptr`` ``(n_out + 1,)`` and ``indices`` ``(nnz,)`` integer arrays, ``values``
    ``(nnz,)``, ``x`` ``(n_in, batch)``, ``out`` ``(n_out, batch)`` (overwritten) and
    ``bias`` ``(n_out,)``: float32, C-contiguous. ``gate`` ``(n_out, batch)``: zero
    every output whose ``gate`` is not positive (the gradient through a ReLU
    whose output was ``gate``: ``torch.ops.aten.threshold_backward(W @ x, gate, 0)``,
    in the same pass). ``threads`` > 1 splits the rows over that many threads
    (the same bits).
    """
    has_bias, has_gate = bias is not None, gate is not None
    bias = bias if has_bias else values[:0]
    gate = gate if has_gate else out[:0]
    ranges = row_ranges(indptr, threads) if threads > 1 else [(0, len(indptr) - 1)]
    args = (indptr, indices, values, x, bias, has_bias, gate, has_gate, out)
    if len(ranges) <= 1:
        _matmul_rows(*args, 0, len(indptr) - 1)
        return out
    futures = [_pool(len(ranges)).submit(_matmul_rows, *args, a, b) for a, b in ranges]
    for f in futures:
        f.result()
    return out
