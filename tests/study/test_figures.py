"""Shared figure primitives of the study (sparsetopo.study.figures)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sparsetopo.study.figures import heatmap_grid  # noqa: E402


def test_heatmap_grid_draws_matrices_of_different_sizes_side_by_side():
    small, large = np.full((4, 4), 0.5), np.full((10, 10), 0.5)
    np.fill_diagonal(small, 0), np.fill_diagonal(large, 0)
    fig = heatmap_grid([small, large], ["ours", "published"], ["a", "b", "c", "d"], ncols=2)
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["ours", "published"]
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["a", "b", "c", "d"]  # labels where they fit
    assert [t.get_text() for t in axes[1].get_xticklabels()] == [str(i) for i in range(10)]  # numbered otherwise
    plt.close(fig)


def test_interval_errors_are_never_negative_and_keep_nan():
    from sparsetopo.study.figures import interval_errors

    got = interval_errors([0.5, 0.5, np.nan], [0.4, 0.5000000001, 0.1], [0.7, 0.6, 0.2])
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got[:, :2], [[0.1, 0.0], [0.2, 0.1]])
    assert np.isnan(got[:, 2]).all()
    fig, ax = plt.subplots()
    ax.errorbar([0, 1, 2], [0.5, 0.5, np.nan], yerr=got)  # matplotlib accepts them
    plt.close(fig)
