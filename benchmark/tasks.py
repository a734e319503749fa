"""What one benchmark trial is: the rows (policies), the environments they are scored in, and the
observation-only harness that runs a trial.

A *cell* is (row, object set, goal kind); a *trial* is one episode of a cell, reset with
:func:`trial_seed`. Trial ``i`` uses the same seed in every row, so rows are compared on the same
bins and targets. Policies see observations only (:class:`ObservationOnly`); ``info`` and its
ground truth are read by :func:`run_trial` to score, never passed on. The privileged scripted row
is the one, declared exception: it reads the simulator to be the ceiling.

Goal kinds:
- ``single``: the instance task of ``KukaInstanceGrasp-v0``; success = the target, and only it, lifted.
- ``composite``: two targets, goals for both (:class:`CompositeGoalEnv`); success = exactly one
  object lifted and it is one of the two.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents.core.evaluation import EVAL_SEED_OFFSET
from agents.core.goal_features import GoalObservationWrapper
from agents.loading import is_policy_checkpoint
from common.protocols import INDISCRIMINATE_ENV, INSTANCE_ENV, POLICY_CARD, Policy, PolicyCard
from embedding.heatmap import DENSE
from envs.config import WorldSettings
from envs.goal_bank import GoalBank
from envs.grasp_env import KEEP_ACTION, awaits_keep_or_release, make_world_config
from envs.instance_env import KukaInstanceGraspEnv
from envs.objects import object_name
from envs.rollout import act_until_done
from envs.tasks import make_task_env
from rewards.grasp2vec import DEFAULT_CHECKPOINT

# Training resets use seeds below EVAL_SEED_OFFSET, training-time evaluations the next block; the
# benchmark starts above both. Collected datasets use 63-bit hashed seeds (graspdata.episode.episode_seed).
BENCHMARK_SEED_OFFSET = 2 * EVAL_SEED_OFFSET
TRIALS_PER_SEED = 1_000_000  # seed block S uses trial seeds BENCHMARK_SEED_OFFSET + S * TRIALS_PER_SEED + i
# The benchmark's two disjoint splits and their seed blocks: test = the headline (every published table),
# validation = what model selection reads (candidates against the shipped policy).
SPLITS: dict[str, int] = {"test": 0, "validation": 1}
# Goal images are grasped in episodes of their own, seeded apart from runs.train_policy's bank (GoalBank default).
BENCHMARK_GOAL_SEED = 3_000_017
# A bin without a goal-able target (no object, or for composite goals only one, could be grasped alone to make
# a goal image) is redrawn at seed + k * REDRAW_STRIDE, k = 1 .. MAX_DRAWS - 1.
REDRAW_STRIDE = 7_919
MAX_DRAWS = 8
TASKS = ("instance", "indiscriminate")
GOAL_KINDS = ("single", "composite")
SCRIPTED = ("random", "heatmap", "privileged")
HEATMAP_SOURCES = ("heatmap", "heatmap-q")  # rows that see the shipped Grasp2Vec's goal heatmap
# The heatmap rows' inputs: the shipped Grasp2Vec checkpoint's goal heatmap, read densely (embedding.heatmap.DENSE),
# as a trained policy's card would say.
HEATMAP_CARD = PolicyCard(algo="scripted", reward="none", world={}, goal_features="heatmap", env_id=INSTANCE_ENV,
                          goal_features_config={"heatmap": True, "embedding": False, "keep_goal_image": True,
                                                "readout": dataclasses.asdict(DENSE)},
                          grasp2vec=DEFAULT_CHECKPOINT)


@dataclass(frozen=True)
class Row:
    """One policy of the benchmark table.

    Attributes:
        name: short key used on the command line and in the JSON.
        label: what the table prints.
        source: ``random`` | ``heatmap`` | ``privileged`` (scripted; ``heatmap`` grasps where the shipped
            Grasp2Vec's goal heatmap peaks), ``heatmap-q`` (the heatmap's best positions, the grasp
            among them chosen by the indiscriminate Q-function in ``checkpoint``,
            :class:`agents.baselines.HeatmapQGraspPolicy`) or ``checkpoint`` (a ``runs.train_policy`` folder).
        checkpoint: path of the checkpoint folder (``checkpoint`` and ``heatmap-q`` rows).
        paper: the paper's simulated success rates in % (seen, unseen), when it reports them.
        puts_back: the policy may put a lift back and grasp again, so it belongs in tables of more than one grasp
            (``--max-grasps``); the one-grasp headline leaves it out of its default rows.
    """

    name: str
    label: str
    source: str
    checkpoint: str | None = None
    paper: tuple[float, float] | None = None
    puts_back: bool = False


SHIPPED = "checkpoints/policies"
ROWS: dict[str, Row] = {row.name: row for row in (
    Row("random", "indiscriminate (random scripted)", "random"),
    # The paper's indiscriminate row is a learned grasp-anything policy, not a random one.
    Row("qtopt-indiscriminate", "indiscriminate (QT-Opt, learned)", "checkpoint", f"{SHIPPED}/qtopt-indiscriminate",
        (18.3, 21.9)),
    Row("qtopt-oracle", "QT-Opt + oracle reward", "checkpoint", f"{SHIPPED}/qtopt-oracle", (83.9, 43.7)),
    Row("qtopt-grasp2vec", "QT-Opt + grasp2vec (posthoc)", "checkpoint", f"{SHIPPED}/qtopt-grasp2vec", (80.1, 53.9)),
    # the posthoc row's goal network times the patch-view grasp prior (agents.qtopt.product; no retraining)
    Row("qtopt-grasp2vec-product", "QT-Opt + grasp2vec (posthoc) × patch grasp prior", "checkpoint",
        f"{SHIPPED}/qtopt-grasp2vec-product"),
    # that product's four best grasps, the one a label-free logistic ranker prefers carried out (agents.qtopt.ranking)
    Row("qtopt-grasp2vec-ranked", "QT-Opt + grasp2vec × patch grasp prior, ranked best of 4", "checkpoint",
        f"{SHIPPED}/qtopt-grasp2vec-ranked"),
    # the same, its ranker fitted on labels that also refuse two-object lifts (the reward's foreign-share gate)
    Row("qtopt-grasp2vec-ranked-foreign",
        "QT-Opt + grasp2vec × patch grasp prior, ranked best of 4 (labels refuse two-object lifts)", "checkpoint",
        f"{SHIPPED}/qtopt-grasp2vec-ranked-foreign"),
    # the ranked row putting back a lift the Grasp2Vec reward rejects, then grasping again (agents.regrasp)
    Row("qtopt-grasp2vec-regrasp", "QT-Opt + grasp2vec × patch grasp prior, ranked, a rejected lift put back",
        "checkpoint", f"{SHIPPED}/qtopt-grasp2vec-regrasp", puts_back=True),
    # the same, its verifier also putting back a lift whose outcome shows more than the goal (foreign share gate)
    Row("qtopt-grasp2vec-regrasp-foreign",
        "QT-Opt + grasp2vec × patch grasp prior, ranked, a rejected or two-object lift put back", "checkpoint",
        f"{SHIPPED}/qtopt-grasp2vec-regrasp-foreign", puts_back=True),
    Row("qtopt-oracle-product", "QT-Opt + oracle reward × patch grasp prior", "checkpoint",
        f"{SHIPPED}/qtopt-oracle-product"),
    # the ranked row's labels twin: the oracle product's four best grasps, a ranker fitted the same way on oracle labels
    Row("qtopt-oracle-ranked", "QT-Opt + oracle reward × patch grasp prior, ranked best of 4 (oracle labels)",
        "checkpoint", f"{SHIPPED}/qtopt-oracle-ranked"),
    Row("qtopt-grasp2vec-aux", "QT-Opt + grasp2vec (posthoc + aux. goals)", "checkpoint",
        f"{SHIPPED}/qtopt-grasp2vec-aux", (78.0, 58.9)),
    Row("sac-grasp2vec-heatmap", "SAC + grasp2vec, heatmap obs.", "checkpoint", f"{SHIPPED}/sac-grasp2vec-heatmap"),
    Row("qtopt-autoencoder", "QT-Opt + autoencoder reward", "checkpoint", f"{SHIPPED}/qtopt-autoencoder", (18.7, 20.9)),
    Row("heatmap", "Grasp2Vec heatmap peak + scripted grasp (no RL)", "heatmap"),
    Row("heatmap-qtopt", "Grasp2Vec heatmap + indiscriminate QT-Opt grasp (no instance RL)", "heatmap-q",
        f"{SHIPPED}/qtopt-indiscriminate"),
    Row("privileged", "privileged scripted (reads ground truth; one heuristic grasp)", "privileged"),
)}


# Settings a learned row's training world must share with the table (they change the task, not the view).
MUST_MATCH = ("num_objects", "max_steps", "auto_descend")


@dataclass(frozen=True)
class Cell:
    """Row × object set × goal kind, for one task."""

    row: Row
    objects: str
    goals: str = "single"
    task: str = "instance"

    @property
    def key(self) -> str:
        return f"{self.row.name}/{self.objects}/{self.goals}/{self.task}"


@dataclass(frozen=True)
class TrialResult:
    """One scored episode. ``success`` follows the task; ``lifted`` counts objects lifted;
    ``target_lifted`` says whether a target was among them (None for the indiscriminate task).
    ``target`` names the goal object (composite goals: both names, sorted, joined by ``|``; None for the
    indiscriminate task) and ``lifted_objects`` the objects lifted, for per-object breakdowns
    (:func:`benchmark.objects.per_object`). ``policy_report`` is what the policy says about the trial when it
    has a ``trial_report()`` (a second look's scores, say), else None. ``grasp_sensed`` is the gripper's own
    "something is in my hand" bit after the lift (None without a grasp) and ``dropped_objects`` the objects that
    were up when the lift ended and fell during the hold, and ``close_height`` how high above the bottom of the
    workspace the fingers began to close (m): what :mod:`benchmark.failures` splits "nothing lifted" by.
    ``released_objects`` lists, for each lift the policy put back (tables of more than one grasp), the objects it
    held. Trials recorded before these fields read back as None and ()."""

    seed: int
    success: bool
    lifted: int
    grasp_attempted: bool
    fault: str | None
    steps: int
    seconds: float
    redraws: int = 0
    target_lifted: bool | None = None
    target: str | None = None
    lifted_objects: tuple[str, ...] = ()
    policy_report: dict[str, Any] | None = None
    grasp_sensed: bool | None = None
    dropped_objects: tuple[str, ...] = ()
    close_height: float | None = None
    released_objects: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        for name in ("lifted_objects", "dropped_objects"):  # lists when read from JSON
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "released_objects", tuple(tuple(names) for names in self.released_objects))


def trial_seed(seed: int, index: int) -> int:
    """Reset seed of trial ``index`` of a benchmark run with base ``seed``."""
    if not 0 <= index < TRIALS_PER_SEED:
        raise ValueError(f"trial index must be in 0..{TRIALS_PER_SEED - 1}, got {index}")
    return BENCHMARK_SEED_OFFSET + seed * TRIALS_PER_SEED + index


def checkpoint_folder(path: str | Path) -> Path | None:
    """The policy folder under ``path`` (itself or ``path/checkpoint``), or None when neither holds one."""
    path = Path(path)
    for candidate in (path, path / "checkpoint"):
        if is_policy_checkpoint(candidate):
            return candidate
    return None


def row_status(row: Row, task: str) -> str:
    """``"ok"`` or why the row has no numbers in ``task`` (missing checkpoint, not applicable)."""
    if row.source in HEATMAP_SOURCES:
        if task == "indiscriminate":
            return "not applicable (goal-conditioned policy, indiscriminate task)"
        if not Path(HEATMAP_CARD.grasp2vec).is_dir():
            return f"not available (no Grasp2Vec checkpoint at {HEATMAP_CARD.grasp2vec})"
    if row.source in SCRIPTED:
        return "ok"
    folder = checkpoint_folder(row.checkpoint or "")
    if row.source == "heatmap-q":
        return "ok" if folder is not None else f"not available (no Q-function checkpoint at {row.checkpoint})"
    if folder is None:
        return f"not available (no checkpoint at {row.checkpoint})"
    card = policy_card(folder)
    if task == "indiscriminate" and card is not None and card.env_id == INSTANCE_ENV:
        return "not applicable (goal-conditioned policy, indiscriminate task)"
    return "ok"


def row_card(row: Row) -> PolicyCard | None:
    """The policy card that shapes a row's observations: a learned row's ``policy.json``, the shipped
    Grasp2Vec's heatmap for the heatmap rows, None for the other scripted rows."""
    if row.source == "checkpoint":
        return policy_card(checkpoint_folder(row.checkpoint or "") or Path("."))
    return HEATMAP_CARD if row.source in HEATMAP_SOURCES else None


def heatmap_weights(row: Row) -> dict[str, Any] | None:
    """Which Grasp2Vec weights a row's goal heatmap comes from and how it is read (``checkpoint``,
    ``sha256``, ``readout``), or None for rows without one: the provenance that keeps a heatmap
    row's number tied to one embedding."""
    from agents.loading import goal_features_config, grasp2vec_fingerprint

    card = row_card(row)
    path = card.grasp2vec if card is not None else None
    if not path or card.goal_features == "none" or not Path(path).exists():
        return None
    return {"checkpoint": str(path), "sha256": grasp2vec_fingerprint(path),
            "readout": dataclasses.asdict(goal_features_config(card).readout)}


def shared_policy(row: Row, env: gym.Env) -> Policy | None:
    """The policy every trial of ``row`` in ``env`` uses (loaded from its checkpoint), or None when
    each trial gets a fresh scripted one (:func:`trial_policy`)."""
    from agents.loading import load_policy

    if row.source == "checkpoint":
        return load_policy(checkpoint_folder(row.checkpoint or ""))[0]
    if row.source == "heatmap-q":
        from agents.baselines import HeatmapQGraspPolicy

        return HeatmapQGraspPolicy(env.unwrapped.config, load_policy(checkpoint_folder(row.checkpoint or ""))[0])
    return None


def trial_policy(row: Row, env: gym.Env, seed: int) -> Policy:
    """A fresh scripted policy for one trial of ``row`` (``seed`` seeds the random one)."""
    from agents.baselines import HeatmapGraspPolicy
    from envs.scripted import PrivilegedGraspPolicy, RandomGraspPolicy

    if row.source == "heatmap":
        return HeatmapGraspPolicy(env.unwrapped.config)
    if row.source == "random":
        return RandomGraspPolicy(env.unwrapped.config, seed=seed)
    if row.source == "privileged":
        return PrivilegedGraspPolicy(env)
    raise ValueError(f"row {row.name!r} ({row.source}) has no per-trial scripted policy")


def policy_card(folder: Path) -> PolicyCard | None:
    """``policy.json`` of a checkpoint folder (what runs.train_policy records about the policy), or None."""
    return PolicyCard.load(folder) if (folder / POLICY_CARD).is_file() else None


class WorldMismatchError(ValueError):
    """A learned row was trained in a world that differs from the table's in a way that matters."""


def world_settings(row: Row, table: WorldSettings) -> WorldSettings:
    """The world ``row`` runs in: the table's, with a learned row's own image size from its ``policy.json``.

    Raises:
        WorldMismatchError: the row's training world differs from the table's in one of ``MUST_MATCH``
            (the message names the row, the field and both values).
    """
    if row.source != "checkpoint":
        return table
    card = row_card(row)
    world = card.world if card is not None else {}
    for name in MUST_MATCH:
        if name in world and world[name] != getattr(table, name):
            flag = "--" + name.replace("_", "-")
            raise WorldMismatchError(
                f"row {row.name!r} was trained with {name}={world[name]!r} but this table runs {name}="
                f"{getattr(table, name)!r}; every row of a table runs in one world, so run it in a table of its own "
                f"({flag} {world[name]}) or leave the row out")
    return dataclasses.replace(table, image_size=int(world.get("image_size", table.image_size)))


class NoGoalError(RuntimeError):
    """The bin holds no (second) object that could be grasped alone to make a goal image."""


class CompositeGoalEnv(gym.Wrapper):
    """Two targets per episode: adds ``goal_2`` (a goal-bank image of a second object in the bin) and
    scores ``is_success`` = exactly one object lifted and it is one of the two targets."""

    def __init__(self, env: KukaInstanceGraspEnv) -> None:
        super().__init__(env)
        if env.config.num_objects < 2:
            raise ValueError(f"composite goals need at least 2 objects in the bin, got {env.config.num_objects}")
        self.observation_space = spaces.Dict({**env.observation_space.spaces, "goal_2": env.observation_space["goal"]})
        self.second_body: int | None = None
        self.second_goal = np.zeros(env.observation_space["goal"].shape, np.uint8)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Raises :class:`NoGoalError` when no second object in the bin has a goal image."""
        observation, info = self.env.reset(seed=seed, options=options)
        if not self._choose_second(self.env.unwrapped):
            raise NoGoalError(f"composite goals: only one object of the bin from seed {seed} has a goal image")
        return self._observe(observation), self._info(info)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        return self._observe(observation), reward, terminated, truncated, self._info(info)

    def _choose_second(self, base: KukaInstanceGraspEnv) -> bool:
        world = base.world
        for index in base.np_random.permutation(len(world.objects)):
            body = world.objects[int(index)]
            if body != base.target_body and base.goal_bank.has_goal(world.object_urdfs[body]):
                self.second_body = body
                self.second_goal = base.goal_bank.sample(world.object_urdfs[body], base.np_random)
                return True
        return False

    def _observe(self, observation: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {**observation, "goal_2": self.second_goal.copy()}

    def _info(self, info: dict[str, Any]) -> dict[str, Any]:
        base = self.env.unwrapped
        truth = info["ground_truth"]
        targets = {truth["target"], object_name(base.world.object_urdfs[self.second_body])}
        truth["targets"] = sorted(targets)
        lifted = truth["lifted"]
        info["is_success"] = bool(info["grasp_attempted"] and info["fault"] is None and len(lifted) == 1
                                  and lifted[0] in targets)
        return info


class CompositeGoalObservationWrapper(GoalObservationWrapper):
    """Grasp2Vec goal features of a composite goal: the goal embedding is φ_o(goal) + φ_o(goal_2) (the
    paper's embedding arithmetic) and the heatmap is that sum's heatmap; ``goal`` stays the first image."""

    def reset(self, **kwargs: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        observation, info = self.env.reset(**kwargs)
        goals = np.stack([observation["goal"], observation["goal_2"]])
        self._embedding = self.features.embed_goals(goals).sum(dim=0, keepdim=True)
        return self._observe(observation), info


def composite_features_wrapper(env: gym.Env, card: PolicyCard) -> gym.Env:
    """``env`` (a :class:`CompositeGoalEnv`) with the goal features ``card`` names, composed over both goals."""
    from agents.loading import wrap_for_policy

    wrapped = wrap_for_policy(env, card)
    if not isinstance(wrapped, GoalObservationWrapper):
        return wrapped
    # wrapped.env keeps the sensors wrap_for_policy added below the goal features (the height map)
    return CompositeGoalObservationWrapper(wrapped.env, wrapped.features)


def make_env(cell: Cell, settings: WorldSettings, goal_bank: GoalBank | None, card: PolicyCard | None) -> gym.Env:
    """The environment of ``cell`` with ``settings``; ``card`` (learned rows) adds the sensors (height
    map, wrist camera) and goal features the policy was trained with, on either task."""
    instance = cell.task != "indiscriminate"
    env: gym.Env = make_task_env(instance, cell.objects, settings, goal_bank,
                                 wrist_view=card is not None and card.wrist_view)
    if instance and cell.goals == "composite":
        env = CompositeGoalEnv(env)
    if card is None:
        return env
    from agents.loading import wrap_for_policy

    return composite_features_wrapper(env, card) if isinstance(env, CompositeGoalEnv) else wrap_for_policy(env, card)


def make_goal_bank(image_size: int, seed: int = BENCHMARK_GOAL_SEED) -> GoalBank:
    """A goal bank for ``image_size`` px goals, seeded apart from training's and from trial seeds."""
    return GoalBank(make_world_config(1, image_size, None), seed=seed)


class ObservationOnly:
    """What the benchmark hands a policy: copies of the observation keys it takes; never
    ``info`` (so never ground truth) and never the environment. In a table that allows more than one grasp, a
    policy that cannot decide after a lift (no ``decides_after_lift = True``) keeps every lift: it scores as it
    does where the first lift ends the trial.

    Args:
        policy: the wrapped policy.
        keys: observation keys the policy was built for (others, e.g. ``goal_2``, are withheld).
    """

    def __init__(self, policy: Policy, keys: list[str]) -> None:
        self.policy = policy
        self.keys = list(keys)

    def reset(self) -> None:
        self.policy.reset()

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        if awaits_keep_or_release(observation) and not getattr(self.policy, "decides_after_lift", False):
            return KEEP_ACTION.copy()
        view = {key: np.array(observation[key], copy=True) for key in self.keys}
        return np.asarray(self.policy.act(view), dtype=np.float32)

    def trial_report(self) -> dict[str, Any] | None:
        """What the policy says about the episode it just acted in (its ``trial_report()``), or None."""
        report = getattr(self.policy, "trial_report", None)
        return report() if callable(report) else None


def policy_keys(env: gym.Env, policy: Policy, card: PolicyCard | None) -> list[str]:
    """Observation keys handed to ``policy``: its own observation space's keys when it has one, the
    environment's otherwise, always without the composite task's ``goal_2``."""
    space = getattr(policy, "observation_space", None)
    if space is None and hasattr(policy, "model"):
        space = getattr(policy.model, "observation_space", None)
    keys = list(space.spaces) if isinstance(space, spaces.Dict) else list(env.observation_space.spaces)
    if card is not None and card.env_id == INDISCRIMINATE_ENV:
        keys = [k for k in keys if k != "goal"]
    return [k for k in keys if k != "goal_2"]


def reset_trial(env: gym.Env, seed: int) -> tuple[dict[str, np.ndarray], dict[str, Any], int]:
    """``env.reset(seed=seed)``, redrawing bins that offer no goal (see ``REDRAW_STRIDE``); returns
    (observation, info, redraws). The instance env itself redraws bins without a single goal object;
    ``CompositeGoalEnv`` raises ``NoGoalError`` for a bin without a second one."""
    for draw in range(MAX_DRAWS):
        try:
            observation, info = env.reset(seed=seed + draw * REDRAW_STRIDE)
            return observation, info, draw
        except NoGoalError as error:
            last = error
    raise NoGoalError(f"{MAX_DRAWS} bins from seed {seed} offered no goal object; is the object set mostly "
                      f"ungraspable? last error: {last}") from last


def run_trial(env: gym.Env, policy: ObservationOnly, seed: int) -> TrialResult:
    """One episode: reset with ``seed``, act on observations until it ends, score from ``info``."""
    start = time.perf_counter()
    observation, info, redraws = reset_trial(env, seed)
    policy.reset()
    _, info, steps = act_until_done(env, policy, observation)
    truth = info["ground_truth"]
    targets = truth.get("targets", [truth["target"]] if truth.get("target") else [])
    return TrialResult(seed=seed, success=bool(info["is_success"]), lifted=len(truth["lifted"]),
                       grasp_attempted=bool(info["grasp_attempted"]), fault=info["fault"], steps=steps,
                       seconds=time.perf_counter() - start, redraws=redraws,
                       target_lifted=any(t in truth["lifted"] for t in targets) if targets else None,
                       target="|".join(sorted(targets)) if targets else None,
                       lifted_objects=tuple(truth["lifted"]), policy_report=policy.trial_report(),
                       grasp_sensed=bool(info["grasp_sensed"]) if info["grasp_attempted"] else None,
                       dropped_objects=tuple(truth.get("dropped", ())),
                       close_height=round(float(info["close_height"]), 4) if "close_height" in info else None,
                       released_objects=truth.get("released", ()))
