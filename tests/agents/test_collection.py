"""Collecting with a trained policy's checkpoint folder, and the checks on policy specs."""

from __future__ import annotations

import json

import pytest

from agents.collection import policy_factory
from agents.core.cem import CEMConfig
from agents.qtopt.learner import PoseQTOpt, PoseQTOptConfig
from agents.qtopt.network import PoseNetworkConfig
from common.protocols import PolicyCard
from embedding.dataset import EpisodeDataset
from envs.grasp_env import make_world_config
from graspdata.collect import collect
from graspdata.config import CollectConfig

POLICY_SIZE = 16


def save_checkpoint(folder, env_id: str = "KukaGrasp-v0") -> None:
    config = PoseQTOptConfig(network=PoseNetworkConfig(channels=(4, 4, 4, 4), hidden=8), batch_size=4,
                             cem=CEMConfig(iterations=1, population=8, elites=2))
    PoseQTOpt(False, make_world_config(1, POLICY_SIZE, None), config).save(folder)
    PolicyCard(algo="qtopt-pose", reward="indiscriminate", env_id=env_id,
               world={"num_objects": 1, "image_size": POLICY_SIZE}).save(folder)


def test_collect_with_a_checkpoint_trained_at_another_resolution(tmp_path):
    save_checkpoint(tmp_path / "policy")
    config = CollectConfig(grasps=2, shard_size=2, workers=1, image_size=32, num_objects=2, max_steps=4,
                           policy=str(tmp_path / "policy"))
    result = collect(config, tmp_path / "data", show_progress=False, report=lambda _: None,
                     make_policy=policy_factory(config.policy))
    assert result.attempts == 2
    episode = EpisodeDataset(tmp_path / "data")[0]
    assert episode["images"].shape[1:] == (32, 32, 3) and episode["actions"].shape[1] == 5


def test_policy_specs_are_checked(tmp_path):
    policy_factory("random")
    policy_factory("envs.scripted:RandomGraspPolicy")
    with pytest.raises(ValueError, match="no attribute"):
        policy_factory("envs.scripted:Missing")
    with pytest.raises(ValueError, match="cannot import module"):
        policy_factory("no_such_package.module:thing")
    with pytest.raises(ValueError, match="holds no policy.json"):
        policy_factory(str(tmp_path))
    (tmp_path / "goal").mkdir()
    (tmp_path / "goal" / "policy.json").write_text(json.dumps({"algo": "qtopt-pose", "reward": "oracle", "world": {},
                                                                  "env_id": "KukaInstanceGrasp-v0"}))
    with pytest.raises(ValueError, match="needs an indiscriminate policy"):
        policy_factory(str(tmp_path / "goal"))


def test_the_data_layer_leaves_checkpoint_folders_to_the_agents(tmp_path):
    from graspdata.policies import policy_factory as data_policy_factory

    with pytest.raises(ValueError, match="agents.collection.policy_factory"):
        data_policy_factory(str(tmp_path))


@pytest.mark.parametrize("kind", ["single", "product"])
def test_a_learned_collector_is_reseeded_for_every_episode(tmp_path, kind):
    """An episode's pose depends on its seed only, not on which episodes the worker ran before it."""
    from types import SimpleNamespace

    import numpy as np

    from agents.variants import combine_policies

    save_checkpoint(tmp_path / "a")
    save_checkpoint(tmp_path / "b")
    folder = tmp_path / "a" if kind == "single" else combine_policies(
        [(tmp_path / "a", 1.0), (tmp_path / "b", 1.0)], tmp_path / "product")
    factory = policy_factory(str(folder))
    env = SimpleNamespace(unwrapped=SimpleNamespace(config=make_world_config(1, POLICY_SIZE, None)))
    observation = {"image": np.random.default_rng(0).integers(0, 255, (POLICY_SIZE, POLICY_SIZE, 3), np.uint8)}
    first = factory(env, 5).choose(observation)
    factory(env, 6).choose(observation)
    np.testing.assert_array_equal(factory(env, 5).choose(observation), first)
