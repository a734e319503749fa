"""Session 21's analysis probes (issue #14). They read the simulator's truth to explain results; nothing here is a
policy or trains one. Run from the repository root, one probe per call:

    PYTHONPATH=. python docs/results/val-s21/probes.py fingers seen 100 OUT.json
    PYTHONPATH=. python docs/results/val-s21/probes.py heatmap-fingers seen 200 OUT.json
    PYTHONPATH=. python docs/results/val-s21/probes.py object-grasp seen 200 OUT.json '{"heat_fraction": 0.5}'
    PYTHONPATH=. python docs/results/val-s21/probes.py top-k seen 150 7 OUT.json [NPZ_FOLDER]
    PYTHONPATH=. python docs/results/val-s21/probes.py ranker FOLDER [FOLDER ...]
    PYTHONPATH=. python docs/results/val-s21/probes.py fit-ranker RANKER.npz FOLDER [FOLDER ...]
    PYTHONPATH=. python docs/results/val-s21/probes.py score-ranker RANKER.npz FOLDER [FOLDER ...]
    PYTHONPATH=. python docs/results/val-s21/probes.py ranked seen 200 OUT.json RANKER.npz

- ``fingers``: the shipped instance product on validation trials, and where its fingertips are when it closes
  (the pose, the end effector, the fingertips, the wrist, the target and the other objects).
- ``heatmap-fingers``: the benchmark's ``heatmap`` row with its fingertips, not its end effector, on the peak.
- ``object-grasp``: a label-free object-centred grasp. The goal heatmap's hottest occupied height-map cell seeds
  a region of occupied cells (warm enough, within 6 cm, optionally without height steps); the fingers close at
  its centre across its narrow axis.
- ``top-k``: the shipped product's 4 best grasps at least 2 cm apart (``envs.grasp_pose.Avoid``), each carried
  out from a fresh reset of the same bin (trial seeds of seed block BLOCK); with NPZ_FOLDER it also keeps each
  bin's first observation and outcome images.
- ``ranker``: 5-fold cross-validated logistic regression over ``top-k`` bins: does a model on label-free
  features of each candidate pick a successful one more often than the product's first? Trained on the
  simulator's success or on the shipped Grasp2Vec reward (label-free), scored by success.
- ``fit-ranker``: that model fitted on every bin with the Grasp2Vec reward as the label; ``score-ranker``: its
  pick on other ``top-k`` bins; ``ranked``: the product's four best grasps, the ranker's pick carried out, on
  validation trials (paired with the benchmark's run of the product).

The trial loops follow ``benchmark.runner.run_chunk`` (a fresh simulation every 10 trials), so ``fingers``,
``heatmap-fingers`` and ``object-grasp`` pair trial for trial with ``runs.benchmark`` on the same split.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.baselines import HeatmapGraspPolicy
from agents.loading import load_policy
from agents.qtopt import ranking
from benchmark.paired import mcnemar_exact
from benchmark.runner import BenchmarkConfig, plan
from benchmark.tasks import ROWS, ObservationOnly, make_env, make_goal_bank, row_card, run_trial, trial_seed
from envs.config import WorldConfig
from envs.grasp_pose import ApproachConfig, PosePolicy, PoseSpace, wrap_half_turn
from envs.heightmap import HEIGHT_UNIT, GridGeometry, HeightmapConfig
from envs.rollout import play_episode

PRODUCT = "checkpoints/policies/qtopt-grasp2vec-product/checkpoint"
CHUNK = 10  # trials per fresh simulation, as the benchmark's chunks


def product_env(objects: str, row: str = "qtopt-grasp2vec-product") -> Any:
    """The validation env a benchmark row runs in (the shipped product's by default: its sensors and goal features)."""
    torch.set_num_threads(1)
    config = BenchmarkConfig(rows=(row,), objects=(objects,), trials=1, split="validation")
    chunk = plan(config, ROWS)[2][0]
    bank = make_goal_bank(chunk.settings.image_size, chunk.goal_seed)
    return make_env(chunk.cell, chunk.settings, bank, row_card(chunk.cell.row))


def run_trials(env: Any, trials: int, policy_for_chunk: Callable[[], Any], first: int = 0) -> list[dict[str, Any]]:
    """Validation trials ``first`` .. ``first + trials - 1`` of ``env``, a fresh simulation and policy every 10 trials
    (``first`` a multiple of 10, as ``runs.benchmark --first-trial`` chunks them)."""
    keys = list(env.observation_space.spaces)
    seed = BenchmarkConfig(split="validation").seed
    results = []
    for start in range(first, first + trials, CHUNK):
        env.unwrapped.world.rebuild()
        policy = policy_for_chunk()
        for i in range(start, min(start + CHUNK, first + trials)):
            results.append(run_trial(env, ObservationOnly(policy, keys), trial_seed(seed, i)).__dict__)
    return results


class CloseSpy:
    """Wraps a policy; at its first closing action records where the pose, the end effector and the fingertips are."""

    def __init__(self, policy: Any, env: Any) -> None:
        self.policy, self.env = policy, env
        self.space = PoseSpace(env.unwrapped.config)
        self.record: dict[str, Any] = {}

    def reset(self) -> None:
        self.policy.reset()
        self.record = {}

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        action = self.policy.act(observation)
        if action[4] > 0 and not self.record:
            env = self.env.unwrapped
            world, arm = env.world, env.world.arm
            self.record = dict(pose=self.space.to_pose(self.policy.chosen).tolist(),
                               end_effector=arm.end_effector_position().tolist(), fingers=arm.grasp_point().tolist(),
                               tips=[t.tolist() for t in arm.fingertips()],
                               wrist=float(world.client.getJointState(arm.body, 7)[0]),
                               orientation=list(arm.end_effector_pose()[1]),
                               target=world.object_position(env.target_body).tolist(),
                               others=[world.object_position(b).tolist() for b in world.objects
                                       if b != env.target_body])
        return action

    def trial_report(self) -> dict[str, Any]:
        return dict(self.record)


class FingersOnPeak(HeatmapGraspPolicy):
    """The ``heatmap`` row with the fingertips, not the end effector, on the heatmap's peak."""

    def choose(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        space = self.policy.space
        pose = space.to_pose(super().choose(observation))
        return space.pose_at_fingers(pose[:2], pose[2])


def grow(seed: np.ndarray, allowed: np.ndarray, heights: np.ndarray, step: float | None) -> np.ndarray:
    """The 4-connected region of ``allowed`` cells reached from ``seed``; with ``step``, only across neighbours whose
    heights differ by less than ``step`` metres."""
    rows = np.abs(np.diff(heights, axis=0)) < step if step else np.ones((heights.shape[0] - 1, heights.shape[1]), bool)
    cols = np.abs(np.diff(heights, axis=1)) < step if step else np.ones((heights.shape[0], heights.shape[1] - 1), bool)
    region = seed.copy()
    while True:
        grown = region.copy()
        grown[1:] |= region[:-1] & rows
        grown[:-1] |= region[1:] & rows
        grown[:, 1:] |= region[:, :-1] & cols
        grown[:, :-1] |= region[:, 1:] & cols
        grown &= allowed
        if grown.sum() == region.sum():
            return grown
        region = grown


class ChoosingPolicy:
    """A pose policy whose ``choose`` decides once per episode and reports what it decided (``self.report``)."""

    policy: PosePolicy
    report: dict[str, Any]

    def reset(self) -> None:
        self.policy.reset()

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        return self.policy.act(observation)

    def trial_report(self) -> dict[str, Any]:
        return dict(self.report)


class ObjectGrasp(ChoosingPolicy):
    """A label-free object-centred grasp from the height map and the goal heatmap (module docstring)."""

    def __init__(self, world: WorldConfig, min_height: float = 0.01, heat_fraction: float = 0.5,
                 radius: float = 0.06, step: float | None = None, centre: str = "mean",
                 approach: dict[str, Any] | None = None) -> None:
        self.space = PoseSpace(world)
        self.cells = GridGeometry.of(world.layout, HeightmapConfig()).cell_centres()  # (Hm, Wm, 2) metres
        self.grid = self.space.project(torch.as_tensor(self.cells, dtype=torch.float32))[None]
        self.min_height, self.heat_fraction, self.radius = min_height, heat_fraction, radius
        self.step, self.centre = step, centre
        self.policy = PosePolicy(self.choose, world, ApproachConfig(**(approach or {})))
        self.report: dict[str, Any] = {}

    def choose(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        heights = np.asarray(observation["heightmap"])[..., 0] * HEIGHT_UNIT
        heat = torch.as_tensor(np.asarray(observation["heatmap"])[..., 0], dtype=torch.float32)[None, None] / 255
        heat = torch.nn.functional.grid_sample(heat, self.grid, mode="bilinear", align_corners=False)[0, 0].numpy()
        occupied = heights >= self.min_height
        if not occupied.any():
            return np.zeros(3)
        seed = np.unravel_index(np.argmax(np.where(occupied, heat, -1.0)), heat.shape)
        near = np.linalg.norm(self.cells - self.cells[seed], axis=-1) <= self.radius
        start = np.zeros_like(occupied)
        start[seed] = True
        region = grow(start, occupied & near & (heat >= self.heat_fraction * heat[seed]), heights, self.step)
        points = self.cells[region]
        centre = points.mean(0) if self.centre == "mean" else 0.5 * (points.min(0) + points.max(0))
        narrow = np.linalg.eigh(np.cov((points - centre).T))[1][:, 0] if len(points) >= 3 else np.array([1.0, 0.0])
        yaw = wrap_half_turn(np.pi - np.arctan2(narrow[1], narrow[0]))  # fingers close along (-cos yaw, sin yaw)
        self.report = dict(cells=int(region.sum()), centre=centre.tolist(), yaw=float(yaw))
        return self.space.pose_at_fingers(centre, yaw)


def carry_out(env: Any, pose: np.ndarray, seed: int) -> dict[str, Any]:
    """Reset ``env`` with ``seed`` in a fresh simulation and carry out normalised ``pose`` as the benchmark carries out
    a pose policy's choice (:class:`envs.grasp_pose.PosePolicy`, :func:`envs.rollout.play_episode`)."""
    env.unwrapped.world.rebuild()
    _, info, _ = play_episode(env, PosePolicy(lambda _: pose, env.unwrapped.config), seed)
    truth = info["ground_truth"]
    outcome = np.asarray(info.get("outcome_image", np.zeros((64, 64, 3), np.uint8)))  # none when nothing closed
    return dict(success=bool(info["is_success"]), lifted=len(truth["lifted"]),
                target_lifted=truth["target"] in truth["lifted"], outcome_image=outcome)


def product_candidates(product: Any, observation: dict[str, Any], k: int = 4
                       ) -> tuple[list[np.ndarray], list[float], list[list[float]]]:
    """The product's best pose and its next best at least 2 cm from the ones before, ``k`` in all: (poses, the
    product's scores, each member's logits (members, k)); :func:`agents.qtopt.ranking.product_candidates`."""
    poses, scores, logits = ranking.product_candidates(product, observation, ranking.RankingConfig(candidates=k))
    return list(poses), scores.tolist(), logits.tolist()


def top_k(objects: str, bins: int, block: int, out: str, npz_folder: str | None, k: int = 4) -> None:
    env = product_env(objects)
    rows = []
    for i in range(bins):
        seed = trial_seed(block, i)
        env.unwrapped.world.rebuild()
        product = load_policy(PRODUCT)[0]
        observation, _ = env.reset(seed=seed)
        candidates, scores, logits = product_candidates(product, observation, k)
        outcomes = [carry_out(env, u, seed) for u in candidates]
        rows.append(dict(seed=seed, candidates=[c.tolist() for c in candidates], scores=scores, logits=logits,
                         outcomes=[{key: v for key, v in o.items() if key != "outcome_image"} for o in outcomes]))
        if npz_folder:
            Path(npz_folder).mkdir(parents=True, exist_ok=True)
            first = {key: np.asarray(v) for key, v in observation.items() if key in ("heightmap", "heatmap", "goal")}
            np.savez_compressed(f"{npz_folder}/bin-{i:04d}.npz", outcome_images=np.stack(
                [o["outcome_image"] for o in outcomes]), **first)
        Path(out).write_text(json.dumps(rows))
    successes = np.array([[o["success"] for o in r["outcomes"]] for r in rows])
    print(f"{objects}, {bins} bins: first {successes[:, 0].mean():.3f}, each {successes.mean(0).round(3)}, "
          f"best of {k} {successes.any(1).mean():.3f}")


def candidate_features(heightmap: np.ndarray, heatmap: np.ndarray, candidates: list[list[float]],
                       logits: list[list[float]]) -> np.ndarray:
    """Label-free features (K, F) of a bin's candidates in the default world (:func:`agents.qtopt.ranking.
    candidate_features`)."""
    geometry = GridGeometry.of(WorldConfig().layout, HeightmapConfig())
    return ranking.candidate_features(heightmap, heatmap, np.asarray(candidates), np.asarray(logits),
                                      PoseSpace(WorldConfig()), geometry)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> dict[str, np.ndarray]:
    """:class:`agents.qtopt.ranking.LogisticRanker` fitted on features (N, K, F), as a dict of its arrays."""
    return dict(ranking.LogisticRanker.fit(x, y, l2).__dict__)


def logistic_scores(model: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Logits (..., K) of candidates' features (..., K, F) under a :func:`fit_logistic` model."""
    return ranking.LogisticRanker(**model).scores(x)


def top_k_bins(folders: list[str]) -> Iterator[tuple[dict[str, Any], Any]]:
    """(row, arrays) of every bin the ``top-k`` probe saved in ``folders`` (its JSON row, its NPZ arrays)."""
    for folder in folders:
        rows = json.loads(Path(folder, "top-k.json").read_text())
        for i, row in enumerate(rows):
            yield row, np.load(Path(folder, f"bin-{i:04d}.npz"))


def ranker(folders: list[str]) -> None:
    """5-fold cross-validation over bins: the ranker trained on the simulator's success or on the Grasp2Vec reward,
    its pick scored by the simulator's success, paired with the product's first."""
    features, success, rewarded = [], [], []
    for row, arrays in top_k_bins(folders):
        features.append(candidate_features(arrays["heightmap"], arrays["heatmap"], row["candidates"], row["logits"]))
        success.append([o["success"] for o in row["outcomes"]])
        rewarded.append(reward_labels(arrays["goal"], arrays["outcome_images"]))
    x, y, g = np.stack(features), np.asarray(success, np.float32), np.asarray(rewarded, np.float32)
    print(f"{len(x)} bins: the product's first {y[:, 0].mean():.3f}, each {y.mean(0).round(3)}, best of 4 "
          f"{y.max(1).mean():.3f}; the reward agrees with success on {(g == y).mean():.3f} of the candidates")
    for name, labels in (("success", y), ("grasp2vec reward", g)):
        for l2 in (1e-2, 1e-1, 1.0):
            picked = y[np.arange(len(x)), ranking.held_out_scores(x, labels, l2).argmax(1)]
            wins, losses = int(((picked == 1) & (y[:, 0] == 0)).sum()), int(((picked == 0) & (y[:, 0] == 1)).sum())
            print(f"  labels {name}, L2 {l2}: the pick succeeds in {picked.mean():.3f}; against the first "
                  f"{wins} / {losses} (exact McNemar p = {mcnemar_exact(wins, losses):.3f})")


def reward_labels(goal: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """The shipped Grasp2Vec reward (thresholded, gated; no labels) of each outcome image (K, H, W, 3) for the goal."""
    from common.protocols import GraspContext
    from rewards.registry import make_reward

    reward = REWARD.setdefault("grasp2vec", make_reward("grasp2vec", thresholded=True))
    return reward.batch([GraspContext(goal_image=goal, outcome_image=image, lifted=(), target=None)
                         for image in outcomes])


REWARD: dict[str, Any] = {}


def fit_ranker(folders: list[str], out: str, l2: float = 0.1) -> None:
    """Fit the logistic ranker on every bin of ``folders`` with the Grasp2Vec reward as the label; save it."""
    features, labels = [], []
    for row, arrays in top_k_bins(folders):
        features.append(candidate_features(arrays["heightmap"], arrays["heatmap"], row["candidates"], row["logits"]))
        labels.append(reward_labels(arrays["goal"], arrays["outcome_images"]))
    x, y = np.stack(features), np.asarray(labels, np.float32)
    np.savez(out, **fit_logistic(x, y, l2))
    print(f"ranker fitted on {len(x)} bins (reward rate {y.mean():.3f}), saved to {out}")


def score_ranker(ranker_file: str, folders: list[str]) -> None:
    """A fitted ranker's pick on other ``top-k`` bins (each candidate carried out from a fresh reset), scored by the
    simulator's success and paired with the product's first."""
    model = dict(np.load(ranker_file))
    picked, first = [], []
    for row, arrays in top_k_bins(folders):
        x = candidate_features(arrays["heightmap"], arrays["heatmap"], row["candidates"], row["logits"])
        picked.append(row["outcomes"][int(logistic_scores(model, x).argmax())]["success"])
        first.append(row["outcomes"][0]["success"])
    pick, top = np.asarray(picked), np.asarray(first)
    wins, losses = int((pick & ~top).sum()), int((~pick & top).sum())
    print(f"{len(pick)} bins: the ranker's pick {pick.mean():.3f}, the product's first {top.mean():.3f}; "
          f"{wins} / {losses} (exact McNemar p = {mcnemar_exact(wins, losses):.3f})")


class RankedProduct(ChoosingPolicy):
    """The shipped product's four best grasps, the one the fitted ranker scores highest carried out."""

    def __init__(self, env: Any, ranker_file: str) -> None:
        self.product = load_policy(PRODUCT)[0]
        self.model = dict(np.load(ranker_file))
        self.policy = PosePolicy(self.choose, env.unwrapped.config)
        self.report: dict[str, Any] = {}

    def choose(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        candidates, _, logits = product_candidates(self.product, observation)
        x = candidate_features(np.asarray(observation["heightmap"]), np.asarray(observation["heatmap"]),
                               [c.tolist() for c in candidates], logits)
        scores = logistic_scores(self.model, x)
        self.report = dict(scores=scores.round(4).tolist(), chosen=int(scores.argmax()))
        return candidates[int(scores.argmax())]


def main(argv: list[str]) -> None:
    probe, args = argv[0], argv[1:]
    if probe == "ranker":
        ranker(args)
        return
    if probe == "fit-ranker":
        fit_ranker(args[1:], args[0])
        return
    if probe == "score-ranker":
        score_ranker(args[0], args[1:])
        return
    objects, trials = args[0], int(args[1])
    if probe == "top-k":
        top_k(objects, trials, int(args[2]), args[3], args[4] if len(args) > 4 else None)
        return
    out = Path(args[2])
    env = product_env(objects, "heatmap" if probe == "heatmap-fingers" else "qtopt-grasp2vec-product")
    if probe == "fingers":
        results = run_trials(env, trials, lambda: CloseSpy(load_policy(PRODUCT)[0], env))
    elif probe == "heatmap-fingers":
        results = run_trials(env, trials, lambda: FingersOnPeak(env.unwrapped.config))
    elif probe == "ranked":
        results = run_trials(env, trials, lambda: RankedProduct(env, args[3]))
    elif probe == "object-grasp":
        settings = json.loads(args[3]) if len(args) > 3 else {}
        results = run_trials(env, trials, lambda: ObjectGrasp(env.unwrapped.config, **settings))
    else:
        raise SystemExit(f"unknown probe {probe!r}: fingers, heatmap-fingers, object-grasp, top-k, ranker, "
                         "fit-ranker, score-ranker or ranked")
    out.write_text(json.dumps(results, default=str))
    print(f"{probe} {objects}: success {np.mean([r['success'] for r in results]):.3f} over {len(results)} trials")


if __name__ == "__main__":
    main(sys.argv[1:])
