"""Run one collection episode and turn what the environment returned into a :class:`GraspRecord`."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from common.protocols import Policy
from envs.grasp_env import KEEP_ACTION, OUTCOME_KEY, RELEASE_ACTION, awaits_keep_or_release
from envs.heightmap_observation import HEIGHTMAP_KEY
from graspdata.records import GraspRecord, GroundTruth

SEED_BITS = 63


def episode_seed(base_seed: int, index: int) -> int:
    """Reset seed of episode ``index`` of a dataset collected with ``base_seed`` (63-bit, a pure function).

    Every episode owns its seed whichever worker runs it, so ``--resume`` never repeats one and
    the same command always collects the same grasps.
    """
    state = np.random.SeedSequence([base_seed, index]).generate_state(2, np.uint32)
    return int((int(state[0]) << 32 | int(state[1])) & ((1 << SEED_BITS) - 1))


def policy_seed(base_seed: int, index: int) -> int:
    """Seed handed to the policy for episode ``index``: a stream apart from the environment's."""
    return int(np.random.SeedSequence([base_seed, index, 1]).generate_state(1, np.uint32)[0])


def _slot_mask(mask: np.ndarray, object_ids: list[int]) -> np.ndarray:
    """PyBullet body-id mask (H, W) → (H, W) int8 index into ``object_ids``, -1 for anything else."""
    slots = np.full(mask.shape, -1, np.int8)
    for slot, body in enumerate(object_ids):
        slots[mask == body] = slot
    return slots


def _ground_truth(reset_truth: dict[str, Any], final_info: dict[str, Any],
                  again_info: dict[str, Any] | None = None, regrasp: bool = False) -> GroundTruth:
    truth = final_info["ground_truth"]
    ids = list(reset_truth["object_ids"])
    lifted = np.array([body in truth["lifted_ids"] for body in ids], bool)
    touching = np.array([body in truth["touching_ids"] for body in ids], bool) if "touching_ids" in truth else None
    masks = [_slot_mask(truth[k], ids) if k in truth else None for k in ("pre_mask", "post_mask")]
    again = None
    if regrasp:
        again_ids = again_info["ground_truth"]["lifted_ids"] if again_info is not None else []
        again = np.array([body in again_ids for body in ids], bool)
    return GroundTruth(objects=tuple(reset_truth["objects"]), urdfs=tuple(reset_truth["urdfs"]), lifted=lifted,
                       object_poses=np.asarray(reset_truth["object_poses"], np.float32),
                       pre_mask=masks[0], post_mask=masks[1], touching=touching, again_lifted=again)


def _sensed(info: dict[str, Any]) -> bool | None:
    return (bool(info["grasp_sensed"]) and not info["fault"]) if "grasp_sensed" in info else None


def _record(env: gym.Env, index: int, seed: int, reset_truth: dict[str, Any], observations: list[dict],
            actions: list[np.ndarray], rewards: list[float], terminated: bool, info: dict[str, Any],
            again: dict[str, Any] | None = None, regrasp: bool = False) -> GraspRecord:
    """The record of an attempt that ended with ``info``; with ``regrasp``, ``again`` is the info of the same grasp
    made again (None: not made)."""
    heightmap = observations[0].get(HEIGHTMAP_KEY)
    observations = [{k: v for k, v in o.items() if k not in (HEIGHTMAP_KEY, OUTCOME_KEY)} for o in observations]
    size = env.unwrapped.config.camera.triplet_image_size
    blank = np.zeros((size, size, 3), np.uint8)
    again_image, again_sensed = None, None
    if regrasp:
        again_image = again.get("triplet_outcome_image", blank) if again is not None else blank
        again_sensed = bool(_sensed(again)) if again is not None else False
    return GraspRecord(
        index=index, key=seed, seed=seed,
        pre_image=info.get("pre_image", blank), post_image=info.get("post_image", blank),
        outcome_image=info.get("triplet_outcome_image", blank),
        grasp_attempted=bool(info["grasp_attempted"]), success=bool(info["is_success"]), fault=info["fault"] or "",
        observations={k: np.stack([o[k] for o in observations]) for k in observations[0]},
        actions=np.stack(actions), rewards=np.asarray(rewards, np.float32), terminated=bool(terminated),
        truth=_ground_truth(reset_truth, info, again, regrasp),
        outcome_aperture=float(info.get("gripper_aperture", np.nan)), grasp_sensed=_sensed(info),
        pre_heightmap=heightmap, again_outcome_image=again_image, again_sensed=again_sensed)


def run_episode(env: gym.Env, policy: Policy, index: int, seed: int) -> GraspRecord:
    """Reset ``env`` with ``seed``, let ``policy`` act until the episode ends, and record it.

    ``env`` must be a Kuka grasp env created with ``record_triplet=True``. A ``heightmap`` observation
    (:class:`envs.heightmap_observation.HeightmapObservation`: one scan per episode) is stored once, as
    the record's ``pre_heightmap``, not with every step.
    """
    observation, info = env.reset(seed=seed)
    policy.reset()
    reset_truth = info["ground_truth"]
    observations, actions, rewards = [observation], [], []
    done, terminated = False, False
    while not done:
        action = np.asarray(policy.act(observation), dtype=np.float32)
        observation, reward, terminated, truncated, info = env.step(action)
        observations.append(observation)
        actions.append(action)
        rewards.append(reward)
        done = terminated or truncated
    return _record(env, index, seed, reset_truth, observations, actions, rewards, terminated, info)


def run_regrasp_same_episode(env: gym.Env, policy: Policy, index: int, seed: int) -> GraspRecord:
    """:func:`run_episode`, then, when the gripper sensed what it lifted, put it back and make the same grasp again:
    the attempt's actions replayed from the home pose the put-back leaves the arm in. That second lift's outcome
    and sensed bit go into the record's ``again_*`` fields; everything else is what :func:`run_episode` records for
    the same seed (the second lift comes after the attempt's triplet was rendered).

    ``env`` must be a Kuka grasp env with ``record_triplet=True``, ``max_grasps=2`` and no reward function (a lift
    pays its ``is_success``, as in a one-grasp collection).
    """
    world = env.unwrapped
    if world.max_grasps != 2 or world.reward_function is not None:
        raise ValueError("a regrasp-same collection needs a KukaGraspEnv with max_grasps=2 and no reward function, "
                         f"got max_grasps={world.max_grasps}, reward={world.reward_function!r}")
    observation, info = env.reset(seed=seed)
    policy.reset()
    reset_truth = info["ground_truth"]
    observations, actions, rewards = [observation], [], []
    done, terminated, lifted = False, False, False
    while not done:
        action = np.asarray(policy.act(observation), dtype=np.float32)
        observation, reward, terminated, truncated, info = env.step(action)
        # A lift that faulted ends the episode with the fingers closed: it awaits nothing.
        lifted = awaits_keep_or_release(observation) and not (terminated or truncated)
        observations.append(observation)
        actions.append(action)
        rewards.append(float(info["is_success"]) if lifted else reward)  # a one-grasp world pays the lift at once
        done = terminated or truncated or lifted
    again = None
    if lifted and _sensed(info):
        observation, _, faulted, _, _ = env.step(RELEASE_ACTION)
        for action in actions if not faulted else ():
            observation, _, ended, truncated, again = env.step(action)
            if ended or truncated:
                break
        if again is not None and not again.get("grasp_attempted", False):
            again = None
    elif lifted:
        env.step(KEEP_ACTION)
    return _record(env, index, seed, reset_truth, observations, actions, rewards, terminated or lifted, info,
                   again, regrasp=True)
