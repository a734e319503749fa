import json

import numpy as np
import pytest

from rewards import GraspContext, RewardError, make_reward
from rewards.autoencoder import AutoencoderReward
from rewards.calibration import RewardCalibration, calibration_path
from rewards.grasp2vec import Grasp2VecReward
from tests.rewards.conftest import SIZE, scene

REWARDS = {"grasp2vec": Grasp2VecReward, "autoencoder": AutoencoderReward}


@pytest.fixture(params=sorted(REWARDS))
def built(request, grasp2vec_checkpoint, autoencoder_checkpoint):
    """(name, checkpoint) of each learned reward."""
    checkpoint = {"grasp2vec": grasp2vec_checkpoint, "autoencoder": autoencoder_checkpoint}[request.param]
    return request.param, checkpoint


def cases() -> list[GraspContext]:
    """same object, same object, other object, other object, empty gripper (lifted/target left out on purpose)."""
    return [
        GraspContext(scene("red", 1), scene("red", 2)),
        GraspContext(scene("blue", 3), scene("blue", 4)),
        GraspContext(scene("red", 5), scene("green", 6)),
        GraspContext(scene("green", 7), scene("blue", 8)),
        GraspContext(scene("red", 9), scene(None, 10)),
    ]


def test_constructed_cases_continuous(built):
    name, checkpoint = built
    reward = make_reward(name, checkpoint=str(checkpoint))
    scores = reward.batch(cases())
    assert min(scores[:2]) >= reward.threshold > max(scores[2:4])
    assert scores[4] == 0.0  # nothing lifted, judged from the image alone


def test_constructed_cases_thresholded(built):
    name, checkpoint = built
    reward = make_reward(name, checkpoint=checkpoint, thresholded=True)
    assert reward.batch(cases()).tolist() == [1.0, 1.0, 0.0, 0.0, 0.0]


def test_threshold_override_is_applied_as_documented(built):
    name, checkpoint = built
    continuous = make_reward(name, checkpoint=checkpoint).batch(cases())
    cut = float(np.sort(continuous[:4])[1])  # between the 2nd and 3rd lowest
    thresholded = make_reward(name, checkpoint=checkpoint, thresholded=True, threshold=cut).batch(cases())
    assert thresholded.tolist() == [float(s >= cut) for s in continuous[:4]] + [0.0]


def test_batched_equals_unbatched(built):
    name, checkpoint = built
    reward = make_reward(name, checkpoint=checkpoint, batch_size=2)
    contexts = cases() * 3
    np.testing.assert_allclose(reward.batch(contexts), [reward(c) for c in contexts], atol=1e-5)
    assert reward.batch([]).shape == (0,)


def test_ground_truth_is_ignored(built):
    name, checkpoint = built
    reward = make_reward(name, checkpoint=checkpoint)
    context = cases()[2]
    lying = GraspContext(context.goal_image, context.outcome_image, lifted=("red",), target="red")
    assert reward(lying) == reward(context)


def test_without_presence_gate_empty_gripper_is_scored(built):
    name, checkpoint = built
    reward = make_reward(name, checkpoint=checkpoint, presence=False)
    assert reward(cases()[4]) != 0.0


def test_goal_embeddings_are_cached_and_can_be_given(built):
    name, checkpoint = built
    reward = make_reward(name, checkpoint=checkpoint)
    calls = []
    encoder = reward.encoder
    reward.encoder = lambda images: calls.append(len(images)) or encoder(images)
    if hasattr(reward, "_outcome_maps"):  # grasp2vec reads outcomes as φ_o's maps (one pass for all its readouts)
        maps = reward._outcome_maps
        reward._outcome_maps = lambda images: calls.append(len(images)) or maps(images)
    goal = scene("red", 1)
    contexts = [GraspContext(goal, scene("red", 20 + i)) for i in range(4)]
    first = reward.batch(contexts)
    reward.batch(contexts)
    assert sorted(calls) == [1, 4, 4]  # the goal once, the outcomes each time
    calls.clear()
    outcome = scene("blue", 30)
    many_goals = [GraspContext(scene(c, 31 + i), outcome) for i, c in enumerate(["red", "blue", "green"])]
    reward.batch(many_goals)
    assert sorted(calls) == [1, 1, 1, 1]  # three new goals, and the shared outcome once
    given = [GraspContext(None, c.outcome_image, goal_embedding=reward.embed(goal[None])[0] * 3) for c in contexts]
    np.testing.assert_allclose(reward.batch(given), first, atol=1e-5)


def test_model_is_loaded_once_per_process(built):
    from rewards import autoencoder, grasp2vec

    name, checkpoint = built
    cache = {"grasp2vec": grasp2vec._cached_encoder, "autoencoder": autoencoder._cached_autoencoder}[name]
    make_reward(name, checkpoint=checkpoint)
    misses = cache.cache_info().misses
    make_reward(name, checkpoint=checkpoint)
    assert cache.cache_info().misses == misses


