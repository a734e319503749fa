import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from embedding.augment import AugmentConfig
from embedding.checkpoint import CheckpointMismatchError, load_checkpoint
from embedding.model import Grasp2VecConfig
from embedding.train import StepBatchSampler, TrainConfig, _trajectory, learning_rate, pair_batch, train

TINY = Grasp2VecConfig(image_size=32, embedding_dim=16, stem_channels=8, stage_channels=(16,), stage_strides=(2,))


def _config(steps: int, **kwargs) -> TrainConfig:
    base = dict(steps=steps, batch_size=8, lr=3e-3, warmup_steps=2, seed=3, log_every=1, eval_every=1000,
                checkpoint_every=1000, threads=1, augment=AugmentConfig(pad=1))
    return TrainConfig(**{**base, **kwargs})


def _weights(folder) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def test_a_few_steps_reduce_the_loss(tmp_path, synthetic):
    config = _config(80)
    first = train(TINY, _config(1), synthetic, tmp_path / "one", wandb_mode="disabled", progress=False)
    last = train(TINY, config, synthetic, tmp_path / "run", val_set=synthetic, wandb_mode="disabled",
                 progress=False)
    assert last["train/npairs_scene"] < 0.7 * first["train/npairs_scene"]
    assert 0.0 <= last["val/pair_retrieval_top1"] <= 1.0
    model = load_checkpoint(tmp_path / "run", expect_image_size=32)
    assert model.config == TINY
    card = json.loads((tmp_path / "run" / "config.json").read_text())
    assert card["extra"]["step"] == 80
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history if "train/loss" in h] == list(range(1, 81))


def test_deterministic_and_resume_matches_uninterrupted(tmp_path, synthetic):
    config = _config(6, checkpoint_every=2)
    train(TINY, config, synthetic, tmp_path / "a", wandb_mode="disabled", progress=False)
    train(TINY, config, synthetic, tmp_path / "b", wandb_mode="disabled", progress=False, stop_at_step=3)
    assert json.loads((tmp_path / "b" / "train_state.json").read_text())["step"] == 3
    summary = train(TINY, config, synthetic, tmp_path / "b", resume=True, wandb_mode="disabled", progress=False)
    assert summary["start_step"] == 3 and summary["final_step"] == 6
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_existing_run_needs_resume_and_same_config(tmp_path, synthetic):
    train(TINY, _config(1), synthetic, tmp_path / "run", wandb_mode="disabled", progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        train(TINY, _config(1), synthetic, tmp_path / "run", wandb_mode="disabled", progress=False)
    with pytest.raises(ValueError, match="different model or training config"):
        train(TINY, _config(2), synthetic, tmp_path / "run", resume=True, wandb_mode="disabled", progress=False)


def test_resume_may_change_threads_and_workers_but_not_the_trajectory(tmp_path, synthetic):
    config = _config(4, checkpoint_every=2)
    train(TINY, config, synthetic, tmp_path / "a", wandb_mode="disabled", progress=False)
    train(TINY, config, synthetic, tmp_path / "b", wandb_mode="disabled", progress=False, stop_at_step=2)
    moved = _config(4, checkpoint_every=2, threads=2, workers=1)
    summary = train(TINY, moved, synthetic, tmp_path / "b", resume=True, wandb_mode="disabled", progress=False)
    assert summary["start_step"] == 2 and summary["final_step"] == 4
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-4, msg=key)  # thread count: rounding only
    with pytest.raises(ValueError, match="different model or training config"):
        train(TINY, _config(4, checkpoint_every=2, seed=4), synthetic, tmp_path / "b", resume=True,
              wandb_mode="disabled", progress=False)


def test_init_from_starts_at_the_checkpoint_and_resumes_from_its_own(tmp_path, synthetic):
    train(TINY, _config(80), synthetic, tmp_path / "base", wandb_mode="disabled", progress=False)
    fresh = train(TINY, _config(1), synthetic, tmp_path / "fresh", wandb_mode="disabled", progress=False)
    tuned = _config(4, init_from=str(tmp_path / "base"), checkpoint_every=2)
    first = train(TINY, _config(1, init_from=str(tmp_path / "base")), synthetic, tmp_path / "one",
                  wandb_mode="disabled", progress=False)
    assert first["train/npairs_scene"] < 0.7 * fresh["train/npairs_scene"]
    train(TINY, tuned, synthetic, tmp_path / "whole", wandb_mode="disabled", progress=False)
    train(TINY, tuned, synthetic, tmp_path / "pieces", wandb_mode="disabled", progress=False, stop_at_step=2)
    train(TINY, tuned, synthetic, tmp_path / "pieces", resume=True, wandb_mode="disabled", progress=False)
    whole, pieces = _weights(tmp_path / "whole"), _weights(tmp_path / "pieces")
    for key in whole:
        torch.testing.assert_close(whole[key], pieces[key], rtol=0, atol=0)


