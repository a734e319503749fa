"""``KukaGrasp-v0``: indiscriminate grasping in a bin of objects.

Observation (``Dict``):
    ``image``   scene camera, (H, W, 3) uint8: rendered every step, or with ``scene_each_step=False`` once per
                attempt (at reset, and when a put-back lift begins a new attempt) and repeated until the next, the
                scene as the attempt began, like the height map. A grasp-pose policy decides from an attempt's first
                observation and its follower reads ``gripper`` alone, so its actions are the same either way and
                the world saves a render (about 6 ms at 64 px) per step;
    ``gripper`` end-effector xyz (m), wrist yaw (rad), finger opening (rad), (5,) float32;
    ``wrist``   wrist camera, (H, W, 3) uint8 (only with ``wrist_view=True``);
    ``outcome`` the wrist camera's image after the episode's last lift, zeros before one, (H, W, 3) uint8 (only
                with ``max_grasps > 1``: what a policy reads to decide whether to keep what it holds).
Action: ``Box(-1, 1, (5,))`` = ``[dx, dy, dz, dyaw, close]``. Translations are scaled by
``ArmConfig.max_translation`` (m), yaw by ``ArmConfig.max_yaw`` (rad); out-of-range values are
clipped to [-1, 1]; NaN/inf or a wrong shape raise ``ValueError``. ``close > 0`` ends the episode
with close → lift → outcome image. With ``max_grasps > 1`` a lift that leaves grasps to spare does not end
the episode: the policy is asked once more, fingers closed (``gripper[4] == 0``) and arm up. ``close > 0``
keeps what it holds (the episode ends with that lift's reward and ``info``); ``close <= 0`` puts it back
(lowered to ``LayoutConfig.release_height``, fingers opened, arm homed, objects settled) and a new attempt
begins with ``max_steps`` actions of its own; the other action values are ignored. The last allowed grasp
ends the episode as the only one does when ``max_grasps == 1``. With ``auto_descend=True`` the gripper descends a fixed
amount every step (``dz`` is ignored) and grasps when it reaches the bottom.

``reward`` is a :class:`common.protocols.RewardFunction` object (build one by name with
:func:`rewards.make_reward`); default (None): the task's own success pays 1 (here: anything lifted).

``info`` carries sensor extras (``outcome_image`` and ``gripper_aperture``, the measured fingertip
distance in metres, after a grasp; ``grasp_sensed``, the robot's own "something is in my hand" bit:
that aperture exceeds the gripper's closed-on-nothing aperture, measured at world build and given as
``closed_aperture``, by more than ``ArmConfig.grasp_margin``; ``close_height``, how high above the bottom
of the workspace the gripper was when its fingers began to close, in metres; with ``record_triplet=True``, the
triplet ``pre_image``/``post_image``/``triplet_outcome_image``, rendered at ``triplet_size`` pixels
when given, else at ``image_size``, where ``triplet_outcome_image`` is ``outcome_image`` itself unless
``triplet_backdrop`` shows it against a plain backdrop; the pre and post images through ``triplet_fov`` degrees when
given, a zoom on the bin)
and, under ``info["ground_truth"]``, what only the simulator knows: objects,
lifted objects (above the lift line when the lift ends and still after holding ``PhysicsConfig.hold_s``:
held, not thrown), ``dropped`` objects (above the line when the lift ended, fallen during the hold),
objects touching the gripper after the lift, ``released`` (the objects each lift put back this episode held),
segmentation masks. Policies and training labels must
never read the latter; ``is_success`` (ground truth) is for scoring.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from common.protocols import GraspContext, RewardFunction
from envs.config import CameraConfig, WorldConfig
from envs.objects import ObjectSpec, object_name, resolve_objects
from envs.world import GraspOutcome, GraspWorld

ACTION_DIM = 5
# What a policy answers after a lift with grasps to spare (``max_grasps > 1``): the close channel alone decides.
KEEP_ACTION = np.array([0.0, 0.0, 0.0, 0.0, 1.0], dtype=np.float32)
RELEASE_ACTION = np.array([0.0, 0.0, 0.0, 0.0, -1.0], dtype=np.float32)
OUTCOME_KEY = "outcome"  # the observation of the last lift's outcome image (``max_grasps > 1``)
MAX_BIN_DRAWS = 10  # bins drawn per reset before giving up on finding a task
GRIPPER_LIMIT = 10.0  # bound of the gripper-state box (its values stay far inside it)


def make_world_config(num_objects: int, image_size: int, base: WorldConfig | None,
                      triplet_size: int | None = None, triplet_fov: float | None = None,
                      triplet_backdrop: bool | None = None) -> WorldConfig:
    """``base`` (or the defaults) with the object count and image size replaced, and the triplet
    size, field of view and outcome backdrop when given (else ``base``'s)."""
    base = base or WorldConfig()
    camera = dataclasses.replace(base.camera, image_size=image_size,
                                 triplet_size=base.camera.triplet_size if triplet_size is None else triplet_size,
                                 triplet_fov=base.camera.triplet_fov if triplet_fov is None else triplet_fov,
                                 triplet_backdrop=(base.camera.triplet_backdrop if triplet_backdrop is None
                                                   else triplet_backdrop))
    return dataclasses.replace(base, num_objects=num_objects, camera=camera)


def awaits_keep_or_release(observation: dict[str, Any]) -> bool:
    """Whether ``observation`` is the one after a lift with grasps to spare: the env has an ``outcome`` image
    (``max_grasps > 1``) and the fingers are closed, which they are only between a lift and the answer."""
    return OUTCOME_KEY in observation and float(np.asarray(observation["gripper"])[4]) == 0.0


def validate_action(action: Any) -> np.ndarray:
    """Return the action as float64 (5,) clipped to [-1, 1]; raise ``ValueError`` if malformed."""
    array = np.asarray(action, dtype=np.float64)
    if array.shape != (ACTION_DIM,):
        raise ValueError(f"action must have shape ({ACTION_DIM},) = [dx, dy, dz, dyaw, close], got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"action must be finite, got {array.tolist()}")
    return np.clip(array, -1.0, 1.0)


class KukaGraspEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """Grasp anything: reward 1 when an object is lifted (or as ``reward`` says)."""

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 10}

    def __init__(self, objects: ObjectSpec = "seen", num_objects: int = 5, image_size: int = 64,
                 max_steps: int = 10, auto_descend: bool = False, wrist_view: bool = False,
                 record_triplet: bool = False, reward: RewardFunction | None = None,
                 render_mode: str | None = None, world_config: WorldConfig | None = None,
                 triplet_size: int | None = None, max_grasps: int = 1, scene_each_step: bool = True,
                 triplet_fov: float | None = None, triplet_backdrop: bool | None = None) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        if max_steps < 2:
            raise ValueError(f"max_steps must be at least 2, got {max_steps}")
        if max_grasps < 1:
            raise ValueError(f"max_grasps must be at least 1 (grasps an episode may make), got {max_grasps}")
        self.object_paths = resolve_objects(objects)
        if num_objects > len(self.object_paths):
            raise ValueError(f"num_objects={num_objects} but the object set holds only {len(self.object_paths)} URDFs")
        self.config = make_world_config(num_objects, image_size, world_config, triplet_size, triplet_fov,
                                        triplet_backdrop)
        self.max_steps = max_steps
        self.max_grasps = max_grasps
        self.auto_descend = auto_descend
        self.wrist_view = wrist_view
        self.record_triplet = record_triplet
        self.scene_each_step = scene_each_step
        self._scene: np.ndarray | None = None  # the attempt's scene image (``scene_each_step=False``)
        if reward is not None and not isinstance(reward, RewardFunction):
            raise ValueError(f"reward must be a RewardFunction object or None (the task's success), got {reward!r}; "
                             "build one by name with rewards.make_reward(name)")
        self.reward_function: RewardFunction | None = reward
        self.render_mode = render_mode
        self.world = GraspWorld(self.config, gui=render_mode == "human")
        self.observation_space = spaces.Dict(self._observation_spaces(self.config.camera))
        self.action_space = spaces.Box(-1.0, 1.0, (ACTION_DIM,), dtype=np.float32)
        self._steps = 0
        self._episode_active = False
        self._pre: tuple[np.ndarray, np.ndarray | None] | None = None
        self._grasps = 0
        self._held: tuple[float, dict[str, Any]] | None = None  # (reward, info) of the lift awaiting keep or put-back
        self._released: list[list[str]] = []  # the objects each lift put back this episode held (ground truth)
        self._outcome = np.zeros((self.config.camera.image_size,) * 2 + (3,), dtype=np.uint8)

    # ------------------------------------------------------------------ hooks for subclasses
    def _observation_spaces(self, camera: CameraConfig) -> dict[str, spaces.Space]:
        image = spaces.Box(0, 255, (camera.image_size, camera.image_size, 3), dtype=np.uint8)
        result: dict[str, spaces.Space] = {
            "image": image,
            "gripper": spaces.Box(-GRIPPER_LIMIT, GRIPPER_LIMIT, (5,), dtype=np.float32),
        }
        if self.wrist_view:
            result["wrist"] = image
        if self.max_grasps > 1:
            result[OUTCOME_KEY] = image
        return result

    def _choose_task(self) -> bool:
        """Pick what this episode asks for (the instance task picks a target and goal); return
        False when this bin offers no task, and reset draws another bin from the same seed."""
        return True

    def _context(self, outcome_image: np.ndarray, lifted: tuple[str, ...], aperture: float) -> GraspContext:
        return GraspContext(goal_image=None, outcome_image=outcome_image, lifted=lifted, gripper_aperture=aperture)

    def _task_info(self) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------------ Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        for _ in range(MAX_BIN_DRAWS):
            chosen = self.np_random.choice(len(self.object_paths), self.config.num_objects, replace=False)
            self.world.reset([self.object_paths[i] for i in chosen], self.np_random)
            if self._choose_task():
                break
        else:
            raise RuntimeError(f"{MAX_BIN_DRAWS} bins in a row offered no task (no object could be grasped "
                               "alone to make a goal image); is the object set mostly ungraspable?")
        self._steps = 0
        self._grasps = 0
        self._held = None
        self._released = []
        self._outcome[:] = 0
        self._episode_active = True
        self._pre = self._render_triplet_scene() if self.record_triplet else None
        self._scene = None
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if not self._episode_active:
            raise RuntimeError("the episode is over (or never began): call reset() before step()")
        act = validate_action(action)
        if self._held is not None:
            return self._keep_or_release(keep=act[4] > 0)
        arm = self.config.arm
        self._steps += 1
        if self.auto_descend:
            layout = self.config.layout
            act[2] = -(layout.start_height - layout.workspace_z[0]) / (self.max_steps - 1) / arm.max_translation
        close = act[4] > 0
        if not close:
            self.world.move(act[:3] * arm.max_translation, act[3] * arm.max_yaw)
            at_bottom = self.world.arm.target_position[2] <= self.config.layout.workspace_z[0] + 1e-6
            close = self.auto_descend and at_bottom
        fault = self.world.fault()
        if fault is None and close:
            reward, info = self._attempt_grasp()
            self._grasps += 1
            if info["fault"] is None and self._grasps < self.max_grasps:
                self._held = (reward, info)  # the policy decides next step whether to keep it
                self._outcome[:] = info["outcome_image"]
                return self._observation(), 0.0, False, False, info
        else:
            reward, info = 0.0, self._info(fault=fault)
        terminated = bool(fault is not None or close)
        truncated = not terminated and self._steps >= self.max_steps
        self._episode_active = not (terminated or truncated)
        return self._observation(), reward, terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """``rgb_array``: the scene camera image (H, W, 3) uint8. ``human``: PyBullet's GUI shows it."""
        if self.render_mode == "rgb_array":
            return self.world.render_scene()[0]
        return None

    def close(self) -> None:
        self.world.close()

    # ------------------------------------------------------------------ internals
    def _keep_or_release(self, keep: bool) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """The decision after a lift with grasps to spare: end the episode with the lift's reward and
        ``info``, or put the object back and begin a new attempt."""
        assert self._held is not None
        reward, info = self._held
        self._held = None
        if keep:
            self._episode_active = False
            return self._observation(), reward, True, False, info
        self._released.append(list(info["ground_truth"]["lifted"]))
        self.world.release()
        self._steps = 0
        self._pre = self._render_triplet_scene() if self.record_triplet else None
        self._scene = None
        fault = self.world.fault()
        self._episode_active = fault is None
        info = self._info(fault=fault)
        info["released"] = True
        return self._observation(), 0.0, fault is not None, False, info

    def _attempt_grasp(self) -> tuple[float, dict[str, Any]]:
        close_height = float(self.world.arm.gripper_state()[2]) - self.config.layout.workspace_z[0]
        outcome: GraspOutcome = self.world.grasp()
        outcome_image = self.world.render_wrist()[0]
        names = tuple(object_name(self.world.object_urdfs[b]) for b in outcome.lifted)
        info = self._info(fault=outcome.fault, outcome=outcome)
        info["outcome_image"] = outcome_image
        info["gripper_aperture"] = outcome.aperture
        info["grasp_sensed"] = outcome.grasp_sensed
        info["closed_aperture"] = self.world.closed_aperture
        info["close_height"] = close_height
        info["grasp_attempted"] = True
        if self.record_triplet and self._pre is not None:
            post, post_mask = self._render_triplet_scene(hide=outcome.lifted)
            info["pre_image"], info["post_image"] = self._pre[0], post
            camera = self.config.camera
            size = camera.triplet_image_size
            info["triplet_outcome_image"] = (
                outcome_image if size == camera.image_size and not camera.triplet_backdrop
                else self.world.render_wrist(size=size, backdrop=camera.triplet_backdrop)[0])
            info["ground_truth"]["pre_mask"] = self._pre[1]
            info["ground_truth"]["post_mask"] = post_mask
        info["is_success"] = outcome.fault is None and self._succeeded(names)
        if outcome.fault or self.reward_function is None:
            return float(info["is_success"]), info
        context = self._context(outcome_image, names, outcome.aperture)
        return float(self.reward_function(context)), info

    def _render_triplet_scene(self, hide: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray | None]:
        """The bin without the arm (and without ``hide``), with its mask, at the triplet size and field of view."""
        camera = self.config.camera
        return self.world.render_scene(hide_arm=True, hide=hide, with_mask=True, size=camera.triplet_image_size,
                                       fov=camera.triplet_scene_fov)

    def _succeeded(self, lifted: tuple[str, ...]) -> bool:
        return len(lifted) > 0

    def _observation(self) -> dict[str, np.ndarray]:
        if self.scene_each_step or self._scene is None:
            self._scene = self.world.render_scene()[0]
        obs = {"image": self._scene.copy(), "gripper": self.world.arm.gripper_state()}
        if self.wrist_view:
            obs["wrist"] = self.world.render_wrist()[0]
        if self.max_grasps > 1:
            obs[OUTCOME_KEY] = self._outcome.copy()
        return obs

    def _info(self, fault: str | None = None, outcome: GraspOutcome | None = None) -> dict[str, Any]:
        world = self.world
        lifted = outcome.lifted if outcome else ()
        touching = outcome.touching if outcome else ()
        truth = {
            "object_ids": list(world.objects),
            "objects": [object_name(world.object_urdfs[b]) for b in world.objects],
            "urdfs": [str(world.object_urdfs[b]) for b in world.objects],
            "lifted_ids": list(lifted),
            "lifted": [object_name(world.object_urdfs[b]) for b in lifted],
            "dropped": [object_name(world.object_urdfs[b]) for b in (outcome.dropped if outcome else ())],
            "touching_ids": list(touching),
            "object_poses": world.object_poses(),
            "released": [list(names) for names in self._released],
        }
        truth.update(self._task_info())
        return {"is_success": False, "grasp_attempted": False, "grasp_sensed": False, "fault": fault,
                "ground_truth": truth}
