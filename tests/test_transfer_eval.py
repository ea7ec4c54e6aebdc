"""Fast tier of the transfer held-out evaluation: column names and scores, no sampler."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayes_atlas import transfer_eval
from bayes_atlas.datasets import transfer_matrix


def test_scores_use_the_package_column_names():
    predictions = pd.DataFrame(
        {
            "method": ["a"] * 4 + ["b"] * 2,
            "observed": [0.0, 1.0, 2.0, 3.0, 0.0, 0.0],
            "median": [0.0, 1.0, 2.0, 5.0, 1.0, -1.0],
            "lower50": [-0.1, 0.9, 2.5, 4.0, 0.5, -1.5],
            "upper50": [0.1, 1.1, 3.0, 6.0, 1.5, -0.5],
            "lower90": [-1.0, 0.0, 1.0, 3.5, -1.0, -2.0],
            "upper90": [1.0, 2.0, 3.0, 4.0, 2.0, 1.0],
        }
    )
    scores = transfer_eval.score_predictions(predictions)
    assert list(scores.columns) == ["rmse", "coverage50", "coverage90", "width90", "n_cells"]
    assert scores.loc["a", "rmse"] == pytest.approx(1.0)  # errors 0, 0, 0, 2
    assert scores.loc["a", "coverage50"] == pytest.approx(0.5)  # 2.0 is below [2.5, 3]; 3 outside [4, 6]
    assert scores.loc["a", "coverage90"] == pytest.approx(0.75)  # 3.0 is below [3.5, 4]
    assert scores.loc["a", "width90"] == pytest.approx((2 + 2 + 2 + 0.5) / 4)
    assert scores.loc["b", "rmse"] == pytest.approx(1.0) and scores.loc["b", "coverage50"] == 0.0
    assert scores.loc["b", "coverage90"] == 1.0 and scores.loc["b", "n_cells"] == 2


def test_baseline_predictions_are_centred_on_the_median():
    codes = ["en", "es", "ca", "id", "ms", "zh", "ar"]
    matrix = transfer_matrix().sel(target=codes, source=codes)
    mask = np.zeros(matrix.shape, dtype=bool)
    mask[2, 1] = mask[4, 3] = True  # ca <- es, ms <- id
    train = matrix.where(~mask)
    cells = transfer_eval._cells_frame(matrix, mask)
    for prediction in (transfer_eval._row_means(train, cells), transfer_eval._ols(train, cells, fixed_effects=False)):
        assert {"median", "lower50", "upper50", "lower90", "upper90"} <= set(prediction.columns)
        assert not {"mean", "lower_50", "upper_90"} & set(prediction.columns)
        # Normal intervals: symmetric about the median, the 90% one wider.
        np.testing.assert_allclose(prediction["median"] - prediction["lower90"], prediction["upper90"] - prediction["median"])
        assert (prediction["upper90"] - prediction["lower90"] > prediction["upper50"] - prediction["lower50"]).all()
    row_means = transfer_eval._row_means(train, cells)
    expected = np.nanmean(np.where(np.eye(7, dtype=bool), np.nan, train.values)[2])
    assert row_means.loc[row_means["target"] == "ca", "median"].item() == pytest.approx(expected)