def test_init_from_another_architecture_is_refused(tmp_path, synthetic):
    train(TINY, _config(1), synthetic, tmp_path / "base", wandb_mode="disabled", progress=False)
    wider = Grasp2VecConfig(image_size=32, embedding_dim=32, stem_channels=8, stage_channels=(16,), stage_strides=(2,))
    with pytest.raises(CheckpointMismatchError, match="architecture"):
        train(wider, _config(1, init_from=str(tmp_path / "base")), synthetic, tmp_path / "run",
              wandb_mode="disabled", progress=False)


def test_init_from_may_change_the_stage_strides_only(tmp_path, synthetic):
    train(TINY, _config(1), synthetic, tmp_path / "base", wandb_mode="disabled", progress=False)
    finer = replace(TINY, stage_strides=(1,))
    summary = train(finer, _config(2, init_from=str(tmp_path / "base")), synthetic, tmp_path / "finer",
                    wandb_mode="disabled", progress=False)
    assert summary["final_step"] == 2
    model = load_checkpoint(tmp_path / "finer", expect_image_size=32)
    assert model.config.feature_size == 2 * TINY.feature_size
    wider_and_finer = replace(finer, stem_channels=16)
    with pytest.raises(CheckpointMismatchError, match="only the stage strides may differ"):
        train(wider_and_finer, _config(1, init_from=str(tmp_path / "base")), synthetic, tmp_path / "bad",
              wandb_mode="disabled", progress=False)


def test_image_size_mismatch_is_reported(tmp_path, synthetic):
    with pytest.raises(ValueError, match="32 px images"):
        train(Grasp2VecConfig(image_size=64), _config(1), synthetic, tmp_path / "run", wandb_mode="disabled",
              progress=False)


def test_batches_cover_each_epoch_once_and_lr_schedule():
    sampler = StepBatchSampler(size=10, batch_size=3, seed=0, start=0, total=6)
    batches = list(sampler)
    assert len(batches) == 6
    first_epoch = sum(batches[:3], [])
    assert len(set(first_epoch)) == 9
    assert sampler.batch(4) == batches[4]
    with pytest.raises(ValueError, match="fewer than one batch"):
        StepBatchSampler(size=2, batch_size=3, seed=0, start=0, total=1)
    config = TrainConfig(steps=100, lr=1.0, warmup_steps=10)
    assert learning_rate(config, 0) == pytest.approx(0.1)
    assert learning_rate(config, 10) == pytest.approx(1.0)
    assert learning_rate(config, 99) < 0.01


class _KilledError(Exception):
    """Stands in for a kill (SIGKILL, out of time) in the middle of a training session."""


def _history(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()]


def _optimizer_state(folder) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "optimizer.safetensors"))


def _assert_same_run(one, pieces) -> None:
    """Bit-identical weights (BatchNorm statistics included) and optimizer state, identical history."""
    for load in (_weights, _optimizer_state):
        a, b = load(one), load(pieces)
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    assert _history(one) == _history(pieces)


@pytest.mark.parametrize("workers", [0, 1])
def test_n_steps_equal_two_resumed_halves(tmp_path, synthetic, workers):
    config = _config(8, checkpoint_every=2, eval_every=4, workers=workers)
    whole = train(TINY, config, synthetic, tmp_path / "one", val_set=synthetic, wandb_mode="disabled",
                  progress=False)
    train(TINY, config, synthetic, tmp_path / "pieces", val_set=synthetic, wandb_mode="disabled", progress=False,
          stop_at_step=4)
    second = train(TINY, config, synthetic, tmp_path / "pieces", val_set=synthetic, resume=True,
                   wandb_mode="disabled", progress=False)
    assert second["start_step"] == 4 and second["final_step"] == 8
    _assert_same_run(tmp_path / "one", tmp_path / "pieces")
    for key in ("train/loss", "train/npairs_scene", "train/lr", "val/pair_retrieval_top1"):
        assert second[key] == whole[key]


