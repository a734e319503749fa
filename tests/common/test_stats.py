"""The shared statistics: Wilson intervals and ROC-AUC."""

from __future__ import annotations

import numpy as np
import pytest

from common.stats import roc_auc, wilson_interval


def test_roc_auc_known_values() -> None:
    labels = np.array([1, 1, 0, 0])
    assert roc_auc(np.array([0.9, 0.8, 0.1, 0.2]), labels) == 1.0
    assert roc_auc(np.array([0.1, 0.2, 0.9, 0.8]), labels) == 0.0
    assert roc_auc(np.ones(4), labels) == 0.5  # ties count one half
    assert roc_auc(np.array([0.9, 0.2, 0.5, 0.1]), labels) == 0.75
    with pytest.raises(ValueError, match="positives and negatives"):
        roc_auc(np.ones(2), np.ones(2))


def test_wilson_interval_brackets_the_proportion() -> None:
    low, high = wilson_interval(70, 100)
    assert 0.60 < low < 0.70 < high < 0.79
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_paired_auc_difference_is_the_gain_with_an_interval_around_it() -> None:
    from common.stats import paired_auc_difference

    rng = np.random.default_rng(0)
    labels = rng.random(400) < 0.5
    weak = labels + rng.normal(0, 2.0, 400)
    strong = labels + rng.normal(0, 0.3, 400)
    gain, low, high = paired_auc_difference(weak, strong, labels, resamples=200)
    assert gain == pytest.approx(roc_auc(strong, labels) - roc_auc(weak, labels))
    assert 0 < low < gain < high
    same, low, high = paired_auc_difference(weak, weak, labels, resamples=50)
    assert same == low == high == 0.0
    with pytest.raises(ValueError, match="three"):
        paired_auc_difference(weak, strong[:10], labels)


def test_log_odds_are_finite_at_the_ends_and_zero_at_a_half() -> None:
    from common.stats import log_odds

    values = log_odds(np.array([0.0, 0.5, 1.0]))
    assert np.isfinite(values).all() and abs(values[1]) < 1e-12 and values[0] == pytest.approx(-values[2])
