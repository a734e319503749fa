"""The sensed-vs-ground-truth report on a synthetic dataset whose disagreements are known."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from graspdata.sensing import count_separation, lift_signals, sensing_agreement
from tests.graspdata.helpers import SIZE, make_record, write_records

# (success, sensed, touching of object a, aperture m): held; thrown (lifted, not touching);
# held but lifted object slipped (lifted, touching); held below the line; nothing; nothing.
ROWS = [(True, True, True, 0.06), (True, False, False, 0.040), (True, False, True, 0.043),
        (False, True, True, 0.05), (False, False, False, 0.0396), (False, False, False, 0.0397)]


def write_sensing_dataset(folder):
    records = []
    for i, (success, sensed, touching, aperture) in enumerate(ROWS):
        record = make_record(i, success, sensed=sensed)
        truth = replace(record.truth, touching=np.array([touching, False]))
        records.append(replace(record, truth=truth, outcome_aperture=aperture))
    write_records(folder, records, config={"seed": 7})


def test_confusion_thrown_and_triplet_change(tmp_path):
    write_sensing_dataset(tmp_path / "d")
    result = sensing_agreement(tmp_path / "d", closed_aperture=0.0395)
    assert result["confusion"] == {"sensed_and_lifted": 1, "sensed_not_lifted": 1, "lifted_not_sensed": 2,
                                   "neither": 2}
    assert result["agreement"] == round(3 / 6, 4)
    assert result["lifted_not_sensed_split"] == {"thrown_not_held": 1, "held": 1}
    assert result["sensed_not_lifted_split"] == {"touching_below_the_line": 1, "not_touching": 0}
    triplets = result["triplets"]
    assert (triplets["selected_by_success"], triplets["selected_by_sensed"]) == (3, 2)
    assert (triplets["dropped"], triplets["added"]) == (2, 1)
    assert triplets["changed_share_of_success_selection"] == 1.0
    assert sum(h["attempts"] for h in result["aperture_histogram"]) == 6
    five = next(m for m in result["margin_sensitivity"] if m["margin_mm"] == 5.0)
    assert (five["sensed_not_lifted"], five["lifted_not_sensed"]) == (1, 2)  # apertures agree with the bits
    two = next(m for m in result["margin_sensitivity"] if m["margin_mm"] == 2.0)
    assert two["lifted_not_sensed"] == 1  # 0.043 m is above 0.0395 + 0.002


def write_count_dataset(folder):
    """Sensed lifts of one object (apertures 5, 6 cm) and of two (7, 8 cm; their post image also lost a
    4 x 4 block), plus a failure and a sensed non-lift that the count signals leave out."""
    rows = [([True, False], 0.05, False), ([True, False], 0.06, False), ([True, True], 0.07, True),
            ([True, True], 0.08, True), ([False, False], 0.04, False)]
    records = []
    for i, (lifted, aperture, block) in enumerate(rows):
        record = make_record(i, success=any(lifted), sensed=any(lifted))
        post = record.post_image.copy()
        if block:
            post[:4, :4] = 200
        records.append(replace(record, truth=replace(record.truth, lifted=np.array(lifted)), post_image=post,
                               outcome_aperture=aperture))
    records.append(replace(make_record(5, success=False, sensed=True), outcome_aperture=0.05))
    write_records(folder, records, config={"seed": 8})


def test_count_signals_read_only_sensed_lifts_and_score_each_signal(tmp_path):
    write_count_dataset(tmp_path / "d")
    signals = lift_signals(tmp_path / "d", with_outcomes=True)
    assert signals.objects_lifted.tolist() == [1, 1, 2, 2]
    assert signals.scene_change.tolist() == [0, 0, 16, 16]
    assert signals.outcome_images.shape == (4, SIZE, SIZE, 3)
    result = count_separation(signals, lambda images: -images.reshape(len(images), -1).mean(axis=1), "darkness")
    assert (result["lifts"], result["several"]) == (4, 2)
    scores = result["signals"]
    assert scores["aperture (m)"]["roc_auc"] == 1.0 and scores["scene pixels changed"]["roc_auc"] == 1.0
    assert scores["darkness"]["roc_auc"] == 0.0  # the outcome images of later records are brighter
    assert scores["aperture (m)"]["median_one"] == pytest.approx(0.055)  # stored as float32
    one_kind = replace(signals, objects_lifted=np.ones(4, np.int64))
    with pytest.raises(ValueError, match="one and of several"):
        count_separation(one_kind)
    with pytest.raises(ValueError, match="with_outcomes"):
        count_separation(lift_signals(tmp_path / "d"), lambda images: images.mean(axis=(1, 2, 3)))
