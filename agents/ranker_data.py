"""What a ranker of a product's grasps is fitted on, and the fit (:mod:`agents.qtopt.ranking`).

:func:`collect_candidates` takes a product's ``k`` best grasps in each of many bins and carries each out from a
fresh reset of that bin (the simulator puts the bin back exactly, so all ``k`` outcomes of one bin are seen). The
product is loaded once per ``policy_every`` bins, as the benchmark loads it once per chunk, so its random streams
run on from bin to bin as they do in a benchmark run. :func:`fit_ranker` labels every candidate with the
Grasp2Vec reward of its outcome image for the bin's goal (thresholded and gated: no simulator truth), fits a
:class:`agents.qtopt.ranking.LogisticRanker` and writes a checkpoint folder that :func:`agents.loading.load_policy`
reads. The simulator's outcome is recorded beside each candidate for analysis, and for the oracle reward of a
labels comparison row (``reward="oracle"``); the label-free fit never reads it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from agents.loading import wrap_for_policy
from agents.qtopt.product import PoseQProduct
from agents.qtopt.ranking import (
    BASE_FOLDER,
    RANKED_ALGO,
    RANKER_FILE,
    LogisticRanker,
    RankingConfig,
    candidate_features,
    held_out_scores,
    load_product,
    product_candidates,
    save_ranked_meta,
    scan_geometry,
)
from common.io import atomic_path, atomic_write_json, file_sha256, staged_folder
from common.protocols import INSTANCE_ENV, GraspContext, PolicyCard, RewardError, RewardFunction
from envs.config import WorldSettings
from envs.goal_bank import GoalBank
from envs.grasp_env import make_world_config
from envs.grasp_pose import PosePolicy
from envs.rollout import play_episode
from envs.tasks import make_task_env

CANDIDATES_FILE = "candidates.json"
OBSERVED = ("heightmap", "heatmap", "goal")  # what a bin keeps of its first observation (any-object: no goal)
SENSED = "sensed"  # fit_ranker's label for any-object grasping: the robot's own "something is in my hand" bit
GOAL_SEED = 1_000_003  # the goal bank's default seed: training's goals, apart from the benchmark's


@dataclass(frozen=True)
class CandidateCollection:
    """Which bins, and how their candidates are drawn.

    Attributes:
        objects: the object set (``seen``: a ranker is fitted on seen objects only).
        bins: bins collected; bin ``i`` resets with seed ``first_seed + i``.
        first_seed: keep it apart from every benchmark split's trial seeds and from training's.
        goal_seed: seeds the goal bank's episodes (its goal images).
        policy_every: bins per load of the product (the benchmark's chunk size).
        ranking: how many candidates per bin, how far apart.
    """

    objects: str = "seen"
    bins: int = 300
    first_seed: int = 28_000_000
    goal_seed: int = GOAL_SEED
    policy_every: int = 10
    ranking: RankingConfig = RankingConfig()

    def __post_init__(self) -> None:
        if self.bins < 1 or self.policy_every < 1:
            raise ValueError(f"invalid collection {self}: bins and policy_every must be at least 1")


def candidate_env(card: PolicyCard, objects: str, goal_seed: int) -> Any:
    """The environment a product's card asks for: its task (instance grasping with goals from a bank seeded with
    ``goal_seed``, or any-object grasping), its world, sensors and goal features."""
    world = WorldSettings(num_objects=int(card.world["num_objects"]), image_size=int(card.world["image_size"]),
                          max_steps=int(card.world["max_steps"]))
    instance = card.env_id == INSTANCE_ENV
    bank = GoalBank(make_world_config(1, world.image_size, None), seed=goal_seed) if instance else None
    return wrap_for_policy(make_task_env(instance, objects, world, bank, wrist_view=card.wrist_view), card)


def collect_candidates(product_folder: str | Path, config: CandidateCollection, out: str | Path,
                       progress: bool = True) -> Path:
    """Collect ``config.bins`` bins into ``out``: ``candidates.json`` (per bin: seed, candidates, the product's
    scores, members' logits, and per candidate the simulator's outcome, for analysis) and ``bin-NNNN.npz`` (the
    first observation's ``heightmap``, ``heatmap`` and ``goal``, and each candidate's ``outcome_images``).

    A killed run resumes: bins are written ``policy_every`` at a time, and a rerun with the same settings starts at
    the first block not written.

    Raises:
        ValueError: ``out`` holds a collection with other settings, or the folder is not a product.
    """
    out = Path(out)
    product, card = load_product(product_folder)
    settings = {"product": str(product_folder), **dataclasses.asdict(config)}
    index = out / CANDIDATES_FILE
    rows: list[dict[str, Any]] = []
    if index.is_file():
        saved = json.loads(index.read_text())
        if saved["settings"] != json.loads(json.dumps(settings)):
            raise ValueError(f"{out} holds a collection with other settings ({saved['settings']}); choose a new folder")
        rows = saved["bins"]
    env = candidate_env(card, config.objects, config.goal_seed)
    try:  # the index is written after whole blocks only, so the bins it lists are a whole number of blocks
        blocks = range(len(rows), config.bins, config.policy_every)
        for start in tqdm(blocks, desc="candidate bins", disable=not progress, unit="block"):
            env.unwrapped.world.rebuild()
            product, _ = load_product(product_folder)
            block = [collect_bin(env, product, config, i, out) for i in range(start, min(start + config.policy_every,
                                                                                      config.bins))]
            rows.extend(block)
            atomic_write_json(index, {"settings": settings, "bins": rows})
    finally:
        env.close()
    return out


def collect_bin(env: Any, product: PoseQProduct, config: CandidateCollection, i: int, out: Path) -> dict[str, Any]:
    """Bin ``i``: the product's candidates on the first observation, each carried out from a fresh reset."""
    seed = config.first_seed + i
    observation, _ = env.reset(seed=seed)
    candidates, scores, logits = product_candidates(product, observation, config.ranking)
    world = env.unwrapped.config
    outcomes, images = [], []
    for pose in candidates:
        _, info, _ = play_episode(env, PosePolicy(lambda _, u=pose: u, world, product.config.approach), seed)
        truth = info["ground_truth"]
        outcomes.append({"success": bool(info["is_success"]), "lifted": len(truth["lifted"]),
                         "target_lifted": truth.get("target") in truth["lifted"],
                         "sensed": bool(info.get("grasp_sensed", False))})
        size = world.camera.image_size
        images.append(np.asarray(info.get("outcome_image", np.zeros((size, size, 3), np.uint8))))
    with atomic_path(out / f"bin-{i:04d}.npz") as temp, open(temp, "wb") as file:
        np.savez_compressed(file, outcome_images=np.stack(images),
                            **{key: np.asarray(observation[key]) for key in OBSERVED if key in observation})
    return {"seed": seed, "candidates": candidates.tolist(), "scores": scores.tolist(), "logits": logits.tolist(),
            "outcomes": outcomes}


