"""Collecting with a trained policy's checkpoint folder, and the checks on policy specs."""

from __future__ import annotations

import json

import pytest

from agents.qtopt import QTOpt
from embedding.dataset import EpisodeDataset
from envs.grasp_env import KukaGraspEnv
from graspdata.collect import collect
from graspdata.config import CollectConfig
from graspdata.policies import check_policy_spec

POLICY_SIZE = 16


def save_checkpoint(folder, env_id: str = "KukaGrasp-v0") -> None:
    env = KukaGraspEnv(num_objects=1, image_size=POLICY_SIZE)
    QTOpt(env.observation_space, seed=0).save(folder)
    env.close()
    card = {"algo": "qtopt", "reward": "indiscriminate", "goal_features": "none", "env_id": env_id,
            "world": {"image_size": POLICY_SIZE}}
    (folder / "policy.json").write_text(json.dumps(card))


def test_collect_with_a_checkpoint_trained_at_another_resolution(tmp_path):
    save_checkpoint(tmp_path / "policy")
    config = CollectConfig(grasps=2, shard_size=2, workers=1, image_size=32, num_objects=2, max_steps=4,
                           policy=str(tmp_path / "policy"))
    result = collect(config, tmp_path / "data", show_progress=False, report=lambda _: None)
    assert result.attempts == 2
    episode = EpisodeDataset(tmp_path / "data")[0]
    assert episode["images"].shape[1:] == (32, 32, 3) and episode["actions"].shape[1] == 5


def test_policy_specs_are_checked(tmp_path):
    check_policy_spec("random")
    check_policy_spec("agents.scripted:RandomGraspPolicy")
    with pytest.raises(ValueError, match="no attribute"):
        check_policy_spec("agents.scripted:Missing")
    with pytest.raises(ValueError, match="cannot import module"):
        check_policy_spec("no_such_package.module:thing")
    with pytest.raises(ValueError, match="holds no policy.json"):
        check_policy_spec(str(tmp_path))
    (tmp_path / "goal").mkdir()
    (tmp_path / "goal" / "policy.json").write_text(json.dumps({"env_id": "KukaInstanceGrasp-v0"}))
    with pytest.raises(ValueError, match="needs an indiscriminate policy"):
        check_policy_spec(str(tmp_path / "goal"))
