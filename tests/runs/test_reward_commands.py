"""The reward commands end to end on tiny synthetic data (32 px coloured blocks, see tests/rewards/conftest.py)."""

import json
import shutil
import sys
import types

import numpy as np
import pytest

from common.protocols import RewardError
from rewards import GraspContext, make_reward
from rewards import calibrate as rewards_calibrate
from rewards.calibration import RewardCalibration, calibration_path
from rewards.presence import load_presence, presence_path
from runs import bench_reward, calibrate_reward, eval_reward, train_autoencoder
from tests.rewards.conftest import COLOURS, make_grasp2vec_checkpoint, scene

OBJECTS = [c for c in COLOURS for _ in range(4)]


@pytest.fixture(scope="module")
def grasp2vec_checkpoint(tmp_path_factory):
    return make_grasp2vec_checkpoint(tmp_path_factory)


HELD_APERTURE, EMPTY_APERTURE = 0.08, 0.04  # metres: fingers stopped by a block / closed on nothing


def labelled(root, split="all", seed=0, limit=None, val_fraction=0.1):
    return (np.stack([scene(c, 300 + i) for i, c in enumerate(OBJECTS)]), list(OBJECTS),
            np.full(len(OBJECTS), HELD_APERTURE))


def attempts(roots, failures=3):
    """Six sensed attempts (a block held) and ``failures`` empty ones, with their sensed grasp bits."""
    held = [scene(c, 320 + i) for i, c in enumerate(list(COLOURS) * 2)]
    empty = [scene(None, 600 + i) for i in range(failures)]
    return np.stack(held + empty), np.array([True] * len(held) + [False] * failures)


def apertures(roots, failures=3):
    """The measured apertures of the same attempts."""
    return np.array([HELD_APERTURE + 0.001 * i for i in range(6)] + [EMPTY_APERTURE] * failures)


@pytest.fixture
def synthetic_data(monkeypatch):
    monkeypatch.setattr(eval_reward, "load_labelled_outcomes", labelled)
    monkeypatch.setattr(eval_reward, "failed_outcomes",
                        lambda root, limit: (np.stack([scene(None, 400 + i) for i in range(5)]),
                                             np.full(5, EMPTY_APERTURE)))
    monkeypatch.setattr(eval_reward, "multi_object_outcomes",  # two blocks held together, as one image
                        lambda root, limit: (np.stack([scene("red", 500), scene("blue", 501)]),
                                             [("red", "blue"), ("blue", "elsewhere")],
                                             np.full(2, HELD_APERTURE)))


