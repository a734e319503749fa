"""``KukaInstanceGrasp-v0``: grasp the object shown in a goal image.

Adds to :class:`envs.grasp_env.KukaGraspEnv`'s observation a ``goal``: an outcome image of the
target object taken in a different episode (see :mod:`envs.goal_bank`). Success means the
target, and no other object, was lifted. The reward is injectable (default: that success pays 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from common.protocols import GraspContext
from envs.config import CameraConfig
from envs.goal_bank import GoalBank
from envs.grasp_env import KukaGraspEnv
from envs.objects import object_name


class KukaInstanceGraspEnv(KukaGraspEnv):
    """Goal-conditioned grasping. Extra keyword: ``goal_bank`` (shared between envs to save work)."""

    def __init__(self, *args: Any, goal_bank: GoalBank | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owns_goal_bank = goal_bank is None
        self.goal_bank = goal_bank or GoalBank(self.config)
        if self.goal_bank.world_config.camera.image_size != self.config.camera.image_size:
            raise ValueError("goal bank image size differs from the environment's image_size")
        self.target_body: int | None = None
        self.goal_image = np.zeros(self.observation_space["goal"].shape, dtype=np.uint8)

    def _observation_spaces(self, camera: CameraConfig) -> dict[str, spaces.Space]:
        result = super()._observation_spaces(camera)
        result["goal"] = spaces.Box(0, 255, (camera.image_size, camera.image_size, 3), dtype=np.uint8)
        return result

    def _choose_task(self) -> bool:
        """Target: a uniformly drawn object of the bin that has a goal image (False if none has)."""
        world = self.world
        for index in self.np_random.permutation(len(world.objects)):
            body = world.objects[int(index)]
            if self.goal_bank.has_goal(world.object_urdfs[body]):
                self.target_body = body
                self.goal_image = self.goal_bank.sample(world.object_urdfs[body], self.np_random)
                return True
        return False

    def _target_name(self) -> str | None:
        if self.target_body is None:
            return None
        return object_name(self.world.object_urdfs[self.target_body])

    def _context(self, outcome_image: np.ndarray, lifted: tuple[str, ...], aperture: float) -> GraspContext:
        return GraspContext(goal_image=self.goal_image, outcome_image=outcome_image, lifted=lifted,
                            target=self._target_name(), gripper_aperture=aperture)

    def _succeeded(self, lifted: tuple[str, ...]) -> bool:
        return lifted == (self._target_name(),)

    def _task_info(self) -> dict[str, Any]:
        return {"target": self._target_name(), "target_id": self.target_body}

    def _observation(self) -> dict[str, np.ndarray]:
        obs = super()._observation()
        obs["goal"] = self.goal_image.copy()
        return obs

    def close(self) -> None:
        super().close()
        if self._owns_goal_bank:
            self.goal_bank.close()
