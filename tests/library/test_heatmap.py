import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from sparsetopo.nnstd.heatmap import distance_heatmap  # noqa: E402


def test_distance_heatmap_writes_every_value_of_a_small_matrix_and_labels_both_axes():
    matrix = np.array([[0.0, 0.25, 0.5], [0.25, 0.0, 0.75], [0.5, 0.75, 0.0]])
    ax = distance_heatmap(matrix, ["a", "b", "c"], title="t")
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(f"{v:.2f}" for v in matrix.ravel())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert ax.images[0].get_clim() == (0.0, 1.0)
    plt.close(ax.figure)


def test_distance_heatmap_refuses_a_matrix_that_is_not_2d_or_labels_of_another_length():
    with pytest.raises(ValueError, match="2-D"):
        distance_heatmap(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="labels"):
        distance_heatmap(np.zeros((2, 2)), ["only one"])
