"""agents.second_look_probe: the probe of what the wrist view before closing tells about a grasp."""

from __future__ import annotations

import numpy as np
import pytest

from agents.second_look_probe import SecondLookProbeConfig, cache_path, cached_views, run_probe
from common.stats import log_odds


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    from graspdata.collect import collect
    from graspdata.config import CollectConfig

    root = tmp_path_factory.mktemp("second-look")
    for name, seed in (("train", 31), ("heldout", 32)):
        collect(CollectConfig(grasps=24, shard_size=12, workers=1, image_size=32, num_objects=3, max_steps=12,
                              seed=seed), root / name, show_progress=False)
    return root


def _config(folders, **changes) -> SecondLookProbeConfig:
    return SecondLookProbeConfig(train=(str(folders / "train"),), heldout=(str(folders / "heldout"),), size=32,
                                 cache=str(folders / "cache"), steps=3, **changes)


def test_views_are_replayed_once_then_read_from_the_cache(folders) -> None:
    config = _config(folders)
    first = cached_views(config.train[0], 32, 1, config.cache, show_progress=False)
    assert cache_path(config.train[0], 32, config.cache).is_file()
    assert cache_path(config.train[0], 32, config.cache).name.startswith("train-")
    digests = [cache_path(folder, 32, config.cache).name.rsplit("-", 2)[1] for folder in config.train + config.heldout]
    assert digests[0] != digests[1] and all(len(d) == 12 for d in digests)  # named by the data, not the folder alone
    again = cached_views(config.train[0], 32, 1, config.cache, show_progress=False)
    np.testing.assert_array_equal(first.views, again.views)
    assert first.sensed[first.replayed].any() and not first.sensed[first.replayed].all()  # both labels occur


def test_the_probe_ranks_held_out_attempts_by_the_view_and_by_the_prior(folders) -> None:
    from agents.presets import PRESETS
    from agents.qtopt.learner import PoseQTOpt
    from envs.grasp_env import make_world_config

    prior = folders / "prior"
    PoseQTOpt(False, make_world_config(3, 32, None), PRESETS["pose-tiny"].pose, seed=1).save(prior)
    report, classifier = run_probe(_config(folders, prior=str(prior)), show_progress=False)
    heldout = report["heldout"][0]
    assert report["train"]["replayed"] > 0 and heldout["replayed"] <= heldout["attempts"]
    for score in ("view", "prior", "prior_plus_view"):
        auc = heldout[score]["auc_lifted"]
        assert auc is None or 0.0 <= auc <= 1.0
    assert 0.0 <= classifier.threshold <= 1.0
    gain = heldout["gain_auc_lifted"]
    assert gain["low"] <= gain["difference"] <= gain["high"]
    report_without, _ = run_probe(_config(folders), show_progress=False)
    assert "prior" not in report_without["heldout"][0]
    assert report_without["heldout"][0]["view"] == heldout["view"]  # same seed, same classifier
    wider, wide = run_probe(_config(folders, channels=(16, 16, 32, 32)), show_progress=False)
    assert wide.model.config.channels == (16, 16, 32, 32) and wider["classifier"]["parameters"] > \
        report["classifier"]["parameters"]


def test_bad_probe_settings_are_refused_and_log_odds_stay_finite(folders) -> None:
    with pytest.raises(ValueError, match="both training and held-out"):
        SecondLookProbeConfig(train=("a",), heldout=("a",))
    with pytest.raises(ValueError, match="multiple of 2"):
        SecondLookProbeConfig(train=("a",), heldout=("b",), size=20)
    assert SecondLookProbeConfig(train=("a",), heldout=("b",), size=24, channels=[4, 8, 8]).channels == (4, 8, 8)
    assert np.isfinite(log_odds(np.array([0.0, 0.5, 1.0]))).all()
    assert log_odds(np.array([0.5]))[0] == pytest.approx(0.0)
