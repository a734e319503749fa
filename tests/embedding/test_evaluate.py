import json

import numpy as np
import pytest
import torch

from embedding.evaluate import choose_goals, evaluate_model, format_table, save_figures
from embedding.model import Grasp2Vec, Grasp2VecConfig
from embedding.train import TrainConfig, train

TINY = Grasp2VecConfig(image_size=32, embedding_dim=16, stem_channels=8, stage_channels=(16,), stage_strides=(2,))


def test_goals_come_from_another_grasp_of_the_same_object(synthetic):
    grasps = synthetic.held_out()
    goals = choose_goals(grasps, seed=0)
    for index, (source, partner) in enumerate(zip(goals.sources, goals.partners, strict=True)):
        if source == "heldout":
            assert partner != index and grasps.objects[partner] == grasps.objects[index]
            np.testing.assert_array_equal(goals.images[index], grasps.outcome[partner])


def test_single_grasp_objects_use_the_fallback_or_have_no_goal(synthetic):
    grasps = synthetic.held_out()
    grasps.objects[0] = "lonely"
    assert choose_goals(grasps, seed=0).sources[0] == "none"
    goal = np.full((32, 32, 3), 9, np.uint8)
    choice = choose_goals(grasps, seed=0, fallback=lambda name: goal if name == "lonely" else None)
    assert choice.sources[0] == "bank"
    np.testing.assert_array_equal(choice.images[0], goal)


def test_trained_model_beats_the_random_floor_and_figures_are_written(tmp_path, synthetic):
    config = TrainConfig(steps=80, batch_size=8, lr=3e-3, warmup_steps=2, seed=3, threads=1, eval_every=1000)
    train(TINY, config, synthetic, tmp_path / "run", wandb_mode="disabled", progress=False)
    from embedding.checkpoint import load_checkpoint

    grasps = synthetic.held_out()
    goals = choose_goals(grasps, seed=0)
    trained = evaluate_model(load_checkpoint(tmp_path / "run"), grasps, goals)
    torch.manual_seed(0)
    floor = evaluate_model(Grasp2Vec(TINY).eval(), grasps, goals)
    assert trained.metrics["grasps"] == 48
    assert trained.metrics["retrieval_top1_dot"]["rate"] > floor.metrics["retrieval_top1_dot"]["rate"]
    assert trained.metrics["retrieval_top1_dot"]["rate"] > 0.5
    assert trained.metrics["localization"]["n"] == 48 - trained.metrics["grasps_without_goal"]
    paths = save_figures(grasps, trained, tmp_path / "fig")
    assert all(p.is_file() and p.suffix == ".png" for p in paths)
    table = format_table({"trained": trained.metrics, "random_init": floor.metrics})
    assert "| trained |" in table and "n=48" in table
    json.dumps(trained.metrics)


def test_wrong_image_size_is_reported(synthetic):
    with pytest.raises(ValueError, match="32 px"):
        evaluate_model(Grasp2Vec(Grasp2VecConfig()), synthetic.held_out(), choose_goals(synthetic.held_out(), 0))


def test_flip_averaged_embeddings_are_the_mean_of_both_mirror_images(synthetic):
    from embedding.evaluate import embed_held_out

    torch.manual_seed(0)
    model = Grasp2Vec(TINY).eval()
    grasps = synthetic.held_out()
    plain = embed_held_out(model, grasps)
    averaged = embed_held_out(model, grasps, flip_average=True)
    with torch.no_grad():
        mirrored = model(*(torch.from_numpy(np.ascontiguousarray(images[:, :, ::-1]))
                           for images in (grasps.pre, grasps.post, grasps.outcome)))
    for mean, one, other in zip(averaged, plain, mirrored, strict=True):
        assert torch.allclose(mean, (one + other) / 2, atol=1e-5)
    assert not all(torch.allclose(one, other) for one, other in zip(plain, mirrored, strict=True))  # mirroring matters
    result = evaluate_model(model, grasps, choose_goals(grasps, 0), flip_average=True)
    assert result.metrics["flip_average"] is True