def read_candidates(folders: Sequence[str | Path]) -> list[tuple[dict[str, Any], dict[str, np.ndarray]]]:
    """(row, arrays) of every bin in ``folders`` (:func:`collect_candidates`' output).

    Raises:
        FileNotFoundError: a folder holds no ``candidates.json`` or misses a bin's arrays.
        ValueError: a bin's arrays are unreadable.
    """
    result = []
    for folder in map(Path, folders):
        if not (folder / CANDIDATES_FILE).is_file():
            raise FileNotFoundError(f"{folder} holds no {CANDIDATES_FILE} (python -m runs.collect_candidates)")
        for i, row in enumerate(json.loads((folder / CANDIDATES_FILE).read_text())["bins"]):
            path = folder / f"bin-{i:04d}.npz"
            try:
                with np.load(path, allow_pickle=False) as data:
                    result.append((row, {key: data[key] for key in data.files}))
            except (OSError, ValueError, EOFError) as error:
                raise ValueError(f"{path}: unreadable candidate bin ({error})") from None
    return result


TARGET = "target"  # the names a ground-truth reward sees: the collection records what was lifted, not its names


def reward_labels(goal: np.ndarray | None, outcomes: np.ndarray, reward: RewardFunction,
                  truth: Sequence[dict[str, Any]] | None = None) -> np.ndarray:
    """``reward``'s value (K,) of each outcome image (K, H, W, 3) for the goal image (H, W, 3; None without one).

    A reward that reads ground truth (``reads_ground_truth``, the oracle) also gets what each grasp lifted, rebuilt
    from the collection's record ``truth`` (per candidate ``lifted``, a count, and ``target_lifted``) as the
    target's name and one name per other object; the label-free rewards never see it.

    Raises:
        ValueError: the reward reads ground truth and ``truth`` is missing or of another length.
    """
    if not getattr(reward, "reads_ground_truth", False):
        return reward.batch([GraspContext(goal_image=goal, outcome_image=image, lifted=(), target=None)
                             for image in outcomes])
    if truth is None or len(truth) != len(outcomes):
        raise ValueError("a reward that reads ground truth needs the collection's record of each candidate's outcome")
    contexts = []
    for image, record in zip(outcomes, truth, strict=True):
        target = (TARGET,) if record["target_lifted"] else ()
        others = tuple(f"other-{j}" for j in range(int(record["lifted"]) - len(target)))
        contexts.append(GraspContext(goal_image=goal, outcome_image=image, lifted=target + others, target=TARGET))
    return reward.batch(contexts)


