"""runs.collect_candidates: a folder that is not a product ends with an error naming it, before any bin is run."""

from __future__ import annotations

import pytest

from runs.collect_candidates import main


def test_refuses_a_policy_that_is_not_a_product(tmp_path) -> None:
    with pytest.raises(SystemExit, match="holds a qtopt-pose policy"):
        main(["--product", "checkpoints/policies/qtopt-patch-indiscriminate/checkpoint", "--bins", "1",
              "--out", str(tmp_path / "out"), "--no-progress"])
    assert not (tmp_path / "out").exists()
