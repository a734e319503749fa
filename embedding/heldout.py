"""Held-out grasps for evaluation: read from a dataset folder or collected on the spot.

Collection runs the indiscriminate scripted policy (``RandomGraspPolicy``) in ``KukaGrasp-v0``
with ``record_triplet=True`` and keeps the attempts that lifted exactly one object; the object's
pre-grasp mask comes from the simulator's segmentation (ground truth, evaluation only).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from embedding.evaluate import GoalSource, HeldOutGrasps
from envs.goal_bank import GoalBank
from envs.objects import ObjectSpec, object_name, resolve_objects
from envs.rollout import play_episode


def collect_held_out(objects: ObjectSpec, attempts: int, seed: int, image_size: int = 64, num_objects: int = 5,
                     progress: bool = True) -> HeldOutGrasps:
    """Run ``attempts`` episodes (seeds ``seed .. seed + attempts - 1``) and keep single-object lifts."""
    from envs.grasp_env import KukaGraspEnv
    from envs.scripted import RandomGraspPolicy

    if attempts < 1:
        raise ValueError(f"attempts must be positive, got {attempts}")
    env = KukaGraspEnv(objects=objects, num_objects=num_objects, image_size=image_size, record_triplet=True)
    policy = RandomGraspPolicy(env.config, seed=seed)
    records: list[dict] = []
    urdfs: dict[str, str] = {}
    try:
        for episode in tqdm(range(attempts), desc="held-out grasps", disable=not progress):
            _, info, _ = play_episode(env, policy, seed + episode)
            truth = info["ground_truth"]
            if not info["is_success"] or len(truth["lifted_ids"]) != 1:
                continue
            lifted = truth["lifted_ids"][0]
            urdfs.update(zip(truth["objects"], truth["urdfs"], strict=True))
            records.append({"pre": info["pre_image"], "post": info["post_image"],
                            "outcome": info["triplet_outcome_image"], "object": truth["lifted"][0],
                            "pre_object_mask": truth["pre_mask"] == lifted})
    finally:
        env.close()
    return HeldOutGrasps.from_records(records, urdfs)


def read_held_out(roots: str | Path | Sequence[str | Path], objects: ObjectSpec | None = None,
                  limit: int | None = None, progress: bool = True) -> HeldOutGrasps:
    """All single-object successful grasps of dataset folders (``EvaluationGrasps(roots, split="all")``),
    at most ``limit``. ``objects`` (the set the data was collected on) lets goal-bank goals find the URDFs."""
    from embedding.dataset import EvaluationGrasps

    grasps = EvaluationGrasps(roots, split="all")
    count = len(grasps) if limit is None else min(limit, len(grasps))
    records = [grasps[i] for i in tqdm(range(count), desc="reading held-out grasps", disable=not progress)]
    urdfs = {object_name(p): str(p) for p in resolve_objects(objects)} if objects is not None else {}
    return HeldOutGrasps.from_records(records, urdfs)


def goal_bank_source(grasps: HeldOutGrasps, seed: int) -> tuple[GoalSource, GoalBank]:
    """A goal source that grasps the object alone in an episode of its own (``GoalBank``, seeds from ``seed``)."""
    from envs.grasp_env import make_world_config

    bank = GoalBank(make_world_config(1, grasps.image_size, None), seed=seed)

    def source(name: str) -> np.ndarray | None:
        urdf = grasps.urdfs.get(name)
        if urdf is None or not bank.has_goal(Path(urdf)):
            return None
        return bank.sample(Path(urdf), np.random.default_rng(seed))

    return source, bank
