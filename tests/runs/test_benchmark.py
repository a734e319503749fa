"""The benchmark: Wilson intervals, the observation-only harness, composite goals, custom object sets,
learned-policy rows, and tiny end-to-end runs (processes and a local Ray instance)."""

from __future__ import annotations

import dataclasses
import inspect
import json
import shutil
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.core.evaluation import EVAL_SEED_OFFSET
from benchmark import runner
from benchmark.report import failure_table, markdown_table, summarize
from benchmark.runner import BenchmarkConfig, parse_checkpoints, run_benchmark
from benchmark.tasks import (
    BENCHMARK_GOAL_SEED,
    REDRAW_STRIDE,
    ROWS,
    Cell,
    CompositeGoalEnv,
    NoGoalError,
    ObservationOnly,
    Row,
    TrialResult,
    WorldMismatchError,
    make_env,
    make_goal_bank,
    policy_keys,
    reset_trial,
    row_status,
    run_trial,
    trial_seed,
    world_settings,
)
from common.stats import wilson_interval
from envs.config import WorldConfig, WorldSettings
from envs.goal_bank import GoalBank
from envs.objects import builtin_split
from envs.scripted import approach_action, grasp_pose
from runs import benchmark

TINY_WORLD = WorldSettings(num_objects=2, image_size=32, max_steps=6)
TINY_ARGS = ["--num-objects", "2", "--image-size", "32", "--max-steps", "6", "--workers", "1", "--no-progress"]


@pytest.fixture(scope="module")
def three_objects() -> list[str]:
    return [str(path) for path in builtin_split("seen")[:3]]


@pytest.fixture
def goal_bank():  # per test: closing an instance env closes its goal bank too
    bank = make_goal_bank(TINY_WORLD.image_size)
    yield bank
    bank.close()


@pytest.mark.parametrize(("successes", "trials", "low", "high"), [
    # Newcombe (1998), Stat. Med. 17:857, Table I, method 3 (Wilson score, no continuity correction)
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
    (29, 29, 29 / (29 + 1.96**2), 1.0),  # closed form for all successes: n / (n + z²)
])
def test_wilson_interval_matches_known_values(successes, trials, low, high):
    got = wilson_interval(successes, trials)
    assert got == pytest.approx((low, high), abs=6e-5)  # the reference values are rounded to 4 digits


def test_trial_seeds_are_disjoint_from_training_and_training_time_evaluation():
    largest_training_seed = 9 * 1_000_000 + 999_999  # OnlineTrainer: seed * 1e6 + grasp, seeds 0..9
    assert largest_training_seed < EVAL_SEED_OFFSET
    assert trial_seed(0, 0) >= 2 * EVAL_SEED_OFFSET
    assert trial_seed(1, 0) > trial_seed(0, 999_999)
    with pytest.raises(ValueError, match="trial index"):
        trial_seed(0, 10**6)


