"""``python -m runs.wrist_view``: coverage of the lifted object in the wrist image, per field of view."""

from __future__ import annotations

import json

import pytest

from runs.wrist_view import main


def test_reports_coverage_per_field_of_view(tmp_path) -> None:
    out = tmp_path / "view.json"
    result = main(["--objects", "seen", "--lifts", "2", "--fov", "40", "70", "--image-size", "32", "--json", str(out)])
    assert json.loads(out.read_text()) == result and result["lifts"] == 2
    wide, narrow = result["fov"]["70"], result["fov"]["40"]
    assert 0 < wide["mean_coverage"] < narrow["mean_coverage"] <= 1  # a wider view makes the object smaller
    assert 0 <= narrow["looks_empty"] <= 1


def test_rejects_no_lifts() -> None:
    with pytest.raises(SystemExit):
        main(["--lifts", "0"])
