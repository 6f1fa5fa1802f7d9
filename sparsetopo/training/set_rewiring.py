"""SET: Sparse Evolutionary Training's prune-and-regrow step.

After every epoch but the last, in every sparse layer, SET removes the
fraction ζ of the *positive* weights closest to zero and the fraction ζ of the
*negative* weights closest to zero, then regrows exactly as many connections at
uniformly random empty positions (Mocanu et al., 2018). Counts are exact, so
the edge count of a layer never drifts. Active weights that are exactly zero
(e.g. regrown at zero and never updated) sit inside the pruning band of the
reference implementation and are removed as well.

Which layers are rewired is the training loop's decision: every sparse hidden
layer, and the output layer only when the run asks for it
(``RunConfig.rewire_output``; both reference implementations never touch it).
"""

from __future__ import annotations

import numpy as np

__all__ = ["prune_and_regrow", "REGROW_INITS", "REGROW_SAMPLERS"]

REGROW_INITS = ("zero", "random")
"""Initial values of regrown weights: ``zero`` or ``random`` (the run's initialisation scale)."""
REGROW_SAMPLERS = ("choice", "rejection")
"""How regrown positions are drawn (see :func:`prune_and_regrow`)."""


def prune_and_regrow(
    weight: np.ndarray,
    mask: np.ndarray,
    zeta: float,
    rng: np.random.Generator,
    sampler: str = "choice",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """One SET rewiring of one layer.

    Parameters
    ----------
    weight : float array ``(n_out, n_in)``
        Current weights (absent edges are zero).
    mask : bool array ``(n_out, n_in)``
        Current topology.
    zeta : float in [0, 1)
        Fraction of the positive and of the negative weights removed.
    rng : np.random.Generator
        Chooses the regrown positions.
    sampler : {"choice", "rejection"}
        ``"choice"``: a uniform sample without replacement of the empty
        positions (``Generator.choice``); two layers whose empty positions
        differ at all get unrelated samples from the same generator state.
        ``"rejection"``: uniform flat positions over the whole layer, drawn in
        blocks, each kept when empty and not drawn before, until enough are
        kept (the loop of the SET reference implementations); two layers that
        differ in a few positions and share the generator state regrow mostly
        at the same positions. Both give every set of empty positions of the
        right size the same probability.

    Returns
    -------
    new_mask : bool array ``(n_out, n_in)``
        Topology after pruning and regrowth; same edge count as ``mask``.
    removed : bool array ``(n_out, n_in)``
        Edges that were pruned.
    grown : bool array ``(n_out, n_in)``
        Edges that were added (may include some just removed: regrowth draws
        from every position empty after pruning, as the reference does).
    n_changed : int
        Number of edges removed (= number regrown).
    """
    if not 0 <= zeta < 1:
        raise ValueError(f"zeta must be in [0, 1), got {zeta}")
    if sampler not in REGROW_SAMPLERS:
        raise ValueError(f"sampler must be one of {REGROW_SAMPLERS}, got {sampler!r}")
    flat_w = np.asarray(weight).ravel()
    flat_m = np.asarray(mask, dtype=bool).ravel()
    active = np.flatnonzero(flat_m)
    values = flat_w[active]
    pos = active[values > 0]
    neg = active[values < 0]
    zero = active[values == 0]
    n_pos = int(round(zeta * pos.size))
    n_neg = int(round(zeta * neg.size))
    # stable sorts: ties broken by position, so the result is deterministic
    drop_pos = pos[np.argsort(flat_w[pos], kind="stable")[:n_pos]]
    drop_neg = neg[np.argsort(-flat_w[neg], kind="stable")[:n_neg]]
    drop = np.concatenate([drop_pos, drop_neg, zero])
    new = flat_m.copy()
    new[drop] = False
    empty = np.flatnonzero(~new)
    n_grow = min(drop.size, empty.size)
    if not n_grow:
        grow = np.empty(0, dtype=np.int64)
    elif sampler == "choice":
        grow = rng.choice(empty, size=n_grow, replace=False)
    else:
        grow = _rejection_sample(new, n_grow, rng)
    new[grow] = True
    removed = np.zeros_like(flat_m)
    removed[drop] = True
    grown = np.zeros_like(flat_m)
    grown[grow] = True
    shape = np.shape(mask)
    return new.reshape(shape), removed.reshape(shape), grown.reshape(shape), int(drop.size)


def _rejection_sample(occupied: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct flat positions where ``occupied`` is False, by uniform draws over all positions.

    Draws come in blocks of ``2 n`` (at least 64) from ``rng.integers``; a draw is
    kept when its position is empty and new, in the order drawn. The caller
    guarantees at least ``n`` empty positions.
    """
    taken = occupied.copy()
    out = np.empty(n, dtype=np.int64)
    filled = 0
    while filled < n:
        draws = rng.integers(0, taken.size, size=max(2 * (n - filled), 64))
        for position in draws:
            if not taken[position]:
                taken[position] = True
                out[filled] = position
                filled += 1
                if filled == n:
                    break
    return out
