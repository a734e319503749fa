"""agents.qtopt.quality: held-out attempts scored by a pose Q-function, and the summary of those scores."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from agents.core.episode import episodes_from_dataset
from agents.core.relabel import decision_from_episode
from agents.presets import PRESETS
from agents.qtopt.learner import PoseQTOpt
from agents.qtopt.quality import ScoredAttempts, geometric_mean_logits, markdown, score_attempts, summarize
from envs.grasp_env import make_world_config


@pytest.fixture(scope="module")
def attempts(tmp_path_factory):
    from graspdata.collect import collect
    from graspdata.config import CollectConfig

    folder = tmp_path_factory.mktemp("qdata") / "seen-hm"
    collect(CollectConfig(grasps=8, shard_size=8, workers=1, image_size=32, num_objects=2, max_steps=12,
                          heightmap=True, seed=21), folder, show_progress=False)
    return folder


def _agent() -> PoseQTOpt:
    return PoseQTOpt(False, make_world_config(2, 32, None), PRESETS["pose-patch-tiny"].pose, seed=3)


def test_each_closed_attempt_is_scored_at_the_pose_where_the_gripper_closed(attempts) -> None:
    from embedding.dataset import EpisodeDataset

    agent = _agent()
    dataset = EpisodeDataset([str(attempts)])
    scores = score_attempts(agent, dataset, 32, batch_size=3)
    decisions = [d for e in episodes_from_dataset(dataset, 32) if (d := decision_from_episode(e, agent.space))]
    assert len(scores.logits) == len(decisions) == len(scores.sensed) == len(scores.lifted) > 0
    with torch.no_grad():
        expected = [agent.q_values(agent.inputs({"image": d.image[None], "heightmap": d.heightmap[None]}),
                                   torch.as_tensor(d.pose[None, None], dtype=torch.float32))[0, 0].item()
                    for d in decisions]
    np.testing.assert_allclose(scores.logits, expected, rtol=1e-5, atol=1e-5)
    assert scores.sensed.tolist() == [d.grasped for d in decisions]
    scene_view = PoseQTOpt(False, make_world_config(2, 32, None), PRESETS["pose-tiny"].pose)
    assert len(score_attempts(scene_view, dataset, 32).logits) == len(decisions)  # the scene view needs no map
    with pytest.raises(ValueError, match="goal heatmap"):
        score_attempts(PoseQTOpt(True, make_world_config(2, 32, None), PRESETS["pose-tiny"].pose), dataset, 32)


def test_an_ensemble_is_scored_by_the_geometric_mean_of_its_members_probabilities(attempts) -> None:
    from embedding.dataset import EpisodeDataset

    dataset = EpisodeDataset([str(attempts)])
    members = [_agent(), PoseQTOpt(False, make_world_config(2, 32, None), PRESETS["pose-patch-tiny"].pose, seed=4)]
    each = [score_attempts(member, dataset, 32).logits for member in members]
    together = score_attempts(members, dataset, 32, batch_size=5)
    probability = np.sqrt(1 / (1 + np.exp(-each[0])) / (1 + np.exp(-each[1])))
    np.testing.assert_allclose(1 / (1 + np.exp(-together.logits)), probability, rtol=1e-4)
    np.testing.assert_allclose(score_attempts(members[:1], dataset, 32).logits, each[0])  # one member: its logits
    logits = torch.tensor([[2.0, -1.0, 30.0], [2.0, -1.0, 30.0]])
    torch.testing.assert_close(geometric_mean_logits(logits), logits[0], atol=1e-4, rtol=1e-4)  # equal members
    other = PoseQTOpt(False, make_world_config(2, 32, None), PRESETS["pose-patch-tiny"].pose)
    other.world = dataclasses.replace(other.world, camera=dataclasses.replace(other.world.camera, scene_fov=50.0))
    with pytest.raises(ValueError, match="different bin layouts or cameras"):
        score_attempts([members[0], other], dataset, 32)


def test_the_summary_reads_the_ranking_against_both_labels() -> None:
    logits = np.array([3.0, 2.0, 1.0, 0.0, -1.0, -2.0, -3.0, -4.0])
    sensed = np.array([1, 1, 0, 1, 0, 0, 1, 0], bool)
    lifted = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    summary = summarize(ScoredAttempts(logits, sensed, lifted), top_share=0.25, bins=4)
    assert summary["auc_lifted"] == 1.0  # every lifted attempt outranks every other
    assert summary["auc_sensed"] == pytest.approx(12 / 16)  # 12 of the 16 (sensed, not sensed) pairs in order
    assert summary["top_lifted_rate"] == 1.0 and summary["lifted_rate"] == 0.5
    assert sum(row["attempts"] for row in summary["reliability"]) == 8
    top_bin = summary["reliability"][-1]  # sigmoid(3) and sigmoid(2) lie in [0.75, 1], sigmoid(1) = 0.73 below
    assert top_bin["attempts"] == 2 and top_bin["sensed"] == 1.0
    assert "| 8 | 50.0 % | 1.000 | 0.750 |" in markdown(summary, "q")
    assert summarize(ScoredAttempts(logits, np.ones(8, bool), lifted))["auc_sensed"] is None
    with pytest.raises(ValueError, match="two scored attempts"):
        summarize(ScoredAttempts(logits[:1], sensed[:1], lifted[:1]))


def test_the_command_writes_json_markdown_and_plot(attempts, tmp_path) -> None:
    from runs.eval_qfunction import main

    _agent().save(tmp_path / "prior")
    report = main(["--checkpoint", str(tmp_path / "prior"), "--data", str(attempts), "--json",
                   str(tmp_path / "q.json")])
    assert report["attempts"] > 0 and report["command"].startswith("python -m runs.eval_qfunction")
    assert json.loads((tmp_path / "q.json").read_text())["attempts"] == report["attempts"]
    assert (tmp_path / "q.md").is_file() and (tmp_path / "q.png").stat().st_size > 0
    PoseQTOpt(False, make_world_config(2, 32, None), PRESETS["pose-patch-tiny"].pose, seed=4).save(tmp_path / "prior2")
    both = main(["--checkpoint", str(tmp_path / "prior"), str(tmp_path / "prior2"), "--data", str(attempts), "--json",
                 str(tmp_path / "both.json")])
    assert both["checkpoint"] == [str(tmp_path / "prior"), str(tmp_path / "prior2")]
    assert "| prior × prior2 |" in (tmp_path / "both.md").read_text()
    with pytest.raises(SystemExit, match="eval_qfunction: error"):
        main(["--checkpoint", str(tmp_path / "missing"), "--data", str(attempts), "--json", str(tmp_path / "x.json")])