@pytest.mark.parametrize(("reward", "auc"), [("oracle", 1.0), ("indiscriminate", 0.5)])
def test_eval_reward_ground_truth_rows(tmp_path, synthetic_data, reward, auc, capsys):
    out = tmp_path / f"{reward}.json"
    report = eval_reward.main(["--reward", reward, "--objects", "seen", "unseen", "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    assert out.with_suffix(".png").stat().st_size > 0
    for name in ("seen", "unseen"):
        result = report["sets"][name]
        assert result["roc_auc"] == auc
        assert result["positives"] == result["negatives"] == len(OBJECTS)
        assert result["recall"] == 1.0
        assert result["failed_attempts"]["rewarded_fraction"] == 0.0
        assert result["with_another"]["count"] == 2
        assert result["with_another"]["rewarded_fraction"] == {"oracle": 0.0, "indiscriminate": 1.0}[reward]
    assert report["threshold"] == 0.5 and report["threshold_source"] == "reward"
    eval_reward.main(["--table", str(out)])
    assert f"| {reward} | unseen | {auc:.3f} | — | — | 0.500 |" in capsys.readouterr().out


def test_eval_reward_grasp2vec_uses_its_calibrated_threshold(tmp_path, synthetic_data, grasp2vec_checkpoint):
    out = tmp_path / "g2v.json"
    report = eval_reward.main(["--reward", "grasp2vec", "--reward-arg", f"checkpoint={grasp2vec_checkpoint}",
                               "--objects", "seen", "--json", str(out)])
    calibrated = RewardCalibration.load(calibration_path(grasp2vec_checkpoint)).threshold
    assert report["threshold"] == pytest.approx(calibrated)
    seen = report["sets"]["seen"]
    assert seen["roc_auc"] == 1.0 and seen["precision"] == 1.0 and seen["recall"] == 1.0
    assert seen["similarity_roc_auc"] == 1.0 and seen["presence_kept_fraction"] == 1.0
    assert seen["failed_attempts"]["nonzero_fraction"] == 0.0


def test_eval_reward_data_override(tmp_path, synthetic_data):
    report = eval_reward.main(["--reward", "oracle", "--data", "unseen=elsewhere/u", "--data-root", "root",
                               "--json", str(tmp_path / "o.json")])
    assert report["sets"]["seen"]["data"] == "root/seen-heldout"
    assert report["sets"]["unseen"]["data"] == "elsewhere/u"
    with pytest.raises(SystemExit):
        eval_reward.main(["--reward", "oracle", "--data", "seen", "--json", str(tmp_path / "o.json")])


def test_eval_reward_needs_positive_pairs(tmp_path, monkeypatch):
    monkeypatch.setattr(eval_reward, "load_labelled_outcomes",
                        lambda *a, **k: (np.stack([scene("red", 1), scene("blue", 2)]), ["red", "blue"],
                                         np.full(2, HELD_APERTURE)))
    monkeypatch.setattr(eval_reward, "failed_outcomes", lambda root, limit: None)
    monkeypatch.setattr(eval_reward, "multi_object_outcomes", lambda root, limit: None)
    with pytest.raises(ValueError, match="no positive or no negative pair"):
        eval_reward.main(["--reward", "oracle", "--objects", "seen", "--json", str(tmp_path / "x.json")])


def test_calibrate_reward_writes_calibration_beside_checkpoint(tmp_path, monkeypatch, grasp2vec_checkpoint,
                                                              synthetic_data):
    checkpoint = tmp_path / "g2v"
    shutil.copytree(grasp2vec_checkpoint, checkpoint)
    calibration_path(checkpoint).unlink()
    presence_path(checkpoint).with_suffix(".safetensors").unlink()
    monkeypatch.setattr(rewards_calibrate, "load_labelled_outcomes", labelled)
    monkeypatch.setattr(rewards_calibrate, "empty_gripper_images",
                        lambda count, *a: np.stack([scene(None, 500 + i) for i in range(count)]))
    monkeypatch.setattr(rewards_calibrate, "attempt_outcomes", attempts)
    monkeypatch.setattr(rewards_calibrate, "attempt_apertures", apertures)
    calibrate_reward.main(["--reward", "grasp2vec", "--reward-arg", f"checkpoint={checkpoint}", "--empty", "8",
                           "--presence-steps", "30"])
    calibration = RewardCalibration.load(calibration_path(checkpoint))
    assert calibration.reward == "grasp2vec"
    assert calibration.provenance["youden_j"] == 1.0
    assert calibration.provenance["command"].startswith("python -m runs.calibrate_reward")
    classifier = load_presence(presence_path(checkpoint))
    provenance = classifier.provenance
    assert provenance["held_images"] == 6 and provenance["empty_images"] == 8 + 3  # mid-air and failed attempts
    assert provenance["data"] == ["runs/out/rewards-data/seen-calibration"] and provenance["failed_attempts_used"] == 3
    assert classifier.train_config.steps == 30 and provenance["command"].startswith("python -m runs.calibrate_reward")
    reward = make_reward("grasp2vec", checkpoint=checkpoint)
    assert reward(GraspContext(scene("red", 1), scene(None, 2))) == 0.0
    assert EMPTY_APERTURE < calibration.aperture_threshold <= HELD_APERTURE
    # Label-free: the measured closed aperture + margin keeps every held attempt and no empty one.
    assert calibration.provenance["aperture"]["above_fraction"] == 6 / 9
    assert calibration.provenance["aperture"]["labels"].startswith("none")
    gripper = make_reward("grasp2vec", checkpoint=checkpoint, presence="gripper")
    held = GraspContext(scene("red", 1), scene("red", 3), gripper_aperture=HELD_APERTURE)
    assert gripper(held) > 0.5
    assert gripper(GraspContext(scene("red", 1), scene("red", 3), gripper_aperture=EMPTY_APERTURE)) == 0.0
    with pytest.raises(RewardError, match="gripper_aperture"):
        gripper(GraspContext(scene("red", 1), scene("red", 3)))
    report = eval_reward.main(["--reward", "grasp2vec", "--reward-arg", f"checkpoint={checkpoint}", "--reward-arg",
                               "presence=gripper", "--objects", "seen", "--json", str(tmp_path / "gripper.json")])
    seen = report["sets"]["seen"]
    assert seen["gate"] == "gripper" and seen["gate_kept_fraction"] == seen["aperture_kept_fraction"] == 1.0
    assert seen["roc_auc"] == 1.0 and seen["failed_attempts"]["nonzero_fraction"] == 0.0


def test_calibrate_reward_failures_need_recorded_failures(monkeypatch, grasp2vec_checkpoint, tmp_path):
    monkeypatch.setattr(rewards_calibrate, "load_labelled_outcomes", labelled)
    monkeypatch.setattr(rewards_calibrate, "attempt_outcomes", lambda roots: attempts(roots, failures=0))
    monkeypatch.setattr(rewards_calibrate, "attempt_apertures", lambda roots: apertures(roots, failures=0))
    with pytest.raises(RewardError, match="needs failed attempts recorded"):
        calibrate_reward.main(["--reward", "grasp2vec", "--reward-arg", f"checkpoint={grasp2vec_checkpoint}",
                               "--negatives", "failures", "--out", str(tmp_path / "c.json")])


def test_calibrate_reward_refuses_ground_truth_rewards():
    with pytest.raises(RewardError, match="does not accept \\['presence'\\]"):
        calibrate_reward.main(["--reward", "oracle"])


def test_bench_reward_untrained(tmp_path):
    out = tmp_path / "bench.json"
    report = bench_reward.main(["--untrained", "--images", "48", "--goals", "4", "--call-size", "16",
                                "--image-size", "32", "--repeats", "2", "--threads", "1", "--data",
                                str(tmp_path / "none"), "--json", str(out)])
    assert report["images"] == 48 and report["images_per_s_median"] > 0
    assert json.loads(out.read_text())["images_from"] == "random pixels"


def _fake_triplets(monkeypatch):
    module = types.ModuleType("embedding.dataset")

    class TripletDataset:
        def __init__(self, root, split="train", val_fraction=0.1, seed=0):
            self.images = [scene(c, 600 + i) for i, c in enumerate(OBJECTS)]

        def __len__(self):
            return len(self.images)

        def __getitem__(self, index):
            image = self.images[index]
            return {"pre": image, "post": image, "outcome": image}

    module.TripletDataset = TripletDataset
    monkeypatch.setitem(sys.modules, "embedding.dataset", module)


def test_train_autoencoder_resume_matches_uninterrupted(tmp_path, monkeypatch):
    _fake_triplets(monkeypatch)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    common = ["--batch-size", "4", "--latent-dim", "8", "--checkpoint-every", "2", "--threads", "1"]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train_autoencoder.main([*common, "--steps", "6", "--out", str(straight), "--run-dir", str(tmp_path / "a")])
    train_autoencoder.main([*common, "--steps", "4", "--out", str(resumed), "--run-dir", str(tmp_path / "b")])
    train_autoencoder.main([*common, "--steps", "6", "--out", str(resumed), "--run-dir", str(tmp_path / "b"),
                            "--resume"])
    from rewards.autoencoder import load_autoencoder

    card = json.loads((resumed / "config.json").read_text())
    assert card["extra"]["resumed_from"] == 4
    first, second = load_autoencoder(straight), load_autoencoder(resumed)
    for key, value in first.state_dict().items():
        np.testing.assert_allclose(value.numpy(), second.state_dict()[key].numpy(), atol=1e-6)