class SpyPolicy:
    """Records every call; acts like a slow descent then closes."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple, dict]] = []
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def act(self, *args, **kwargs) -> np.ndarray:
        self.calls.append((args, kwargs))
        observation = args[0]
        for value in observation.values():
            value[...] = 0  # a policy scribbling on its input must not reach the environment
        return np.array([0.0, 0.0, -1.0, 0.0, 1.0 if len(self.calls) % 3 == 0 else -1.0], np.float32)


def test_policies_get_observations_only_never_info_or_ground_truth(three_objects, goal_bank):
    env = make_env(Cell(ROWS["random"], three_objects), TINY_WORLD, goal_bank, None)
    spy = SpyPolicy()
    keys = policy_keys(env, spy, None)
    assert sorted(keys) == sorted(env.observation_space.spaces)
    result = run_trial(env, ObservationOnly(spy, keys), seed=trial_seed(0, 0))
    assert spy.resets == 1 and len(spy.calls) == result.steps
    truth_keys = {"ground_truth", "objects", "urdfs", "object_ids", "lifted", "lifted_ids", "dropped", "object_poses",
                  "target", "target_id", "pre_mask", "post_mask", "is_success", "fault"}
    for args, kwargs in spy.calls:
        assert len(args) == 1 and not kwargs, "act() takes the observation and nothing else"
        observation = args[0]
        assert set(observation) == set(keys) and not set(observation) & truth_keys
        assert all(isinstance(v, np.ndarray) for v in observation.values())
    env.close()


def test_goal_images_come_from_the_goal_bank_not_the_live_scene(three_objects, goal_bank):
    env = make_env(Cell(ROWS["random"], three_objects), TINY_WORLD, goal_bank, None)
    observation, info = env.reset(seed=trial_seed(0, 1))
    target = info["ground_truth"]["target"]
    assert any(np.array_equal(observation["goal"], image) for image in goal_bank.images[target])
    training_bank_seed = inspect.signature(GoalBank).parameters["seed"].default  # what runs.train_policy uses
    assert goal_bank.seed == BENCHMARK_GOAL_SEED != training_bank_seed
    env.close()


def _grasp_body(env, body: int) -> dict:
    """Grasp ``body`` with simulator ground truth (test helper); returns the final info."""
    world = env.unwrapped.world
    done, info = False, {}
    while not done:
        point, yaw = grasp_pose(world, body)
        _, _, terminated, truncated, info = env.step(approach_action(world, point, yaw))
        done = terminated or truncated
    return info


def test_composite_goals_either_target_counts(three_objects, goal_bank):
    env = make_env(Cell(ROWS["random"], three_objects, goals="composite"), TINY_WORLD, goal_bank, None)
    assert isinstance(env, CompositeGoalEnv) and "goal_2" in env.observation_space.spaces
    counted = []
    for trial in range(8):
        observation, _, _ = reset_trial(env, trial_seed(0, trial))
        base = env.unwrapped
        assert env.second_body != base.target_body
        body = env.second_body if trial % 2 else base.target_body
        info = _grasp_body(env, body)
        truth = info["ground_truth"]
        expected = info["fault"] is None and len(truth["lifted"]) == 1 and truth["lifted"][0] in truth["targets"]
        assert info["is_success"] == expected
        if info["is_success"]:
            counted.append(truth["lifted"][0] == truth["target"])
    assert False in counted, "a grasp of the second target never counted as a success"
    env.close()


class NoGoalBelow:
    """Stub env whose bins offer a second goal object only from seed ``first_good`` on."""

    def __init__(self, first_good: int) -> None:
        self.first_good, self.seeds = first_good, []

    def reset(self, seed: int):
        self.seeds.append(seed)
        if seed < self.first_good:
            raise NoGoalError("composite goals: only one object of the bin has a goal image")
        return {"seed": seed}, {}


def test_bins_without_a_goal_object_are_redrawn_deterministically():
    env = NoGoalBelow(first_good=100 + 2 * REDRAW_STRIDE)
    observation, _, redraws = reset_trial(env, 100)
    assert redraws == 2 and env.seeds == [100, 100 + REDRAW_STRIDE, 100 + 2 * REDRAW_STRIDE]
    with pytest.raises(NoGoalError, match="offered no goal object"):
        reset_trial(NoGoalBelow(first_good=10**9), 100)


def test_composite_goals_need_two_objects(goal_bank, three_objects):
    with pytest.raises(ValueError, match="at least 2 objects"):
        make_env(Cell(ROWS["random"], three_objects, goals="composite"),
                 dataclasses.replace(TINY_WORLD, num_objects=1), goal_bank, None)


def test_summary_and_table_report_not_available_rows():
    results = [TrialResult(seed=i, success=i < 3, lifted=1, grasp_attempted=True, fault=None, steps=4, seconds=0.5)
               for i in range(10)]
    ok = summarize(Cell(ROWS["random"], "seen"), "ok", results)
    assert (ok.successes, ok.trials, ok.success_rate) == (3, 10, 0.3)
    assert (ok.success_low, ok.success_high) == pytest.approx(wilson_interval(3, 10))
    assert ok.grasps_per_s == pytest.approx(2.0) and ok.paper is None
    ghost = Row("ghost", "a row whose checkpoint is missing", "checkpoint", "checkpoints/policies/ghost", (83.9, 43.7))
    status = row_status(ghost, "instance")
    assert status.startswith("not available (no checkpoint at")
    missing = summarize(Cell(ghost, "seen"), status, [])
    table = markdown_table([ok, missing])
    assert "30.0 % [10.8, 60.3] (n=10)" in table and "| not available |" in table
    assert "83.9 % / –" in table and "checkpoints/policies/ghost" in table


def test_failures_are_split_into_nothing_wrong_object_and_target_with_another():
    def trial(success: bool, lifted: int, target_lifted: bool) -> TrialResult:
        return TrialResult(seed=0, success=success, lifted=lifted, grasp_attempted=True, fault=None, steps=4,
                           seconds=0.5, target_lifted=target_lifted)

    results = [trial(True, 1, True), trial(True, 1, True), trial(False, 0, False), trial(False, 1, False),
               trial(False, 2, False), trial(False, 2, True), trial(False, 0, False), trial(False, 0, False)]
    cell = summarize(Cell(ROWS["random"], "seen"), "ok", results)
    rates = (cell.success_rate, cell.nothing_rate, cell.wrong_rate, cell.target_and_other_rate)
    assert rates == (2 / 8, 3 / 8, 2 / 8, 1 / 8) and sum(rates) == pytest.approx(1.0)
    assert "| seen | 25.0 | 37.5 | 25.0 | 12.5 |" in failure_table([cell])
    assert cell.target_lift_rate == 3 / 8 and (cell.target_lift_low, cell.target_lift_high) == wilson_interval(3, 8)
    table = markdown_table([cell])
    assert "| target lifted, ± others (seen) |" in table and "| 37.5 % |" in table  # beside strict success
    anything = summarize(Cell(ROWS["random"], "seen", task="indiscriminate"), "ok", results)
    assert anything.nothing_rate is None and failure_table([anything]) == ""
    assert anything.target_lift_rate is None and "target lifted" not in markdown_table([anything])


def test_tiny_benchmark_end_to_end_with_custom_objects(tmp_path, three_objects, capsys):
    out = tmp_path / "bench.json"
    custom = str(tmp_path / "objects")
    for path in three_objects:  # a user's own object folder: URDFs with their meshes
        folder = Path(path).parent
        shutil.copytree(folder, tmp_path / "objects" / folder.name)
    benchmark.main(["--rows", "random", "privileged", "ghost", "--checkpoint", f"ghost={tmp_path / 'none'}",
                    "--objects", "seen", custom, "--trials", "3", "--json", str(out), *TINY_ARGS])
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert out.with_suffix(".png").stat().st_size > 1000
    assert data["code_version"]["git_commit"] and data["machine"]["cpus"] and data["seeds"]["first_trial_seed"]
    cells = {(c["row"], c["objects"]): c for c in data["cells"]}
    assert set(cells) == {(r, o) for r in ("random", "privileged", "ghost") for o in ("seen", custom)}
    for row in ("random", "privileged"):
        for objects in ("seen", custom):
            cell = cells[(row, objects)]
            assert cell["trials"] == 3 and 0 <= cell["success_low"] <= cell["success_rate"] <= cell["success_high"]
            ends = (cell["success_rate"], cell["nothing_rate"], cell["wrong_rate"], cell["target_and_other_rate"])
            assert sum(ends) == pytest.approx(1.0)
            assert cell["target_lift_rate"] == pytest.approx(cell["success_rate"] + cell["target_and_other_rate"])
    privileged = data["trials"][f"privileged/{custom}/single/instance"]
    assert all(t["target_lifted"] for t in privileged if t["success"])
    assert all(t["lifted_objects"] == [t["target"]] for t in privileged if t["success"])
    assert all(isinstance(t["target"], str) and len(t["lifted_objects"]) == t["lifted"] for t in privileged)
    from runs.benchmark_objects import main as objects_main

    table = objects_main([f"{out}:privileged", "--markdown", str(tmp_path / "objects.md")])
    assert f"**privileged, {custom}/single/instance**" in table and (tmp_path / "objects.md").read_text() == table
    rows = [line for line in table.splitlines() if line.startswith("| ") and "goal object" not in line]
    assert sum(int(line.split(" | ")[1]) for line in rows) == 6  # 3 trials in each of the two cells
    assert cells[("ghost", "seen")]["status"].startswith("not available") and cells[("ghost", "seen")]["trials"] == 0
    seeds = [t["seed"] for t in data["trials"][f"random/{custom}/single/instance"]]
    assert seeds == [trial_seed(0, i) for i in range(3)]
    assert "| policy | seen | " + custom in printed and "| target + another |" in printed


def test_indiscriminate_task_scores_any_lift(tmp_path):
    out = tmp_path / "bench.json"
    benchmark.main(["--rows", "privileged", "--objects", "seen", "--task", "indiscriminate", "--trials", "3",
                    "--json", str(out), *TINY_ARGS])
    cell = json.loads(out.read_text())["cells"][0]
    assert cell["task"] == "indiscriminate" and cell["trials"] == 3
    assert cell["success_rate"] == cell["any_lift_rate"]


def _save_tiny_qtopt(folder, goal_conditioned: bool) -> None:
    """A tiny untrained pose QT-Opt with its card; the 'goal' one was trained (nominally) on the instance task."""
    from agents.core.cem import CEMConfig
    from agents.qtopt.learner import PoseQTOpt, PoseQTOptConfig
    from agents.qtopt.network import PoseNetworkConfig
    from common.protocols import PolicyCard
    from envs.grasp_env import make_world_config

    config = PoseQTOptConfig(network=PoseNetworkConfig(channels=(4, 4, 4, 4), hidden=8), batch_size=4,
                             cem=CEMConfig(iterations=1, population=8, elites=2))
    PoseQTOpt(False, make_world_config(2, 32, None), config).save(folder)
    PolicyCard(algo="qtopt-pose", reward="oracle" if goal_conditioned else "indiscriminate",
               world={"objects": "seen", "num_objects": 2, "image_size": 32, "max_steps": 4, "auto_descend": False},
               env_id="KukaInstanceGrasp-v0" if goal_conditioned else "KukaGrasp-v0").save(folder)


def test_a_patch_view_policy_gets_its_height_map_on_both_tasks(tmp_path):
    """The height-map sensor named in policy.json is added on the indiscriminate task too."""
    from agents.core.cem import CEMConfig
    from agents.qtopt.learner import PoseQTOpt, PoseQTOptConfig
    from agents.qtopt.patch_network import PatchNetworkConfig
    from common.protocols import PolicyCard
    from envs.grasp_env import make_world_config

    config = PoseQTOptConfig(view="patch", patch=PatchNetworkConfig(size=16, extent=0.064, channels=(4, 4, 4),
                                                                    hidden=8),
                             batch_size=4, cem=CEMConfig(iterations=1, population=8, elites=2))
    folder = tmp_path / "patch"
    PoseQTOpt(False, make_world_config(2, 32, None), config).save(folder)
    PolicyCard(algo="qtopt-pose", reward="indiscriminate",
               world={"objects": "seen", "num_objects": 2, "image_size": 32, "max_steps": 6, "auto_descend": False},
               env_id="KukaGrasp-v0", heightmap=dataclasses.asdict(config.heightmap)).save(folder)
    table = BenchmarkConfig(rows=("patch",), objects=("seen",), trials=2, workers=1, task="indiscriminate",
                            world=WorldSettings(num_objects=2, max_steps=6))
    summaries, trials, _ = run_benchmark(table, parse_checkpoints([f"patch={folder}"]), progress=False)
    assert summaries[0].trials == 2 and len(next(iter(trials.values()))) == 2


def test_learned_policy_rows_from_checkpoints(tmp_path):
    goal, anything = tmp_path / "goal" / "checkpoint", tmp_path / "anything"
    _save_tiny_qtopt(goal, goal_conditioned=True)
    _save_tiny_qtopt(anything, goal_conditioned=False)
    rows = parse_checkpoints([f"goal={tmp_path / 'goal'}", f"anything={anything}"])
    assert rows["goal"].label == "goal (qtopt-pose + oracle)"
    mismatched = BenchmarkConfig(rows=("goal", "anything"), objects=("seen",), trials=2, workers=1,
                                 world=WorldSettings(num_objects=2))
    with pytest.raises(WorldMismatchError, match="row 'goal' was trained with max_steps=4 but this table runs "
                                                 "max_steps=12.*--max-steps 4"):
        run_benchmark(mismatched, rows, progress=False)
    config = dataclasses.replace(mismatched, world=WorldSettings(num_objects=2, max_steps=4))
    assert world_settings(rows["goal"], config.world).image_size == 32  # its own view; the table's is 64 px
    summaries, trials, _ = run_benchmark(config, rows, progress=False)
    assert [s.trials for s in summaries] == [2, 2]
    steps = [r.steps for results in trials.values() for r in results]
    assert max(steps) <= 4  # the policies' own world (max_steps 4 from policy.json), not the scripted default
    indiscriminate = dataclasses.replace(config, task="indiscriminate")
    summaries, _, _ = run_benchmark(indiscriminate, rows, progress=False)
    assert summaries[0].status.startswith("not applicable") and summaries[1].trials == 2


def test_bad_arguments_fail_clearly(tmp_path):
    with pytest.raises(SystemExit, match="unknown rows"):
        benchmark.main(["--rows", "nonsense", "--trials", "1", *TINY_ARGS])
    with pytest.raises(SystemExit, match=r"unknown rows \['nonsense'\]"):  # a resume file is named before rows are run
        benchmark.main(["--rows", "nonsense", "--trials", "1", "--partial", str(tmp_path / "p.jsonl"), *TINY_ARGS])
    with pytest.raises(SystemExit, match="NAME=PATH"):
        benchmark.main(["--checkpoint", "nopath", "--trials", "1", *TINY_ARGS])
    with pytest.raises(SystemExit, match="scripted"):
        benchmark.main(["--checkpoint", "random=x", "--trials", "1", *TINY_ARGS])
    with pytest.raises(ValueError, match="trials"):
        BenchmarkConfig(trials=0)


def test_worker_processes_and_local_ray_give_the_same_trials():
    pytest.importorskip("ray")
    config = BenchmarkConfig(rows=("random",), objects=("seen",), trials=4, chunk_size=2, workers=1,
                                       world=TINY_WORLD)
    _, inline, _ = run_benchmark(config, progress=False)
    _, spawned, _ = run_benchmark(dataclasses.replace(config, workers=2), progress=False)
    _, on_ray, _ = run_benchmark(config, ray_address="local", progress=False)

    def outcomes(trials):
        return {key: [(r.seed, r.success, r.lifted, r.steps) for r in results] for key, results in trials.items()}

    assert outcomes(inline) == outcomes(spawned) == outcomes(on_ray)


def test_demo_gif_of_benchmark_trials(tmp_path):
    from PIL import Image

    from benchmark import frames
    from runs import demo

    out = demo.main(["--row", "privileged", "--episodes", "1", "--grasp2vec", str(tmp_path / "none"),
                     "--out", str(tmp_path / "demo.gif")])
    with Image.open(out) as gif:
        assert gif.n_frames >= 2 and gif.size[0] == 3 * 64 * frames.SCALE  # scene, goal, final outcome


def test_composite_goal_features_use_the_sum_of_both_goal_embeddings(tmp_path, three_objects, goal_bank):
    import torch

    from benchmark.tasks import CompositeGoalObservationWrapper
    from common.protocols import PolicyCard
    from embedding.checkpoint import save_checkpoint
    from embedding.model import Grasp2Vec, Grasp2VecConfig

    torch.manual_seed(0)
    save_checkpoint(Grasp2Vec(Grasp2VecConfig(image_size=32, embedding_dim=8, stem_channels=4, stage_channels=(4, 4))),
                    tmp_path / "g2v")
    card = PolicyCard(algo="qtopt-pose", reward="oracle", world={}, goal_features="heatmap",
                      grasp2vec=str(tmp_path / "g2v"), env_id="KukaInstanceGrasp-v0",
                      goal_features_config={"heatmap": True, "embedding": False, "keep_goal_image": True})
    env = make_env(Cell(ROWS["random"], three_objects, goals="composite"), TINY_WORLD, goal_bank, card)
    assert isinstance(env, CompositeGoalObservationWrapper)
    observation, _, _ = reset_trial(env, trial_seed(0, 0))
    features = env.features
    both = features.embed_goals(np.stack([observation["goal"], observation["goal_2"]]))
    assert torch.allclose(env._embedding[0], both.sum(dim=0))
    expected = features.observe({"image": observation["image"][None], "goal": observation["goal"][None]},
                                both.sum(dim=0, keepdim=True))["heatmap"][0]
    assert np.array_equal(observation["heatmap"], expected)
    env.close()
    # a patch-view policy keeps its height map under the composite goal features
    from envs.heightmap import HeightmapConfig

    patch_card = dataclasses.replace(card, heightmap=dataclasses.asdict(HeightmapConfig()))
    env = make_env(Cell(ROWS["random"], three_objects, goals="composite"), TINY_WORLD, goal_bank, patch_card)
    observation, _, _ = reset_trial(env, trial_seed(0, 0))
    assert isinstance(env, CompositeGoalObservationWrapper) and {"heightmap", "heatmap"} <= set(observation)
    env.close()


def test_heatmap_row_grasps_where_the_shipped_grasp2vec_points(tmp_path):
    out = tmp_path / "bench.json"
    benchmark.main(["--rows", "heatmap", "--objects", "seen", "--trials", "2", "--json", str(out), *TINY_ARGS])
    (cell,) = json.loads(out.read_text())["cells"]
    assert cell["status"] == "ok" and cell["trials"] == 2
    benchmark.main(["--rows", "heatmap", "--objects", "seen", "--task", "indiscriminate", "--trials", "2",
                    "--json", str(out), *TINY_ARGS])
    (cell,) = json.loads(out.read_text())["cells"]
    assert cell["status"].startswith("not applicable") and cell["trials"] == 0


def test_heatmap_policy_aims_at_the_heatmap_peak():
    from agents.baselines import HeatmapGraspPolicy
    from envs.config import WorldConfig

    policy = HeatmapGraspPolicy(WorldConfig(), grid=32)
    heat = np.zeros((48, 48, 1), np.uint8)
    target = np.array([0.4, -0.3, 0.0])
    column, row = policy.policy.space.pixels(target, 48)
    heat[row - 1:row + 2, column - 1:column + 2] = 255
    chosen = policy.choose({"heatmap": heat})
    assert np.abs(policy.policy.space.pixels(chosen, 48) - [column, row]).max() <= 1
    with pytest.raises(KeyError, match="heatmap"):
        policy.choose({"image": heat})


class _PreferredYawQ:
    """A stand-in indiscriminate Q-function: logit = -|yaw - 0.5| - 0.1 x (prefers yaw 0.5, then small x)."""

    goal_task = False

    def inputs(self, observations):
        return torch.as_tensor(observations["image"]).permute(0, 3, 1, 2).float()

    def q_values(self, inputs, poses):
        return -(poses[..., 2] - 0.5).abs() - 0.1 * poses[..., 0]


def test_heatmap_q_policy_picks_the_q_best_grasp_among_the_heatmap_best_positions():
    from agents.baselines import HeatmapQGraspPolicy
    from envs.config import WorldConfig

    policy = HeatmapQGraspPolicy(WorldConfig(), _PreferredYawQ(), grid=32, positions=9, yaws=4)
    heat = np.zeros((48, 48, 1), np.uint8)
    column, row = policy.policy.space.pixels(np.array([0.4, -0.3, 0.0]), 48)
    heat[row - 1:row + 2, column - 1:column + 2] = 255
    chosen = policy.choose({"heatmap": heat, "image": np.zeros((48, 48, 3), np.uint8)})
    assert chosen[2] == 0.5  # the Q-function's wrist angle among -1, -0.5, 0, 0.5
    assert np.abs(policy.policy.space.pixels(chosen, 48) - [column, row]).max() <= 2  # still on the heatmap peak
    goal_q = _PreferredYawQ()
    goal_q.goal_task = True
    with pytest.raises(ValueError, match="indiscriminate"):
        HeatmapQGraspPolicy(WorldConfig(), goal_q)


def test_each_row_source_gets_its_policy_and_card():
    from agents.baselines import HeatmapGraspPolicy
    from benchmark.tasks import HEATMAP_CARD, row_card, shared_policy, trial_policy
    from envs.scripted import RandomGraspPolicy

    class Env:  # what the scripted policies read from an environment
        unwrapped = types.SimpleNamespace(config=WorldConfig())

    assert row_card(ROWS["heatmap"]) is HEATMAP_CARD and row_card(ROWS["heatmap-qtopt"]) is HEATMAP_CARD
    assert row_card(ROWS["random"]) is None
    assert shared_policy(ROWS["heatmap"], Env()) is None
    assert isinstance(trial_policy(ROWS["heatmap"], Env(), seed=0), HeatmapGraspPolicy)
    assert isinstance(trial_policy(ROWS["random"], Env(), seed=0), RandomGraspPolicy)
    with pytest.raises(ValueError, match="no per-trial scripted policy"):
        trial_policy(ROWS["qtopt-grasp2vec"], Env(), seed=0)


def test_benchmark_records_which_grasp2vec_weights_each_heatmap_came_from(monkeypatch):
    from agents.loading import grasp2vec_fingerprint
    from benchmark.tasks import heatmap_weights

    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # rows name repo-relative checkpoints
    assert heatmap_weights(ROWS["heatmap"]) == {"checkpoint": "checkpoints/grasp2vec",
                                                "sha256": grasp2vec_fingerprint("checkpoints/grasp2vec"),
                                                "readout": {"shifts": 2, "centred": True}}
    older = heatmap_weights(ROWS["qtopt-grasp2vec-aux"])
    assert older["checkpoint"] == "checkpoints/grasp2vec-v2"
    assert older["readout"] == {"shifts": 1, "centred": False}  # its card predates recorded readouts
    assert heatmap_weights(ROWS["qtopt-grasp2vec"])["readout"] == {"shifts": 2, "centred": True}
    assert heatmap_weights(ROWS["random"]) is None and heatmap_weights(ROWS["qtopt-indiscriminate"]) is None


def test_splits_are_named_and_disjoint(tmp_path, capsys):
    out = tmp_path / "validation.json"
    benchmark.main(["--rows", "random", "--objects", "seen", "--trials", "2", "--split", "validation",
                    "--json", str(out), *TINY_ARGS])
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["split"] == "validation" and data["seeds"]["split"] == "validation" and data["seeds"]["seed"] == 1
    assert data["seeds"]["trial_seed"] == "20000000 + seed * 1000000 + trial"
    assert [t["seed"] for t in data["trials"]["random/seen/single/instance"]] == [trial_seed(1, i) for i in range(2)]
    assert "**validation split**" in printed and "**validation split**" in data["footer"]
    benchmark.main(["--rows", "random", "--objects", "seen", "--trials", "2", "--seed", "1", "--json", str(out),
                    *TINY_ARGS])
    assert json.loads(out.read_text())["split"] == "validation"  # --seed 1 is the validation split's old name
    benchmark.main(["--rows", "random", "--objects", "seen", "--trials", "2", "--json", str(out), *TINY_ARGS])
    data = json.loads(out.read_text())
    assert data["split"] == "test" and data["seeds"]["first_trial_seed"] == trial_seed(0, 0)
    with pytest.raises(SystemExit, match="name different splits"):
        benchmark.main(["--split", "test", "--seed", "1", "--trials", "1", *TINY_ARGS])
    with pytest.raises(SystemExit):
        benchmark.main(["--seed", "2", "--trials", "1", *TINY_ARGS])  # no third block to confuse with a split


def test_a_later_block_of_trials_runs_fresh_seeds_of_the_same_split(tmp_path, capsys):
    first, later = tmp_path / "first.json", tmp_path / "later.json"
    common = ["--rows", "random", "--objects", "seen", "--trials", "3", "--split", "validation", *TINY_ARGS]
    benchmark.main([*common, "--json", str(first)])
    benchmark.main([*common, "--first-trial", "2", "--json", str(later)])
    data = json.loads(later.read_text())
    assert [t["seed"] for t in data["trials"]["random/seen/single/instance"]] == [trial_seed(1, i) for i in (2, 3, 4)]
    assert data["seeds"]["first_trial_seed"] == trial_seed(1, 2) and "(trials 2–4)" in data["footer"]
    from runs.benchmark_compare import main as compare

    paired = compare([f"{later}:random", f"{first}:random"])  # paired on the one shared seed (trial 2)
    assert [cell["trials"] for cell in paired] == [1]
    with pytest.raises(SystemExit, match="first_trial must be in"):
        benchmark.main([*common, "--first-trial", "999998"])


def test_learned_row_trained_in_another_world_is_refused_by_name(tmp_path):
    _save_tiny_qtopt(tmp_path / "five", goal_conditioned=True)  # trained with 2 objects per bin, 4 steps
    with pytest.raises(SystemExit, match="row 'five' was trained with num_objects=2 but this table runs num_objects=5"):
        benchmark.main(["--checkpoint", f"five={tmp_path / 'five'}", "--rows", "random", "five", "--objects", "seen",
                        "--trials", "1", "--workers", "1", "--no-progress"])


def test_a_killed_run_resumes_from_its_finished_chunks(tmp_path, monkeypatch):

    config = BenchmarkConfig(rows=("random",), objects=("seen",), trials=6, chunk_size=2, workers=1, world=TINY_WORLD)
    _, uninterrupted, _ = run_benchmark(config, progress=False)
    partial = tmp_path / "run.partial.jsonl"
    run_benchmark(config, progress=False, partial=partial)
    header, first, *_ = partial.read_text().splitlines()
    partial.write_text(f"{header}\n{first}\n" + '{"cell": "random/seen/sin')  # killed while appending chunk 2
    ran, run_chunk = [], runner.run_chunk

    def counted(chunk):
        ran.append(chunk.first)
        return run_chunk(chunk)

    monkeypatch.setattr(runner, "run_chunk", counted)
    _, resumed, _ = run_benchmark(config, progress=False, partial=partial)
    assert ran == [2, 4]  # chunk 0 read back, not run again
    def outcomes(trials):  # everything but the timing
        return {key: [dataclasses.replace(r, seconds=0.0) for r in results] for key, results in trials.items()}

    assert outcomes(resumed) == outcomes(uninterrupted)
    assert len(partial.read_text().splitlines()) == 4  # header + 3 chunks: the torn line was cut off first
    with pytest.raises(ValueError, match="trials: 6 in the file, 8 now"):
        run_benchmark(dataclasses.replace(config, trials=8), progress=False, partial=partial)


def test_headline_table_goes_between_the_readme_markers(tmp_path):
    from benchmark.publish import README_END, README_START, readme_table, update_readme

    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{README_START}\nold table\n{README_END}\n\nrest\n")
    results = [TrialResult(seed=i, success=i < 3, lifted=1, grasp_attempted=True, fault=None, steps=4, seconds=0.5,
                           target_lifted=i < 5) for i in range(10)]
    cells = [summarize(Cell(ROWS["random"], objects, goals), "ok", results)
             for objects in ("seen", "unseen") for goals in ("single", "composite")]
    update_readme(readme, readme_table(cells))
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# Title") and text.endswith("rest\n")
    assert "| policy | seen | unseen | target lifted, ± others (seen / unseen) |" in text
    assert "| 30.0 % [10.8, 60.3] | 30.0 % [10.8, 60.3] | 50.0 % / 50.0 % |" in text and "composite" not in text
    (tmp_path / "bare.md").write_text("no markers")
    with pytest.raises(ValueError, match="no headline markers"):
        update_readme(tmp_path / "bare.md", "table")


def test_objects_with_primitive_collision_shapes_run_in_the_benchmark(tmp_path):
    from tests.primitives import write_primitive_objects

    folder = write_primitive_objects(tmp_path / "primitives")  # box, cylinder, sphere: no meshes
    out = tmp_path / "bench.json"
    benchmark.main(["--rows", "random", "privileged", "--objects", str(folder), "--trials", "2", "--json", str(out),
                    *TINY_ARGS])
    cells = json.loads(out.read_text())["cells"]
    assert [(c["row"], c["status"], c["trials"]) for c in cells] == [("random", "ok", 2), ("privileged", "ok", 2)]


def test_a_card_that_reads_the_wrist_camera_gets_it_on_either_task(three_objects, goal_bank):
    from common.protocols import PolicyCard

    card = PolicyCard(algo="qtopt-second-look", reward="indiscriminate + second look", world={}, wrist_view=True)
    for cell in (Cell(ROWS["random"], three_objects, task="indiscriminate"), Cell(ROWS["random"], three_objects)):
        env = make_env(cell, TINY_WORLD, goal_bank, card)
        observation, _ = env.reset(seed=trial_seed(0, 0))
        assert observation["wrist"].shape == (TINY_WORLD.image_size, TINY_WORLD.image_size, 3)
        assert observation["wrist"].any()
        env.close()
    plain = make_env(Cell(ROWS["random"], three_objects), TINY_WORLD, goal_bank, None)
    assert "wrist" not in plain.observation_space.spaces
    plain.close()


def test_a_trial_records_what_the_policy_reports_about_it(three_objects, goal_bank):
    class Reporting(SpyPolicy):
        def trial_report(self) -> dict:
            return {"calls": len(self.calls)}

    env = make_env(Cell(ROWS["random"], three_objects), TINY_WORLD, goal_bank, None)
    reporting, spy = Reporting(), SpyPolicy()
    result = run_trial(env, ObservationOnly(reporting, policy_keys(env, reporting, None)), seed=trial_seed(0, 0))
    assert result.policy_report == {"calls": result.steps}
    # the spy closes on its third action: the trial keeps what the gripper sensed and what fell in the hold
    assert result.grasp_attempted and isinstance(result.grasp_sensed, bool)
    assert result.close_height is not None and 0.0 <= result.close_height <= 0.4  # metres above the bottom
    assert isinstance(result.dropped_objects, tuple)
    plain = run_trial(env, ObservationOnly(spy, policy_keys(env, spy, None)), seed=trial_seed(0, 0))
    assert plain.policy_report is None
    env.close()


def test_the_shipped_ranked_row_runs_and_reports_its_rankers_pick():
    """The row `qtopt-grasp2vec-ranked` loads from its folder, gets the product's sensors, and every trial records
    the ranker's scores of its four candidates and which one was carried out."""
    config = BenchmarkConfig(rows=("qtopt-grasp2vec-ranked",), objects=("seen",), trials=2, workers=1)
    summaries, trials, _ = run_benchmark(config, ROWS, progress=False)
    assert summaries[0].status == "ok" and summaries[0].trials == 2
    for result in trials["qtopt-grasp2vec-ranked/seen/single/instance"]:
        report = result.policy_report
        assert len(report["scores"]) == 4 and report["chosen"] == int(np.argmax(report["scores"]))


def test_rows_that_cannot_decide_keep_every_lift_in_a_table_of_two_grasps(three_objects, goal_bank):
    outcomes = {}
    for settings in (TINY_WORLD, dataclasses.replace(TINY_WORLD, max_grasps=2)):
        env = make_env(Cell(ROWS["random"], three_objects), settings, goal_bank, None)
        spy = SpyPolicy()
        policy = ObservationOnly(spy, policy_keys(env, spy, None))
        results = [run_trial(env, policy, seed=trial_seed(1, i)) for i in range(3)]
        assert all(r.grasp_attempted for r in results)
        keeps = 3 if settings.max_grasps > 1 else 0  # the harness keeps each trial's lift for it: never asked
        assert len(spy.calls) == sum(r.steps for r in results) - keeps
        outcomes[settings.max_grasps] = [(r.success, r.lifted_objects, r.target) for r in results]
        env.close()
    assert outcomes[2] == outcomes[1]
