"""The memory ceiling of a wide sparse layer's products on this machine, and the epoch time it implies.

A sparse layer's three products per batch (forward, input gradient, weight
gradient) each visit every stored edge once and read, for it, one row of a
feature-major operand ``(n, batch)`` float32: ``4 x batch`` bytes at a random
row. When the operand fits in cache this is cheap; at 333,334 neurons and batch
128 the operand is 170 MB, so every edge costs a random 512-byte read from
memory. This benchmark measures, in numba kernels with nothing else in them:

* ``stream``: sequential read bandwidth (sum of a 1 GB float32 array);
* ``gather``: random rows of a ``(n_rows, batch)`` operand at CSR column
  indices (each row summed into a per-output accumulator: a forward product
  without the multiplications), as GB/s of row bytes read;

at 1 and 2 threads, interleaved (A, B, A, B) over ``--repeats`` rounds, and
prints min / median / max. Then the bound: one SET epoch of
784-W-W-W-10 at epsilon 20 on 60,000 samples reads, in its two W x W layers'
three products each, ``3 x edges x 60,000 x 4`` bytes from such random rows
(the first layer reads a 784-row operand that stays in cache, the output
layer is a dense GEMM); at the measured gather bandwidth no kernel of this
layout can be faster than that.

    python benchmarks/bench_memory_ceiling.py --width 333334 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _kernels():
    import numba
    from numba import njit, prange

    @njit(parallel=True, fastmath=True, boundscheck=False)
    def stream(a):
        n = a.size
        chunks = 64
        part = np.zeros(chunks, dtype=np.float32)
        step = (n + chunks - 1) // chunks
        for c in prange(chunks):
            s = np.float32(0)
            for i in range(c * step, min(n, (c + 1) * step)):
                s += a[i]
            part[c] = s
        return part.sum()

    @njit(parallel=True, fastmath=True, boundscheck=False)
    def gather(crow, col, x, out):
        n_out = crow.size - 1
        batch = x.shape[1]
        for i in prange(n_out):
            for c in range(batch):
                out[i, c] = 0.0
            for k in range(crow[i], crow[i + 1]):
                j = col[k]
                for c in range(batch):
                    out[i, c] += x[j, c]

    return numba, stream, gather


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=333_334, help="hidden width W (rows of the operand)")
    parser.add_argument("--batch", type=int, default=128, help="samples per batch (operand row = 4 x batch bytes)")
    parser.add_argument("--epsilon", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts, interleaved")
    args = parser.parse_args()
    numba, stream, gather = _kernels()
    threads = [int(t) for t in args.threads.split(",")]
    rng = np.random.default_rng(0)
    w, batch = args.width, args.batch
    per_row = int(round(args.epsilon * 2 * w / w))  # epsilon (n_in + n_out) / n_out edges per output neuron
    crow = np.arange(0, (w + 1) * per_row, per_row, dtype=np.int64)
    col = rng.integers(0, w, size=w * per_row).astype(np.int32)
    col.reshape(w, per_row).sort(axis=1)
    x = rng.standard_normal((w, batch), dtype=np.float32)
    out = np.empty_like(x)
    big = rng.standard_normal(1 << 28, dtype=np.float32)  # 1 GiB
    stream(big[:1024])
    gather(crow[:11], col, x, out)  # compile
    results: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.repeats):
        for t in threads:
            numba.set_num_threads(t)
            start = time.perf_counter()
            stream(big)
            results.setdefault(("stream", t), []).append(big.nbytes / (time.perf_counter() - start) / 1e9)
            start = time.perf_counter()
            gather(crow, col, x, out)
            results.setdefault(("gather", t), []).append(col.size * batch * 4 / (time.perf_counter() - start) / 1e9)
    print(f"W = {w:,}, batch {batch}: {col.size:,} edges, operand {x.nbytes / 1e6:.0f} MB, rows of {batch * 4} B; "
          f"{args.repeats} interleaved rounds")
    print(f"{'kernel':<8} {'threads':>7} {'min GB/s':>9} {'median':>8} {'max':>8}")
    for (kind, t), values in results.items():
        print(f"{kind:<8} {t:>7} {min(values):>9.2f} {statistics.median(values):>8.2f} {max(values):>8.2f}")
    edges_hidden = 2 * int(round(args.epsilon * 2 * w))  # the two W x W layers
    epoch_bytes = 3 * edges_hidden * 60_000 * 4
    print(f"one epoch of 784-{w}-{w}-{w}-10 at epsilon {args.epsilon:g} reads {epoch_bytes / 1e12:.1f} TB of random "
          "operand rows in its W x W layers' products; at the best gather bandwidth measured:")
    for t in threads:
        best = max(results[("gather", t)])
        print(f"  {t} thread(s): {best:.2f} GB/s -> at least {epoch_bytes / best / 1e9 / 60:.0f} min per epoch "
              f"(15 min needs {epoch_bytes / 900 / 1e9:.1f} GB/s)")


if __name__ == "__main__":
    main()
