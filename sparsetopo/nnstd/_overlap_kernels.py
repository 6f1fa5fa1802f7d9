"""numba kernels of :mod:`sparsetopo.nnstd.overlap_assignment` (compiled on import, cached on disk).

Layout: a layer is CSR (``ptr``, ``idx``: int64); the second layer is read
through its transpose (input -> neurons). The square problem has ``2 n``
rows (``0..n-1`` the first network's neurons, ``n + b`` the dummy of the
second network's neuron ``b``) and ``2 n`` columns (``0..n-1`` the second
network's neurons, ``n + a`` the dummy of the first network's neuron ``a``).
Only the first network's rows are stored (candidate pairs, then the row's
own dummy at cost 1); a dummy row ``n + b`` reaches column ``b`` and every
dummy column at cost 0, which the auction evaluates through a min-tree of
the dummy columns' prices instead of storing ``n**2`` edges.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_INF = np.inf


@njit(cache=True, inline="always")
def _cost(shared, size_a, size_b):
    # edits / union in float64, the published order of operations (nnstd.distance._pair_costs)
    union = (np.float64(size_a) + np.float64(size_b)) - np.float64(shared)
    edits = union - np.float64(shared)
    if union < 1.0:
        union = 1.0
    return edits / union


@njit(cache=True)
def candidates(a_ptr, a_idx, bt_ptr, bt_idx, size_a, size_b, n_b, single_kept, all_kept):
    """Pairs sharing >= 2 inputs and each row's ``single_kept`` cheapest sharing one (all of a row's pairs when it
    has at most ``all_kept``); sorted by (row, column)."""
    n_a = a_ptr.size - 1
    count = np.zeros(n_b, np.int64)
    touched = np.empty(n_b, np.int64)
    cap = max(16, n_a * (single_kept + 8))
    rows = np.empty(cap, np.int64)
    cols = np.empty(cap, np.int64)
    costs = np.empty(cap, np.float64)
    best = np.empty(max(single_kept, 1), np.int64)
    size = 0
    overlapping = 0
    for a in range(n_a):
        n_touched = 0
        for e in range(a_ptr[a], a_ptr[a + 1]):
            i = a_idx[e]
            for f in range(bt_ptr[i], bt_ptr[i + 1]):
                b = bt_idx[f]
                if count[b] == 0:
                    touched[n_touched] = b
                    n_touched += 1
                count[b] += 1
        overlapping += n_touched
        n_best = 0
        start = size
        for t in range(n_touched):
            b = touched[t]
            k = count[b]
            if k >= 2 or n_touched <= all_kept:
                rows, cols, costs = _append(rows, cols, costs, size, a, b, _cost(k, size_a[a], size_b[b]))
                size += 1
            elif single_kept > 0:
                # keep the single_kept smallest (size_b[b], b), insertion into a short sorted list
                if n_best < single_kept:
                    pos = n_best
                    n_best += 1
                elif size_b[b] < size_b[best[n_best - 1]] or (
                    size_b[b] == size_b[best[n_best - 1]] and b < best[n_best - 1]
                ):
                    pos = n_best - 1
                else:
                    continue
                while pos > 0 and (
                    size_b[best[pos - 1]] > size_b[b] or (size_b[best[pos - 1]] == size_b[b] and best[pos - 1] > b)
                ):
                    best[pos] = best[pos - 1]
                    pos -= 1
                best[pos] = b
        for t in range(n_best):
            b = best[t]
            rows, cols, costs = _append(rows, cols, costs, size, a, b, _cost(1, size_a[a], size_b[b]))
            size += 1
        # this row's pairs by column
        if size - start > 1:
            order = np.argsort(cols[start:size])
            cols[start:size] = cols[start:size][order]
            costs[start:size] = costs[start:size][order]
        for t in range(n_touched):
            count[touched[t]] = 0
    return rows[:size].copy(), cols[:size].copy(), costs[:size].copy(), overlapping


@njit(cache=True)
def _append(rows, cols, costs, size, a, b, c):
    """Write the pair ``(a, b)`` of cost ``c`` at ``size``, doubling the arrays when they are full."""
    if size == rows.size:
        rows = _grow_i(rows, 2 * size)
        cols = _grow_i(cols, 2 * size)
        costs = _grow_f(costs, 2 * size)
    rows[size] = a
    cols[size] = b
    costs[size] = c
    return rows, cols, costs


@njit(cache=True)
def _grow_i(a, cap):
    out = np.empty(cap, np.int64)
    out[: a.size] = a
    return out


@njit(cache=True)
def _grow_f(a, cap):
    out = np.empty(cap, np.float64)
    out[: a.size] = a
    return out


@njit(cache=True)
def row_graph(n, rows, cols, costs):
    """CSR of the first network's rows: candidate pairs in column order, then the row's dummy (cost 1)."""
    m = rows.size
    ptr = np.zeros(n + 1, np.int64)
    for e in range(m):
        ptr[rows[e] + 1] += 1
    for a in range(n):
        ptr[a + 1] += ptr[a] + 1
    idx = np.empty(ptr[-1], np.int64)
    cost = np.empty(ptr[-1], np.float64)
    fill = ptr[:-1].copy()
    for e in range(m):  # sorted by (row, column)
        a = rows[e]
        idx[fill[a]] = cols[e]
        cost[fill[a]] = costs[e]
        fill[a] += 1
    for a in range(n):
        idx[fill[a]] = n + a
        cost[fill[a]] = 1.0
    return ptr, idx, cost


@njit(cache=True)
def _tree_set(tree, leaves, position, value):
    i = position + leaves
    tree[i] = value
    i >>= 1
    while i >= 1:
        left = tree[2 * i]
        right = tree[2 * i + 1]
        tree[i] = left if left <= right else right
        i >>= 1


@njit(cache=True)
def _tree_argmin(tree, leaves):
    i = 1
    while i < leaves:
        i = 2 * i if tree[2 * i] <= tree[2 * i + 1] else 2 * i + 1
    return i - leaves


@njit(cache=True)
def auction(n, ptr, idx, cost, prices, epsilons):
    """Gauss–Seidel forward auction (minimum cost) with ε-scaling on the square problem; updates ``prices``.

    Rows are taken from a stack, lowest index first; a bid goes to the row's
    cheapest column (``cost + price``, the first in column order among
    equals) and raises its price by the margin over the second cheapest plus
    ε. Every phase starts from no assignment and the previous prices. Returns
    each of the ``2 n`` rows' column.
    """
    leaves = 1
    while leaves < n:
        leaves *= 2
    tree = np.full(2 * leaves, _INF)
    for a in range(n):
        tree[leaves + a] = prices[n + a]
    for i in range(leaves - 1, 0, -1):
        tree[i] = min(tree[2 * i], tree[2 * i + 1])
    size = 2 * n
    col_of_row = np.full(size, -1, np.int64)
    row_of_col = np.full(size, -1, np.int64)
    stack = np.empty(size, np.int64)
    for eps in epsilons:
        col_of_row[:] = -1
        row_of_col[:] = -1
        top = 0
        for r in range(size - 1, -1, -1):
            stack[top] = r
            top += 1
        while top > 0:
            top -= 1
            i = stack[top]
            if i < n:
                best = _INF
                second = _INF
                bj = -1
                for e in range(ptr[i], ptr[i + 1]):
                    value = cost[e] + prices[idx[e]]
                    if value < best:
                        second = best
                        best = value
                        bj = idx[e]
                    elif value < second:
                        second = value
            else:
                b = i - n
                x = _tree_argmin(tree, leaves)
                price_x = tree[leaves + x]
                _tree_set(tree, leaves, x, _INF)
                next_dummy = tree[1]
                _tree_set(tree, leaves, x, price_x)
                if prices[b] <= price_x:  # column b comes before every dummy column
                    best = prices[b]
                    bj = b
                    second = price_x
                else:
                    best = price_x
                    bj = n + x
                    second = prices[b] if prices[b] < next_dummy else next_dummy
            if second == _INF:
                second = best + 1.0
            prices[bj] += (second - best) + eps
            if bj >= n:
                _tree_set(tree, leaves, bj - n, prices[bj])
            old = row_of_col[bj]
            row_of_col[bj] = i
            col_of_row[i] = bj
            if old >= 0:
                col_of_row[old] = -1
                stack[top] = old
                top += 1
    return col_of_row


@njit(cache=True)
def row_summary(ptr, idx, cost, prices, col_of_row):
    """Per stored row: the cost of its assigned edge, and its smallest ``cost + price`` (its dual value)."""
    n = ptr.size - 1
    assigned = np.empty(n, np.float64)
    lowest = np.empty(n, np.float64)
    for i in range(n):
        j = col_of_row[i]
        best = _INF
        for e in range(ptr[i], ptr[i + 1]):
            value = cost[e] + prices[idx[e]]
            if value < best:
                best = value
            if idx[e] == j:
                assigned[i] = cost[e]
        lowest[i] = best
    return assigned, lowest


@njit(cache=True)
def full_minima(a_ptr, a_idx, bt_ptr, bt_idx, size_a, size_b, n, rows, cols, row_min, prices, tolerance):
    """First-network row duals over *all* overlapping pairs, and the left-out pairs that lower one by > tolerance.

    ``row_min`` holds the candidate problem's minima of ``cost + price`` of
    the rows ``0..n-1``; a left-out pair ``(a, b)`` adds the edge ``a -> b``
    at its cost (the dummy rows already reach every dummy column). Returns
    those minima over all pairs and the pairs (rows, columns, costs) that
    lowered a minimum by more than ``tolerance``.
    """
    minima = row_min.copy()
    # per second-network neuron: its price and size side by side (one cache line per random access),
    # a 32-bit counter, candidates marked by a negative start; a single shared input costs
    # single[size_a + size_b] (the same float operations as _cost)
    price_size = np.empty((n, 2), np.float64)
    for b in range(n):
        price_size[b, 0] = prices[b]
        price_size[b, 1] = size_b[b]
    largest = 0
    for a in range(n):
        largest = max(largest, size_a[a])
    for b in range(n):
        largest = max(largest, size_b[b])
    single = np.empty(2 * largest + 2, np.float64)
    for total in range(single.size):
        single[total] = _cost(1, total, 0)
    marked = np.int32(-(1 << 30))
    count = np.zeros(n, np.int32)
    touched = np.empty(n, np.int64)
    out_r = np.empty(1024, np.int64)
    out_c = np.empty(1024, np.int64)
    out_x = np.empty(1024, np.float64)
    size = 0
    e0 = 0
    for a in range(n):
        e1 = e0
        while e1 < rows.size and rows[e1] == a:
            count[cols[e1]] = marked
            e1 += 1
        n_touched = 0
        for e in range(a_ptr[a], a_ptr[a + 1]):
            i = a_idx[e]
            for f in range(bt_ptr[i], bt_ptr[i + 1]):
                b = bt_idx[f]
                k = count[b]
                if k == 0:
                    touched[n_touched] = b
                    n_touched += 1
                count[b] = k + 1
        threshold = row_min[a] - tolerance
        lowest = minima[a]
        sa = size_a[a]
        for t in range(n_touched):
            b = touched[t]
            k = count[b]
            count[b] = 0
            if k == 1:
                c = single[sa + np.int64(price_size[b, 1])]
            else:
                c = _cost(k, sa, np.int64(price_size[b, 1]))
            forward = c + price_size[b, 0]
            if forward < threshold:
                out_r, out_c, out_x = _append(out_r, out_c, out_x, size, a, b, c)
                size += 1
            if forward < lowest:
                lowest = forward
        minima[a] = lowest
        for e in range(e0, e1):
            count[cols[e]] = 0
        e0 = e1
    return minima, out_r[:size].copy(), out_c[:size].copy(), out_x[:size].copy()
