"""runs.fit_ranker: a folder that is not a product, or data that is not a collection, ends with an error naming it."""

from __future__ import annotations

import pytest

from runs.fit_ranker import main

PRIOR = "checkpoints/policies/qtopt-patch-indiscriminate/checkpoint"
PRODUCT = "checkpoints/policies/qtopt-grasp2vec-product/checkpoint"


def test_refuses_a_policy_that_is_not_a_product_and_data_that_is_not_a_collection(tmp_path) -> None:
    with pytest.raises(SystemExit, match="holds a qtopt-pose policy; a ranker ranks a product's candidates"):
        main(["--product", PRIOR, "--data", str(tmp_path), "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit, match="holds no candidates.json"):
        main(["--product", PRODUCT, "--data", str(tmp_path), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_a_reward_argument_without_a_reward_is_an_error(tmp_path) -> None:
    with pytest.raises(SystemExit, match="need a reward name"):
        main(["--product", PRODUCT, "--data", str(tmp_path), "--reward-arg", "thresholded=true",
              "--out", str(tmp_path / "out")])