@pytest.mark.parametrize(("precision", "tolerance"), [("float32", 1e-5), ("bfloat16", 2e-2)])
def test_grasp2vec_fast_encoder_matches_the_model(grasp2vec_checkpoint, precision, tolerance):
    from embedding.checkpoint import load_checkpoint
    from rewards.similarity import normalize

    images = np.stack([scene(c, 40 + i) for i, c in enumerate(["red", "blue", None])])
    reward = make_reward("grasp2vec", checkpoint=grasp2vec_checkpoint, precision=precision)
    expected = normalize(load_checkpoint(grasp2vec_checkpoint).embed_outcomes(images).detach().numpy())
    np.testing.assert_allclose(reward.embed(images), expected, atol=tolerance)
    assert reward.batch(cases()).tolist() == pytest.approx(make_reward("grasp2vec", checkpoint=grasp2vec_checkpoint)
                                                           .batch(cases()).tolist(), abs=tolerance)
    with pytest.raises(RewardError, match="precision must be one of"):
        make_reward("grasp2vec", checkpoint=grasp2vec_checkpoint, precision="float16")


def test_bad_inputs_give_clear_errors(built, tmp_path):
    name, checkpoint = built
    reward = make_reward(name, checkpoint=checkpoint)
    with pytest.raises(RewardError, match=f"expects uint8 images of shape \\({SIZE}, {SIZE}, 3\\)"):
        reward(GraspContext(scene("red", 1), np.zeros((48, 48, 3), np.uint8)))
    with pytest.raises(RewardError, match="expects uint8 images"):
        reward.batch([GraspContext(scene("red", 1), scene("red", 2)),
                      GraspContext(scene("red", 1), np.zeros((SIZE, SIZE, 3), np.float32))])
    with pytest.raises(RewardError, match="goal_embedding must have shape"):
        reward(GraspContext(None, scene("red", 1), goal_embedding=np.ones(3)))
    with pytest.raises(RewardError, match="needs a goal"):
        reward(GraspContext(None, scene("red", 1)))
    with pytest.raises(RewardError, match="trained on 32 px images, not 64 px"):
        make_reward(name, checkpoint=checkpoint, image_size=64)
    with pytest.raises(RewardError, match="does not exist"):
        make_reward(name, checkpoint=tmp_path / "missing")
    with pytest.raises(RewardError, match="no calibration"):
        make_reward(name, checkpoint=checkpoint, calibration=tmp_path / "none.json")
    with pytest.raises(RewardError, match="no calibration"):  # thresholded without a threshold
        make_reward(name, checkpoint=checkpoint, presence=False, thresholded=True, calibration=tmp_path / "none.json")


def test_stale_or_foreign_calibration_is_refused(built, tmp_path):
    name, checkpoint = built
    data = json.loads(calibration_path(checkpoint).read_text())
    stale = tmp_path / "stale.json"
    RewardCalibration(**{**data, "fingerprint": "0" * 64}).save(stale)
    with pytest.raises(RewardError, match="fitted on other checkpoint weights"):
        make_reward(name, checkpoint=checkpoint, calibration=stale)
    foreign = tmp_path / "foreign.json"
    RewardCalibration(**{**data, "reward": "other"}).save(foreign)
    with pytest.raises(RewardError, match="belongs to reward 'other'"):
        make_reward(name, checkpoint=checkpoint, calibration=foreign)


def test_checkpoint_of_the_wrong_kind_is_refused(grasp2vec_checkpoint, autoencoder_checkpoint):
    with pytest.raises(RewardError, match="does not load|not a Grasp2Vec"):
        make_reward("grasp2vec", checkpoint=autoencoder_checkpoint, presence=False)
    with pytest.raises(RewardError, match="not an autoencoder checkpoint|not a ConvAutoencoder"):
        make_reward("autoencoder", checkpoint=grasp2vec_checkpoint, presence=False)


def test_a_recall_target_calibrates_a_stricter_threshold_than_youden(grasp2vec_checkpoint):
    from rewards.calibrate import calibrate
    from tests.rewards.conftest import COLOURS

    reward = Grasp2VecReward(grasp2vec_checkpoint, presence=False)
    objects = [c for c in COLOURS for _ in range(6)]
    held = np.stack([scene(c, 900 + i) for i, c in enumerate(objects)])
    youden = calibrate(reward, held, objects, seed=0)
    strict = calibrate(reward, held, objects, seed=0, recall=0.9)
    assert strict.provenance["rule"] == "recall 0.9" and youden.provenance["rule"] == "youden"
    assert strict.threshold >= youden.threshold
    assert strict.provenance["fit_recall"] >= 0.9
