"""agents.variants: a derived checkpoint keeps the weights and changes only acting settings."""

import json

import pytest
import torch

from agents.core.cem import CEMConfig
from agents.loading import load_policy
from agents.qtopt.learner import PoseQTOpt, PoseQTOptConfig
from agents.qtopt.network import PoseNetworkConfig
from agents.variants import derive_policy, parse_override
from common.protocols import PolicyCard
from envs.grasp_env import make_world_config


def tiny_checkpoint(folder) -> None:
    config = PoseQTOptConfig(network=PoseNetworkConfig(channels=(4, 4, 4, 4), hidden=8),
                             cem=CEMConfig(iterations=1, population=8, elites=2))
    PoseQTOpt(False, make_world_config(1, 16, None), config).save(folder)
    PolicyCard(algo="qtopt-pose", reward="indiscriminate", world={"num_objects": 1, "image_size": 16}).save(folder)


def test_a_derived_policy_has_the_same_weights_and_the_new_acting_settings(tmp_path):
    tiny_checkpoint(tmp_path / "src")
    out = derive_policy(tmp_path / "src", tmp_path / "robust", {"robust_translation": 0.01, "cem": {"iterations": 2}})
    source, _ = load_policy(tmp_path / "src")
    derived, card = load_policy(out)
    assert derived.config.robust_translation == 0.01 and derived.config.cem.iterations == 2
    assert derived.config.cem.population == 8 and card.algo == "qtopt-pose"
    for name, value in source.q.state_dict().items():
        assert torch.equal(value, derived.q.state_dict()[name])
    assert json.loads((out / "derivation.json").read_text())["overrides"]["robust_translation"] == 0.01
    hover = derive_policy(tmp_path / "src", tmp_path / "hover", {"approach": {"hover": 0.1}})
    policy, _ = load_policy(hover)
    assert policy.config.approach.hover == 0.1 and policy.policy.follower.approach.hover == 0.1
    assert policy.config.approach.max_align_steps == 7  # the other fields keep their defaults


def test_training_settings_and_bad_values_are_refused(tmp_path):
    tiny_checkpoint(tmp_path / "src")
    with pytest.raises(ValueError, match="not acting settings"):
        derive_policy(tmp_path / "src", tmp_path / "a", {"learning_rate": 0.1})
    with pytest.raises(ValueError, match="robust_translation"):
        derive_policy(tmp_path / "src", tmp_path / "b", {"robust_translation": -1})
    assert not (tmp_path / "b").exists()
    with pytest.raises(ValueError, match="need view 'patch'"):  # a scene-view network has no patches to turn
        derive_policy(tmp_path / "src", tmp_path / "c", {"symmetric_scoring": True})
    with pytest.raises(ValueError, match="not acting settings"):
        derive_policy(tmp_path / "src", tmp_path / "d", {"augment_symmetries": True})
    with pytest.raises(ValueError, match="unknown approach settings"):
        derive_policy(tmp_path / "src", tmp_path / "e", {"approach": {"height": 0.1}})
    with pytest.raises(ValueError, match="must be JSON"):
        parse_override("robust_yaw=wide")
    assert parse_override('cem={"iterations": 4}') == ("cem", {"iterations": 4})
