import json

import numpy as np
import pytest

from rewards import GraspContext, RewardError, make_reward
from rewards.presence import (
    PresenceConfig,
    TrainPresenceConfig,
    attempt_outcomes,
    augment,
    empty_gripper_images,
    fit_presence,
    load_presence,
    presence_path,
)
from tests.rewards.conftest import COLOURS, PRESENCE_TRAINING, SIZE, one_thread, presence_classifier, scene


def test_empty_gripper_images_are_deterministic_wrist_images():
    first = empty_gripper_images(2, num_objects=1, image_size=32, seed=4)
    assert first.shape == (2, 32, 32, 3) and first.dtype == np.uint8
    assert np.array_equal(first, empty_gripper_images(2, num_objects=1, image_size=32, seed=4))
    with pytest.raises(ValueError, match="count must be positive"):
        empty_gripper_images(0)


def test_classifier_learns_held_from_empty_in_a_few_steps():
    classifier = presence_classifier()
    held = np.stack([scene(c, 700 + i) for i, c in enumerate(list(COLOURS) * 3)])
    empty = np.stack([scene(None, 800 + i) for i in range(9)])
    assert classifier.holds_object(held).all() and not classifier.holds_object(empty).any()
    provenance = classifier.provenance
    assert provenance["val_held"] == 6 and provenance["val_empty"] == 3 and provenance["accuracy_val_held"] == 1.0
    assert 0.0 < classifier.threshold < 1.0 and provenance["parameters"] < 50_000


def test_training_is_deterministic():
    held = np.stack([scene(c, 100 + i) for i, c in enumerate(COLOURS)])
    empty = np.stack([scene(None, 200 + i) for i in range(3)])
    config = TrainPresenceConfig(steps=3, batch_size=4)
    with one_thread():
        first, second = fit_presence(held, empty, config), fit_presence(held, empty, config)
    np.testing.assert_array_equal(first.probability(held), second.probability(held))
    assert first.threshold == second.threshold
    with pytest.raises(RewardError, match="both with and without"):
        fit_presence(held, empty[:0], config)


def test_augment_shifts_and_flips_but_keeps_shape():
    images = np.arange(2 * 3 * 8 * 8, dtype=np.float32).reshape(2, 3, 8, 8)
    import torch

    out = augment(torch.from_numpy(images), np.random.default_rng(0), max_shift=2, flip=True)
    assert out.shape == images.shape
    assert torch.equal(augment(torch.from_numpy(images), np.random.default_rng(0), 0, False), torch.from_numpy(images))


def test_save_load_round_trip(tmp_path):
    classifier = presence_classifier()
    classifier.save(tmp_path / "presence")
    loaded = load_presence(tmp_path / "presence", image_size=SIZE)
    images = np.stack([scene("red", 1), scene(None, 2)])
    np.testing.assert_array_equal(loaded.probability(images), classifier.probability(images))
    assert loaded.threshold == classifier.threshold and loaded.train_config == PRESENCE_TRAINING
    assert loaded.provenance == json.loads(json.dumps(classifier.provenance))


def test_missing_or_mismatched_files_are_refused(tmp_path):
    with pytest.raises(RewardError, match="no presence classifier"):
        load_presence(tmp_path / "none")
    presence_classifier().save(tmp_path / "p")
    with pytest.raises(RewardError, match="trained on 32 px images, not 64 px"):
        load_presence(tmp_path / "p", image_size=64)
    config = json.loads((tmp_path / "p.json").read_text())
    (tmp_path / "p.json").write_text(json.dumps({**config, "config": {"image_size": 32, "channels": [4, 4, 4, 4]}}))
    with pytest.raises(RewardError, match="does not load"):
        load_presence(tmp_path / "p")
    (tmp_path / "p.json").write_text(json.dumps({**config, "kind": "autoencoder"}))
    with pytest.raises(RewardError, match="not a presence classifier"):
        load_presence(tmp_path / "p")
    with pytest.raises(ValueError, match="divisible"):
        PresenceConfig(image_size=36)


def test_presence_path_sits_beside_the_checkpoint(tmp_path):
    assert presence_path(tmp_path) == tmp_path / "presence"
    assert presence_path(tmp_path / "model.safetensors") == tmp_path / "model.presence"


def test_gate_zeroes_empty_and_keeps_held_batched_as_unbatched(grasp2vec_checkpoint, tmp_path):
    reward = make_reward("grasp2vec", checkpoint=grasp2vec_checkpoint, batch_size=2)
    contexts = [GraspContext(scene("red", 1), scene("red", 2)), GraspContext(scene("red", 1), scene(None, 3)),
                GraspContext(scene("blue", 4), scene("blue", 5))] * 2
    scores = reward.batch(contexts)
    assert scores[1] == 0.0 and scores[0] > 0.0 and scores[2] > 0.0
    # RewardFunction: batch(contexts)[i] == self(contexts[i]) up to float rounding (batched matmuls may
    # round differently from single ones on some CPUs' kernels)
    np.testing.assert_allclose(scores, [reward(c) for c in contexts], rtol=1e-6, atol=0)
    assert make_reward("grasp2vec", checkpoint=grasp2vec_checkpoint, presence=False)(contexts[1]) != 0.0
    with pytest.raises(RewardError, match="no presence classifier"):
        make_reward("grasp2vec", checkpoint=grasp2vec_checkpoint, presence_classifier=tmp_path / "none")


def test_attempt_outcomes_reads_every_attempt_with_its_sensed_bit(tmp_path):
    """Presence labels are the sensed grasp bit (was: the success bit; the helper sets both alike)."""
    from dataclasses import replace

    from common.io import atomic_write_bytes
    from graspdata.card import DatasetCard, shard_entry
    from graspdata.layout import encode_shard, shard_name
    from tests.graspdata.helpers import make_record, write_dataset

    write_dataset(tmp_path / "a", [(0, 4), (4, 6)])
    images, sensed = attempt_outcomes([tmp_path / "a"])
    assert images.shape == (6, 16, 16, 3) and images.dtype == np.uint8
    assert sensed.tolist() == [i % 3 != 0 for i in range(6)]  # the helper fails every third attempt
    (tmp_path / "b").mkdir()
    card = DatasetCard.load(tmp_path / "a")
    path = tmp_path / "b" / shard_name(0, 2)
    atomic_write_bytes(path, encode_shard([replace(make_record(0, True), grasp_sensed=False),
                                           replace(make_record(1, False), grasp_sensed=True)], "sim"))
    card.shards = [shard_entry(path)]
    card.save(tmp_path / "b")
    assert attempt_outcomes([tmp_path / "b"])[1].tolist() == [False, True]  # not the success bit
    assert images[:, 0, 0, 0].tolist() == [i + 2 for i in range(6)]  # outcome images encode the index
