"""Tiny constructed checkpoints, calibrations and images for the learned-reward tests (32 px).

The "objects" are coloured blocks held in front of a grey background; an empty gripper is the
background alone. A Grasp2Vec outcome encoder is trained for a few steps to tell the colours
apart; the autoencoder is trained with :func:`rewards.autoencoder_training.train_autoencoder`; the
presence classifier with :func:`rewards.presence.fit_presence`.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from rewards.autoencoder import save_autoencoder
from rewards.autoencoder_training import TrainAutoencoderConfig, train_autoencoder
from rewards.calibrate import calibrate
from rewards.calibration import calibration_path
from rewards.presence import PresenceClassifier, TrainPresenceConfig, fit_presence, presence_path

SIZE = 32
COLOURS = {"red": (220, 30, 30), "blue": (30, 40, 220), "green": (30, 200, 40)}
CLASSES = [*COLOURS, None]  # None: empty gripper
TRAIN_SEEDS = range(1000, 1200)  # images seen in training; tests draw seeds below 1000
PRESENCE_TRAINING = TrainPresenceConfig(steps=40, batch_size=16, val_fraction=0.25)


def scene(colour: str | None, seed: int) -> np.ndarray:
    """A grey 'gripper view' (S, S, 3) uint8; with ``colour``, a held block of that colour in the middle."""
    rng = np.random.default_rng(seed)
    image = np.clip(rng.normal(110, 12, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
    if colour is not None:
        row, col = rng.integers(6, 12, 2)
        image[row:row + 14, col:col + 12] = COLOURS[colour]
    return image


@contextmanager
def one_thread():
    """Train on one thread: multi-threaded CPU backward of small BatchNorm ResNets crashes torch 2.13 here."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@functools.cache
def presence_classifier() -> PresenceClassifier:
    """A presence classifier trained on 24 held blocks and 12 empty grippers (32 px)."""
    objects = [c for c in COLOURS for _ in range(8)]
    held = np.stack([scene(c, TRAIN_SEEDS[i]) for i, c in enumerate(objects)])
    empty = np.stack([scene(None, TRAIN_SEEDS[100 + i]) for i in range(12)])
    with one_thread():
        return fit_presence(held, empty, PRESENCE_TRAINING)


def _calibrate(reward_class, checkpoint) -> None:
    reward = reward_class(checkpoint, presence=False)
    objects = [c for c in COLOURS for _ in range(6)]
    held = np.stack([scene(c, 900 + i) for i, c in enumerate(objects)])
    calibrate(reward, held, objects, seed=0).save(calibration_path(checkpoint))
    presence_classifier().save(presence_path(checkpoint))


def make_grasp2vec_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A calibrated 32 px Grasp2Vec checkpoint whose φ_o tells the colours apart."""
    from embedding.checkpoint import save_checkpoint
    from embedding.model import Grasp2Vec, Grasp2VecConfig
    from rewards.grasp2vec import Grasp2VecReward

    torch.manual_seed(0)
    model = Grasp2Vec(Grasp2VecConfig(image_size=SIZE, embedding_dim=16, stem_channels=8, stage_channels=(8,),
                                      stage_strides=(2,)))
    optimizer = torch.optim.Adam(model.outcome_encoder.parameters(), lr=1e-2)
    with one_thread():
        for step in range(60):  # n-pairs on two views of each class
            views = [F.normalize(model.embed_outcomes(np.stack([scene(c, TRAIN_SEEDS[2 * step + k]) for c in CLASSES])))
                     for k in (0, 1)]
            loss = F.cross_entropy(views[0] @ views[1].T / 0.1, torch.arange(len(CLASSES)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    path = tmp_path_factory.mktemp("g2v") / "grasp2vec"
    save_checkpoint(model.eval(), path)
    _calibrate(Grasp2VecReward, path)
    return path


def make_autoencoder_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A calibrated 32 px autoencoder checkpoint trained on the coloured blocks."""
    from rewards.autoencoder import AutoencoderReward

    images = [scene(c, seed) for seed in TRAIN_SEEDS[:40] for c in CLASSES]
    config = TrainAutoencoderConfig(steps=80, batch_size=16, channels=(8, 16), latent_dim=16, checkpoint_every=1000)
    with one_thread():
        model, _ = train_autoencoder(images, config, tmp_path_factory.mktemp("ae-run"))
    path = tmp_path_factory.mktemp("ae") / "autoencoder"
    save_autoencoder(model, path)
    _calibrate(AutoencoderReward, path)
    return path


@pytest.fixture(scope="session")
def grasp2vec_checkpoint(tmp_path_factory):
    return make_grasp2vec_checkpoint(tmp_path_factory)


@pytest.fixture(scope="session")
def autoencoder_checkpoint(tmp_path_factory):
    return make_autoencoder_checkpoint(tmp_path_factory)