def test_resume_after_a_kill_between_checkpoints(tmp_path, synthetic, monkeypatch):
    config = _config(8, checkpoint_every=3, eval_every=4)
    train(TINY, config, synthetic, tmp_path / "one", val_set=synthetic, wandb_mode="disabled", progress=False)
    import embedding.train as training

    real_loss, calls = training.grasp2vec_loss, []

    def dies_at_step_six(*args, **kwargs):
        calls.append(1)
        if len(calls) == 6:  # steps 1-5 done and logged, last checkpoint at step 3
            raise _KilledError
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(training, "grasp2vec_loss", dies_at_step_six)
    with pytest.raises(_KilledError):
        train(TINY, config, synthetic, tmp_path / "killed", val_set=synthetic, wandb_mode="disabled", progress=False)
    monkeypatch.setattr(training, "grasp2vec_loss", real_loss)
    assert json.loads((tmp_path / "killed" / "train_state.json").read_text())["step"] == 3
    summary = train(TINY, config, synthetic, tmp_path / "killed", val_set=synthetic, resume=True,
                    wandb_mode="disabled", progress=False)
    assert summary["start_step"] == 3
    _assert_same_run(tmp_path / "one", tmp_path / "killed")


def test_channels_last_trains_the_same_weights_within_float_tolerance(tmp_path, synthetic):
    train(TINY, _config(4), synthetic, tmp_path / "plain", wandb_mode="disabled", progress=False)
    train(TINY, _config(4, channels_last=True), synthetic, tmp_path / "cl", wandb_mode="disabled", progress=False)
    plain, channels_last = _weights(tmp_path / "plain"), _weights(tmp_path / "cl")
    for key in plain:
        torch.testing.assert_close(channels_last[key], plain[key], rtol=1e-4, atol=1e-5, msg=key)


def test_a_run_saved_before_an_augmentation_setting_existed_resumes_at_its_default():
    saved = {"steps": 10, "threads": 1, "augment": {"pad": 4, "flip": True}}
    assert _trajectory(saved) == _trajectory({**saved, "threads": 2, "augment": {**saved["augment"],
                                                                                 "colour_permute": 0.0}})
    assert _trajectory(saved) != _trajectory({**saved, "augment": {**saved["augment"], "colour_permute": 0.5}})


class SyntheticPairs(torch.utils.data.Dataset):
    """Two outcome views of one coloured square at different places, ``{"first", "second"}`` (32, 32, 3) uint8."""

    def __init__(self, n: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.image_size = 32
        self.views = np.full((n, 2, 32, 32, 3), 55, np.uint8)
        for i in range(n):
            colour = rng.integers(40, 250, 3)
            for view in range(2):
                row, col = rng.integers(0, 20, 2)
                self.views[i, view, row:row + 12, col:col + 12] = colour

    def __len__(self) -> int:
        return len(self.views)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return {"first": self.views[index, 0], "second": self.views[index, 1]}


def test_the_same_object_term_trains_and_resumes_exactly(tmp_path, synthetic):
    pairs = SyntheticPairs(32)
    config = _config(8, checkpoint_every=2, same_object_weight=1.0, same_object_batch=6)
    one = train(TINY, config, synthetic, tmp_path / "one", wandb_mode="disabled", progress=False, pair_set=pairs)
    first = _history(tmp_path / "one")[0]
    assert one["train/same_object"] < first["train/same_object"]
    assert one["train/loss"] > one["train/npairs_scene"] + one["train/npairs_outcome"]
    train(TINY, config, synthetic, tmp_path / "pieces", wandb_mode="disabled", progress=False, pair_set=pairs,
          stop_at_step=3)
    train(TINY, config, synthetic, tmp_path / "pieces", resume=True, wandb_mode="disabled", progress=False,
          pair_set=pairs)
    _assert_same_run(tmp_path / "one", tmp_path / "pieces")
    batch = pair_batch(pairs, config, 5)
    assert batch["first"].shape == (6, 32, 32, 3)
    torch.testing.assert_close(batch["first"], pair_batch(pairs, config, 5)["first"], rtol=0, atol=0)
    with pytest.raises(ValueError, match="different model or training config"):  # a run with the term stays one
        train(TINY, replace(config, same_object_weight=0.0), synthetic, tmp_path / "one", resume=True,
              wandb_mode="disabled", progress=False)
    with pytest.raises(ValueError, match="go together"):
        train(TINY, config, synthetic, tmp_path / "none", wandb_mode="disabled", progress=False)
    with pytest.raises(ValueError, match="go together"):
        train(TINY, _config(2), synthetic, tmp_path / "none", wandb_mode="disabled", progress=False, pair_set=pairs)
    with pytest.raises(ValueError, match="fewer than one batch"):
        pair_batch(SyntheticPairs(4), config, 0)


def test_a_run_saved_before_the_same_object_term_resumes_without_it():
    saved = _config(4).to_dict()
    del saved["same_object_weight"], saved["same_object_batch"]
    assert _trajectory(saved) == _trajectory(_config(4).to_dict())
