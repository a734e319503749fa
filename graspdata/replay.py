"""Replay collected attempts in the simulator to see what a sensor not recorded then would have seen.

Every episode owns its reset seed (:func:`graspdata.episode.episode_seed`) and a world rebuilt on schedule is
a new world, so resetting the collector's environment with a record's seed gives back the bin the grasp was
decided on, and stepping the recorded actions drives the arm along the recorded path. The settling
solver is sensitive to what the world did before, so records are reset in the collector's order, each shard
from a fresh world (the world is rebuilt after a fixed number of object loads, and a shard of 200 bins of 5
objects starts on a rebuild, as in the collector). Even so a replay is not the collector's history (it stops
before each grasp), and about 1 bin in 100 settles elsewhere: those more than :data:`POSE_TOLERANCE` off are
marked not replayed and left out.

:func:`pre_close_views` uses this to give every attempt of a dataset the wrist camera's view just before the
gripper closed: what a second look before closing would see, without grasping again.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import h5py
import numpy as np
from tqdm import tqdm

from envs.grasp_env import KukaGraspEnv
from graspdata.card import DatasetCard
from graspdata.config import CollectConfig
from graspdata.errors import ConfigMismatchError, NotADatasetError
from graspdata.folder import scan_folder
from graspdata.layout import RECORD_GROUP, STEP_GROUP, TRUTH_GROUP, read_grasp_sensed
from graspdata.worker import collector_env

# The largest difference of any object's position (metres) or quaternion component between a reset bin and
# the recorded one that still counts as the recorded bin.
POSE_TOLERANCE = 0.005
# Replays of a dataset whose bins come back further off than that more often than this (and more than once)
# are refused: the objects, the world or the code changed since it was collected.
MAX_UNREPRODUCED = 0.05
CLOSE_INDEX = 4  # the action's gripper-close component


def replay_env(card: DatasetCard) -> KukaGraspEnv:
    """The environment a dataset was collected in, from its card (objects, bin size, image sizes, step limit),
    without the triplet recording and the height-map scan a replay does not need (neither moves anything)."""
    return cast(KukaGraspEnv, collector_env(CollectConfig.from_dict(card.config), record_triplet=False,
                                            heightmap=False))


def reset_recorded_bin(env: KukaGraspEnv, seed: int, object_poses: np.ndarray, where: str) -> float:
    """Reset ``env`` with a record's seed; return how far the bin lies from the recorded ``object_poses`` (N, 7):
    the largest difference of any object's position (m) or quaternion component.

    Raises:
        ConfigMismatchError: another object count in the bin (``where`` names the record).
    """
    _, info = env.reset(seed=int(seed))
    poses = np.asarray(info["ground_truth"]["object_poses"], np.float32)
    if poses.shape != object_poses.shape:
        raise ConfigMismatchError(f"{where}: {len(poses)} objects in the reset bin, {len(object_poses)} recorded")
    return float(np.abs(poses - object_poses).max()) if poses.size else 0.0


@dataclass(frozen=True)
class PreCloseViews:
    """One row per record of a dataset, in the readers' order (shards by first index, rows in order).

    Attributes:
        views: (N, S, S, 3) uint8 wrist-camera images taken just before the closing action; zeros where no
            grasp was attempted.
        attempted: (N,) bool: the record closed the gripper (a fault during the lift included: the records a
            grasp-pose learner reads as decisions).
        replayed: (N,) bool: attempted, and its bin came back within :data:`POSE_TOLERANCE` (its view is valid).
        sensed: (N,) bool: the record's sensed grasp bit (the robot's own label).
        lifted: (N,) bool: ground truth (an object held after the lift), for scoring only.
        deviation: (N,) float: how far each reset bin lay from the recorded one (:func:`reset_recorded_bin`).
    """

    views: np.ndarray
    attempted: np.ndarray
    replayed: np.ndarray
    sensed: np.ndarray
    lifted: np.ndarray
    deviation: np.ndarray

    def save(self, path: str | Path) -> None:
        """Write an ``.npz`` atomically."""
        from common.io import atomic_path

        with atomic_path(path) as temp:
            np.savez(temp, **{k: getattr(self, k) for k in self.__dataclass_fields__})

    @classmethod
    def load(cls, path: str | Path) -> PreCloseViews:
        with np.load(path, allow_pickle=False) as data:
            return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def shard_pre_close_views(path: Path, card: DatasetCard, size: int) -> dict[str, np.ndarray]:
    """:class:`PreCloseViews` fields for one shard, replayed in a world of its own (so the result does not depend
    on which worker process ran which shards)."""
    env = replay_env(card)
    try:
        return _replay_shard(env, path, size)
    finally:
        env.close()


def _replay_shard(env: KukaGraspEnv, path: Path, size: int) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        records, steps = f[RECORD_GROUP], f[STEP_GROUP]
        seeds, starts, counts = records["seed"][:], records["step_start"][:], records["num_steps"][:]
        attempted = records["grasp_attempted"][:].astype(bool)
        sensed, lifted = read_grasp_sensed(records), records["success"][:].astype(bool)
        poses, actions = f[TRUTH_GROUP]["object_poses"][:], steps["action"][:]
    views = np.zeros((len(seeds), size, size, 3), np.uint8)
    deviation = np.zeros(len(seeds))
    replayed = np.zeros(len(seeds), bool)
    for row in range(len(seeds)):
        # every record is reset, in order, as the collector did (module docstring)
        where = f"{path} record {row}"
        deviation[row] = reset_recorded_bin(env, seeds[row], poses[row], where)
        if not attempted[row] or not deviation[row] <= POSE_TOLERANCE:  # NaN: a record whose objects flew off
            continue
        taken = actions[starts[row]:starts[row] + counts[row]]
        if not len(taken) or taken[-1][CLOSE_INDEX] <= 0:
            raise NotADatasetError(f"{where}: attempted a grasp, but its last action does not close the gripper")
        for action in taken[:-1]:
            env.step(action)
        views[row] = env.world.render_wrist(size=size)[0]
        replayed[row] = True
    return {"views": views, "attempted": attempted, "replayed": replayed, "sensed": sensed.astype(bool),
            "lifted": lifted, "deviation": deviation}


def pre_close_views(folder: str | Path, size: int = 64, workers: int = 1, show_progress: bool = True
                    ) -> PreCloseViews:
    """Replay every attempt of the dataset in ``folder`` up to its closing action and render the wrist camera
    at ``size`` px there (module docstring). Shards run in ``workers`` processes.

    Raises:
        NotADatasetError: a bad shard; ConfigMismatchError: more than :data:`MAX_UNREPRODUCED` of the attempts'
        bins do not come back.
    """
    scan = scan_folder(folder)
    if scan.bad:
        raise NotADatasetError(f"{folder}: bad shards {[p.name for p, _ in scan.bad]}")
    paths = [info.path for info in scan.shards]
    parts: list[dict[str, Any]] = []
    context = multiprocessing.get_context("spawn")
    with (ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool,
          tqdm(total=len(paths), desc=f"replay {Path(folder).name}", unit="shard", disable=not show_progress) as bar):
        for part in pool.map(shard_pre_close_views, paths, [scan.card] * len(paths), [size] * len(paths)):
            parts.append(part)
            bar.update(1)
    views = PreCloseViews(**{k: np.concatenate([p[k] for p in parts]) for k in PreCloseViews.__dataclass_fields__})
    missed = int((views.attempted & ~views.replayed).sum())
    if missed > max(1.0, MAX_UNREPRODUCED * int(views.attempted.sum())):
        raise ConfigMismatchError(f"{folder}: {missed} of {int(views.attempted.sum())} attempts' bins did not come "
                                  "back on reset; objects, world or code changed since the data were collected")
    return views
