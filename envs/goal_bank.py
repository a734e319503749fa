"""Goal images for the instance task, made by grasping — never rendered from the live scene.

A goal is the outcome (wrist) image of an object held in the gripper, taken in an episode of
its own: the object alone in the bin, grasped by the privileged scripted policy. Goals are
built on demand and cached; they can also be added from collected grasp data.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from envs.config import WorldConfig
from envs.objects import object_name
from envs.world import GraspWorld

LOGGER = logging.getLogger(__name__)


class GoalBank:
    """Outcome images keyed by object name.

    Args:
        world_config: the world the goals are taken in (its image size is the goals' size).
        seed: seeds the goal episodes; keep it disjoint from the seeds of the episodes the
            goals are used in.
        goals_per_object: distinct grasps stored for each object.
        max_attempts: grasp attempts per goal before an object is declared ungraspable.
    """

    def __init__(self, world_config: WorldConfig, seed: int = 1_000_003, goals_per_object: int = 1,
                 max_attempts: int = 4) -> None:
        self.world_config = dataclasses.replace(world_config, num_objects=1)
        self.seed = seed
        self.goals_per_object = goals_per_object
        self.max_attempts = max_attempts
        self.images: dict[str, list[np.ndarray]] = {}
        self._ungraspable: set[str] = set()
        self._world: GraspWorld | None = None

    def add(self, name: str, image: np.ndarray) -> None:
        """Store an outcome image (H, W, 3) uint8 of object ``name`` (e.g. from a grasp dataset)."""
        self.images.setdefault(name, []).append(np.asarray(image, dtype=np.uint8))

    def has_goal(self, urdf: Path) -> bool:
        """Whether a goal exists for this object, grasping it alone to make one if needed."""
        name = object_name(urdf)
        if name in self._ungraspable:
            return False
        while len(self.images.get(name, [])) < self.goals_per_object:
            image = self._grasp_alone(urdf, len(self.images.get(name, [])))
            if image is None:
                if name in self.images:
                    break
                self._ungraspable.add(name)
                return False
            self.add(name, image)
        return True

    def sample(self, urdf: Path, rng: np.random.Generator) -> np.ndarray:
        """One goal image (H, W, 3) uint8 of this object. Raises ``KeyError`` if it has none."""
        if not self.has_goal(urdf):
            raise KeyError(f"no goal image for object {object_name(urdf)}: it could not be grasped alone")
        images = self.images[object_name(urdf)]
        return images[int(rng.integers(len(images)))]

    def save(self, path: str | Path) -> None:
        names = sorted(self.images)
        counts = np.array([len(self.images[n]) for n in names])
        size = self.world_config.camera.image_size
        images = [img for n in names for img in self.images[n]]
        stacked = np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)
        np.savez_compressed(path, names=np.array(names), counts=counts, images=stacked)

    def load(self, path: str | Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            offset = 0
            for name, count in zip(data["names"].tolist(), data["counts"].tolist(), strict=True):
                for image in data["images"][offset:offset + count]:
                    self.add(name, image)
                offset += count

    def _grasp_alone(self, urdf: Path, index: int) -> np.ndarray | None:
        from envs.scripted import ObjectGeometryError, approach_action, grasp_pose

        if self._world is None:
            self._world = GraspWorld(self.world_config)
        world = self._world
        cfg = self.world_config.arm
        name_code = sum(ord(ch) * 31 ** i for i, ch in enumerate(object_name(urdf))) % 2**31
        for attempt in range(self.max_attempts):
            rng = np.random.default_rng([self.seed, name_code, index, attempt])
            world.reset([urdf], rng)
            body = world.objects[0]
            try:
                for _ in range(MAX_GOAL_STEPS):
                    point, yaw = grasp_pose(world, body)
                    action = approach_action(world, point, yaw)
                    if action[4] > 0:
                        break
                    world.move(action[:3] * cfg.max_translation, float(action[3]) * cfg.max_yaw)
            except ObjectGeometryError as error:  # e.g. the object left the world mid-approach: a failed attempt
                LOGGER.warning("goal attempt %d for %s failed: %s", attempt, object_name(urdf), error)
                continue
            outcome = world.grasp()
            if outcome.fault is None and outcome.lifted == (body,):
                return world.render_wrist()[0]
        return None

    def close(self) -> None:
        """Disconnect the bank's own world; the images stay and a later goal reopens it."""
        if self._world is not None:
            self._world.close()
            self._world = None


MAX_GOAL_STEPS = 20
