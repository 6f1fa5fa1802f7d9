import numpy as np
import pytest
import scipy.sparse as sp
from helpers import require_published

from sparsetopo import topology as T


def test_epsilon_initialiser_gives_exact_edge_counts():
    masks = T.random_topology([50, 40, 30, 10], epsilon=3, seed=1)
    assert T.edge_counts(masks) == [round(3 * 90), round(3 * 70), 300]
    assert [m.shape for m in masks] == [(40, 50), (30, 40), (10, 30)]
    assert all(m.dtype == bool for m in masks)


def test_density_initialiser_and_sparse_output():
    masks = T.random_topology([20, 30, 5], density=0.25, seed=0, sparse_output=True)
    assert T.edge_counts(masks) == [150, round(0.25 * 150)]
    assert T.densities(masks)[0] == pytest.approx(0.25)


def test_epsilon_edges_capped_at_dense():
    assert T.edges_for_epsilon(100, 5, 5) == 25


def test_same_seed_same_topology_different_seed_different():
    a = T.random_topology([30, 30, 4], epsilon=2, seed=7)
    b = T.random_topology([30, 30, 4], epsilon=2, seed=7)
    c = T.random_topology([30, 30, 4], epsilon=2, seed=8)
    assert T.topology_hash(a) == T.topology_hash(b)
    assert T.topology_hash(a) != T.topology_hash(c)


def test_save_load_roundtrip_keeps_masks_and_metadata(tmp_path):
    masks = T.random_topology([12, 9, 3], density=0.3, seed=3, sparse_output=True)
    path = T.save_topology(tmp_path / "t.npz", masks, epoch=4, seed=3)
    loaded, meta = T.load_topology(path)
    assert meta == {"epoch": 4, "seed": 3}
    assert all(np.array_equal(a, b) for a, b in zip(masks, loaded))


def test_published_export_import_roundtrip_drops_bias_row(tmp_path):
    masks = T.random_topology([8, 6, 3], density=0.5, seed=2)
    biases = [np.arange(1, 7, dtype=float), np.ones(3)]
    out = T.export_published(tmp_path / "run", 10, masks, biases=biases)
    stored = sp.load_npz(out / "weight_l0.npz")
    assert stored.shape == (9, 6)
    assert stored.toarray()[-1].tolist() == biases[0].tolist()
    back = T.load_published(tmp_path / "run", 10)
    assert all(np.array_equal(a, b) for a, b in zip(masks, back))


def test_as_topology_rejects_nan_and_misaligned_layers():
    with pytest.raises(ValueError, match="NaN"):
        T.as_topology([np.array([[np.nan, 1.0]])])
    with pytest.raises(ValueError, match="layer 1 has 3 inputs"):
        T.as_topology([np.ones((4, 2)), np.ones((2, 3))])


def test_permute_hidden_neurons_keeps_edge_counts_and_changes_masks():
    masks = T.random_topology([10, 20, 20, 3], epsilon=2, seed=0)
    perm = T.permute_hidden_neurons(masks, seed=1)
    assert T.edge_counts(perm) == T.edge_counts(masks)
    assert not np.array_equal(perm[0], masks[0])
    # degrees per neuron survive as a multiset
    assert sorted(perm[0].sum(1)) == sorted(masks[0].sum(1))


def test_rewire_fraction_moves_exact_number_of_edges():
    masks = T.random_topology([30, 30, 3], epsilon=2, seed=0)
    moved = T.rewire_fraction(masks, 0.1, seed=1)
    n = masks[0].sum()
    assert moved[0].sum() == n
    assert (masks[0] & ~moved[0]).sum() == round(0.1 * n)
    assert np.array_equal(moved[1], masks[1])  # dense output untouched


@pytest.mark.realdata
def test_published_topology_import_matches_stored_counts():
    root = require_published()
    masks = T.load_published(root / "e5_s0_w0", 0)
    assert T.layer_shapes(masks) == [(784, 784), (784, 784), (784, 784), (10, 784)]
    raw = sp.load_npz(root / "e5_s0_w0/epoch_000/weight_l0.npz")
    assert raw.nnz == 4479
    assert T.edge_counts(masks)[0] == 3772
    assert T.edge_counts(masks)[3] == 7840


@pytest.mark.parametrize("chunk", [3, 1 << 24])
def test_topology_hash_of_sparse_layers_is_the_hash_of_their_masks(monkeypatch, tmp_path, chunk):
    import sparsetopo.topology.masks as masks_module
    from sparsetopo.store.config import _topology_file_hash
    from sparsetopo.topology.masks import save_topology, topology_hash

    monkeypatch.setattr(masks_module, "_HASH_CHUNK_BYTES", chunk)
    rng = np.random.default_rng(0)
    for _ in range(40):
        n, m = (int(x) for x in rng.integers(1, 60, 2))
        a, b = rng.random((n, m)) < rng.random() * 0.5, rng.random((m, 7)) < 0.3
        assert topology_hash([sp.csr_matrix(a), sp.coo_matrix(b)]) == topology_hash([a, b])
    # the run id's hash of an initial-topology file is unchanged (read sparse, hashed as the masks were)
    path = save_topology(tmp_path / "t.npz", [a, rng.random((7, a.shape[0])) < 0.4])
    loaded, _ = masks_module.load_topology(path)
    assert _topology_file_hash(str(path), path.stat().st_mtime_ns, path.stat().st_size) == topology_hash(loaded)