def fit_ranker(product_folder: str | Path, data: Sequence[str | Path], out: str | Path, l2: float = 0.1,
               command: str = "", reward: str | RewardFunction | None = None,
               reward_args: dict[str, Any] | None = None) -> Path:
    """Fit a ranker of ``product_folder``'s candidates on the bins in ``data`` and write a ranked-product checkpoint
    folder ``out``. Labels: ``reward`` (a :func:`rewards.registry.make_reward` name built with ``reward_args``, or a
    reward) of each outcome for the bin's goal; by default the shipped Grasp2Vec reward, thresholded and gated (no
    simulator truth). The oracle reward reads the collection's record of what each grasp lifted
    (:func:`reward_labels`): a comparison row, trained the same way on labels. For an any-object product,
    ``reward="sensed"`` labels by the gripper's own bit (:func:`sensed_labels`).

    Raises:
        FileExistsError: ``out`` exists.
        ValueError: the folder is not a product, the data was collected with another number of members or
            another spacing, or every label is the same.
        RewardError: ``reward`` does not build.
    """
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists: choose a new folder for the ranked policy")
    product, card = load_product(product_folder)
    reward, label = label_reward(reward, reward_args)
    space, geometry = product.policy.space, scan_geometry(product)
    features, labels, counts, rows = [], [], set(), []
    for row, arrays in read_candidates(data):
        rows.append(row)
        logits = np.asarray(row["logits"])
        if logits.shape[0] != len(product.members):
            raise ValueError(f"bin {row['seed']} has logits of {logits.shape[0]} members; the product has "
                             f"{len(product.members)}")
        features.append(candidate_features(arrays["heightmap"], arrays.get("heatmap"), np.asarray(row["candidates"]),
                                           logits, space, geometry))
        labels.append(sensed_labels(row) if reward is None else
                      reward_labels(arrays.get("goal"), arrays["outcome_images"], reward, row["outcomes"]))
        counts.add(len(row["candidates"]))
    if len(counts) != 1:
        raise ValueError(f"the bins hold {sorted(counts)} candidates each; fit on bins collected alike")
    x, y = np.stack(features), np.asarray(labels, np.float32)
    ranker = LogisticRanker.fit(x, y, l2)
    config = RankingConfig(candidates=counts.pop(), avoid_radius=product_candidates_radius(data))
    success = np.asarray([[o["success"] for o in row["outcomes"]] for row in rows], np.float32)
    with staged_folder(out) as staging:
        shutil.copytree(product_folder, staging / BASE_FOLDER)
        ranker.save(staging / RANKER_FILE)
        save_ranked_meta(staging, config, {
            "ranker_sha256": file_sha256(staging / RANKER_FILE), "base_source": str(product_folder),
            "data": [str(folder) for folder in data], "bins": len(x), "reward_rate": float(y.mean()),
            "label": label, "l2": l2,
            "cross_validation": cross_validate(x, y, success, l2), "command": command})
        dataclasses.replace(card, algo=RANKED_ALGO, reward=f"{card.reward} + ranker").save(staging)
    return out


def sensed_labels(row: dict[str, Any]) -> np.ndarray:
    """(K,) the robot's own "something is in my hand" bit of each candidate of a bin (any-object grasping's label).

    Raises:
        ValueError: the collection did not record it (collected before it was).
    """
    try:
        return np.asarray([float(outcome[SENSED]) for outcome in row["outcomes"]], np.float32)
    except KeyError:
        raise ValueError(f"bin {row['seed']} records no sensed bit: collect it again") from None


def label_reward(reward: str | RewardFunction | None, reward_args: dict[str, Any] | None = None
                 ) -> tuple[RewardFunction | None, str]:
    """The reward that labels candidates, and how a card names it: by default the shipped Grasp2Vec reward,
    thresholded and gated; else a :func:`rewards.registry.make_reward` name built with ``reward_args``, or a reward;
    :data:`SENSED` gives None: the gripper's own bit labels (:func:`sensed_labels`).

    Raises:
        RewardError: ``reward_args`` without a reward name, or a reward that does not build.
    """
    from rewards.registry import make_reward

    if reward_args and (not isinstance(reward, str) or reward == SENSED):
        raise RewardError(f"reward arguments {reward_args} need a reward name to build")
    if reward == SENSED:
        return None, "the gripper's sensed bit (aperture after the lift)"
    if reward is None:
        return make_reward("grasp2vec", thresholded=True), "grasp2vec reward (thresholded, gated)"
    if isinstance(reward, str):
        words = [reward, *(f"{key}={value}" for key, value in (reward_args or {}).items())]
        return make_reward(reward, **(reward_args or {})), " ".join(words)
    return reward, type(reward).__name__


def cross_validate(x: np.ndarray, labels: np.ndarray, success: np.ndarray, l2: float, folds: int = 5
                   ) -> dict[str, Any]:
    """How often the ranker's pick is rewarded, fitted on the other folds of bins (features (N, K, F), labels and
    the simulator's success (N, K)), against the product's first: what to expect before a benchmark run. The
    success columns read simulator truth and are for the reader only; nothing is fitted on them."""
    folds = min(folds, len(x))
    try:
        picks = held_out_scores(x, labels, l2, folds).argmax(1)
    except ValueError as error:
        if "all one value" not in str(error):
            raise
        return {"folds": folds, "skipped": "a training fold's labels are all one value"}
    rows = np.arange(len(x))
    return {"folds": folds, "pick_rewarded": float(labels[rows, picks].mean()),
            "first_rewarded": float(labels[:, 0].mean()), "pick_success": float(success[rows, picks].mean()),
            "first_success": float(success[:, 0].mean())}


def product_candidates_radius(data: Sequence[str | Path]) -> float:
    """The candidates' spacing the collections in ``data`` used (they must agree)."""
    radii = {json.loads((Path(folder) / CANDIDATES_FILE).read_text())["settings"]["ranking"]["avoid_radius"]
             for folder in data}
    if len(radii) != 1:
        raise ValueError(f"the collections spaced candidates {sorted(radii)} apart; fit on collections made alike")
    return float(radii.pop())
