"""Session 22's analysis probes (issue #14). They read the simulator's truth to explain results; nothing here is a
policy or trains one that ships. Run from the repository root, one probe per call; the runs recorded in
docs/results-log.md ("Session 22"):

    PYTHONPATH=. python docs/results/val-s22/looks.py stream seen 100 docs/results/val-s22/stream-seen.json
    PYTHONPATH=. python docs/results/val-s22/looks.py collect seen 300 8 runs/out/s22/steps-block8   # and 9
    PYTHONPATH=. python docs/results/val-s22/looks.py analyze runs/out/s22/steps-block8 runs/out/s22/steps-block9
    PYTHONPATH=. python docs/results/val-s22/looks.py analyze-steps runs/out/s22/steps-block8 runs/out/s22/steps-block9
    PYTHONPATH=. python docs/results/val-s22/looks.py ranked seen 200 400 docs/results/val-s22/ranked-b2-seen.json \
        runs/out/s22/ranker.npz
    PYTHONPATH=. python docs/results/val-s22/looks.py perturb seen runs/out/s22/steps-block8 100 \
        docs/results/val-s22/perturb-block8-seen.json

- ``stream``: what makes a product trial's outcome depend on the trials before it in the benchmark's loop. The
  validation trials are run four ways: as the benchmark runs them (one simulation and one policy per 10 trials),
  with a fresh simulation before every trial, with a fresh simulation and a freshly loaded policy (so every
  trial's CEM search starts from the same random stream, as session 21's ``top-k`` probe did), and the same with the
  policy's streams seeded with the trial's seed (a fresh policy whose draws differ from trial to trial).
- ``collect``: the shipped product's 4 best grasps at least 2 cm apart (``envs.grasp_pose.Avoid``; the product
  loaded once per 10 bins, as the benchmark does), each carried out from a fresh reset of the same bin, keeping
  the wrist camera's view at every step until the gripper closes, the outcome image and the first observation.
  The folder's ``top-k.json`` and NPZ files are in the format of session 21's ``probes.py ranker`` and
  ``fit-ranker``.
- ``analyze``: how well what the robot sees just before closing tells the four apart: the Grasp2Vec similarity of
  that view to the goal, and a small classifier of (view, goal) trained on the Grasp2Vec reward (5-fold over bins).
- ``analyze-steps``: the same question for the wrist view at each step of the descent, from its goal heatmap.
- ``ranked``: session 21's ranked policy on a later block of validation trials (to pair with ``runs.benchmark
  --first-trial``).
- ``perturb``: each candidate of a ``collect`` folder carried out again from the same reset, as chosen and 2 mm or
  2° off: how much of a candidate's outcome is the pose's, and how much chance.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "val-s21"))
from probes import (  # noqa: E402
    PRODUCT,
    RankedProduct,
    product_candidates,
    product_env,
    reward_labels,
    run_trials,
)

from agents.loading import load_policy  # noqa: E402
from agents.qtopt.ranking import held_out_scores  # noqa: E402
from benchmark.paired import mcnemar_exact  # noqa: E402
from benchmark.runner import BenchmarkConfig, plan  # noqa: E402
from benchmark.tasks import ROWS, ObservationOnly, make_env, make_goal_bank, row_card, run_trial, trial_seed  # noqa: E402
from envs.grasp_pose import ApproachConfig, PosePolicy  # noqa: E402
from envs.rollout import play_episode  # noqa: E402

CHUNK = 10
MAX_STEPS = 12  # the benchmark's step limit
OUTCOME_FIELDS = ("success", "lifted", "target_lifted", "sensed", "steps")


def looking_env(objects: str) -> Any:
    """The shipped product's validation env, with the wrist camera rendered at every step."""
    torch.set_num_threads(1)
    config = BenchmarkConfig(rows=("qtopt-grasp2vec-product",), objects=(objects,), trials=1, split="validation")
    chunk = plan(config, ROWS)[2][0]
    bank = make_goal_bank(chunk.settings.image_size, chunk.goal_seed)
    card = dataclasses.replace(row_card(chunk.cell.row), wrist_view=True)
    return make_env(chunk.cell, chunk.settings, bank, card)


class ViewSpy:
    """Wraps a policy; keeps the wrist view and the gripper's height of every observation it acts on until it
    first closes (``views``, ``heights``), and the view on which it closes (``view``)."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.reset_record()

    def reset_record(self) -> None:
        self.view: np.ndarray | None = None
        self.views: list[np.ndarray] = []
        self.heights: list[float] = []

    def reset(self) -> None:
        self.policy.reset()
        self.reset_record()

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        action = self.policy.act(observation)
        if self.view is None and "wrist" in observation:
            self.views.append(np.array(observation["wrist"], copy=True))
            self.heights.append(float(observation["gripper"][2]))
            if action[4] > 0:
                self.view = self.views[-1]
        return action

    @property
    def chosen(self) -> Any:
        return self.policy.chosen


def stream(objects: str, trials: int, out: str) -> None:
    env = looking_env(objects)
    keys = [k for k in env.observation_space.spaces if k != "wrist"]
    seed = BenchmarkConfig(split="validation").seed

    def run(mode: str) -> list[dict[str, Any]]:
        rows = []
        for first in range(0, trials, CHUNK):
            env.unwrapped.world.rebuild()
            policy = load_policy(PRODUCT)[0]
            for i in range(first, min(first + CHUNK, trials)):
                if mode != "benchmark":
                    env.unwrapped.world.rebuild()
                if mode.startswith("fresh simulation and policy"):
                    policy = load_policy(PRODUCT)[0]
                if mode == "fresh simulation and policy, seeded per trial":
                    policy.seed(trial_seed(seed, i))
                spy = ViewSpy(policy)
                result = run_trial(env, ObservationOnly(spy, keys), trial_seed(seed, i))
                rows.append(dict(success=result.success, pose=np.round(spy.chosen, 5).tolist()))
        return rows

    modes = ("benchmark", "fresh simulation", "fresh simulation and policy",
             "fresh simulation and policy, seeded per trial")
    results = {mode: run(mode) for mode in modes}
    Path(out).write_text(json.dumps(results))
    base = results["benchmark"]
    for mode in modes[1:]:
        same_pose = sum(a["pose"] == b["pose"] for a, b in zip(base, results[mode], strict=True))
        wins = sum(a["success"] and not b["success"] for a, b in zip(base, results[mode], strict=True))
        losses = sum(b["success"] and not a["success"] for a, b in zip(base, results[mode], strict=True))
        rate, base_rate = np.mean([r["success"] for r in results[mode]]), np.mean([r["success"] for r in base])
        print(f"{objects}, {mode} against the benchmark's loop: same pose {same_pose}/{trials}; success {rate:.3f} "
              f"against {base_rate:.3f} (loop better {wins}, worse {losses}, p = {mcnemar_exact(wins, losses):.3f})")


def carry_out(env: Any, pose: np.ndarray, seed: int) -> dict[str, Any]:
    """Carry ``pose`` out from ``env.reset(seed)`` as the benchmark carries out a pose policy's choice."""
    spy = ViewSpy(PosePolicy(lambda _: pose, env.unwrapped.config))
    _, info, _ = play_episode(env, spy, seed)
    truth = info["ground_truth"]
    size = env.unwrapped.config.camera.image_size
    blank = np.zeros((size, size, 3), np.uint8)
    return dict(success=bool(info["is_success"]), lifted=len(truth["lifted"]),
                target_lifted=truth["target"] in truth["lifted"], sensed=bool(info["grasp_sensed"]),
                outcome_image=np.asarray(info.get("outcome_image", blank)),
                view=spy.view if spy.view is not None else blank, steps=len(spy.views),
                step_views=np.stack(spy.views + [blank] * (MAX_STEPS - len(spy.views))),
                heights=np.array(spy.heights + [np.nan] * (MAX_STEPS - len(spy.heights))))


def collect(objects: str, bins: int, block: int, folder: str, k: int = 4) -> None:
    env = looking_env(objects)
    Path(folder).mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(bins):
        if i % CHUNK == 0:
            env.unwrapped.world.rebuild()
            product = load_policy(PRODUCT)[0]
        seed = trial_seed(block, i)
        observation, _ = env.reset(seed=seed)
        candidates, scores, logits = product_candidates(product, observation, k)
        outcomes = [carry_out(env, u, seed) for u in candidates]
        rows.append(dict(seed=seed, candidates=[c.tolist() for c in candidates], scores=scores, logits=logits,
                         outcomes=[{key: v for key, v in o.items() if key in OUTCOME_FIELDS} for o in outcomes]))
        first = {key: np.asarray(observation[key]) for key in ("heightmap", "heatmap", "goal", "image")}
        np.savez_compressed(f"{folder}/bin-{i:04d}.npz", views=np.stack([o["view"] for o in outcomes]),
                            step_views=np.stack([o["step_views"] for o in outcomes]),
                            heights=np.stack([o["heights"] for o in outcomes]),
                            outcome_images=np.stack([o["outcome_image"] for o in outcomes]), **first)
        Path(folder, "top-k.json").write_text(json.dumps(rows))
    success = np.array([[o["success"] for o in r["outcomes"]] for r in rows])
    print(f"{objects}, {bins} bins: first {success[:, 0].mean():.3f}, each {success.mean(0).round(3)}, "
          f"best of {k} {success.any(1).mean():.3f}")


def load_bins(folders: list[str]) -> dict[str, np.ndarray]:
    """Every bin the ``collect`` probe saved in ``folders``: candidates' views, outcomes, success, the first
    observation's goal, and the product's scores."""
    arrays: dict[str, list[Any]] = {k: [] for k in ("views", "goal", "success", "reward", "scores", "sensed", "lifted")}
    for folder in folders:
        rows = json.loads(Path(folder, "top-k.json").read_text())
        for i, row in enumerate(rows):
            data = np.load(Path(folder, f"bin-{i:04d}.npz"))
            arrays["views"].append(data["views"])
            arrays["goal"].append(data["goal"])
            arrays["reward"].append(reward_labels(data["goal"], data["outcome_images"]))
            arrays["success"].append([o["success"] for o in row["outcomes"]])
            arrays["sensed"].append([o["sensed"] for o in row["outcomes"]])
            arrays["lifted"].append([o["lifted"] for o in row["outcomes"]])
            arrays["scores"].append(row["scores"])
    return {k: np.asarray(v) for k, v in arrays.items()}


def goal_similarity(views: np.ndarray, goals: np.ndarray) -> dict[str, np.ndarray]:
    """Label-free Grasp2Vec readings of each pre-close view (N, K, H, W, 3) for its bin's goal (N, H, W, 3): the
    cosine of φ_o(view) and φ_o(goal), and the goal heatmap of the view (φ_o(goal) · φ_s cells) at its centre
    and at its peak."""
    from embedding.checkpoint import load_checkpoint

    model = load_checkpoint("checkpoints/grasp2vec")
    n, k = views.shape[:2]
    flat = views.reshape(n * k, *views.shape[2:])
    with torch.no_grad():
        goal = model.embed_outcomes(goals)
        goal_k = goal.repeat_interleave(k, 0)
        view = model.embed_outcomes(flat)
        cosine = torch.nn.functional.cosine_similarity(view, goal_k).reshape(n, k)
        cells = model.scene_feature_map(flat)
        heat = torch.einsum("bd,bdhw->bhw", goal_k, cells)
        h, w = heat.shape[1:]
        centre = heat[:, h // 2 - 1:h // 2 + 1, w // 2 - 1:w // 2 + 1].mean(dim=(1, 2)).reshape(n, k)
        peak = heat.flatten(1).max(1).values.reshape(n, k)
    return dict(cosine=cosine.numpy(), heat_centre=centre.numpy(), heat_peak=peak.numpy())


class LookNet(torch.nn.Module):
    """A small classifier of (pre-close wrist view, goal image), 6 x 64 x 64 -> a logit."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = []
        channels = 6
        for out in (width, 2 * width, 2 * width, 4 * width):
            layers += [torch.nn.Conv2d(channels, out, 3, stride=2, padding=1), torch.nn.ReLU()]
            channels = out
        self.trunk = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(channels, 1)

    def forward(self, views: torch.Tensor, goals: torch.Tensor) -> torch.Tensor:
        x = torch.cat([views, goals], 1).float() / 255.0
        return self.head(self.trunk(x).mean(dim=(2, 3)))[:, 0]


def fit_look(views: np.ndarray, goals: np.ndarray, labels: np.ndarray, steps: int = 1500, seed: int = 0
             ) -> LookNet:
    """Train :class:`LookNet` on candidates (N, K) of bins with ``labels`` (N, K); flips as augmentation."""
    torch.manual_seed(seed)
    net = LookNet()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
    v = torch.as_tensor(views.reshape(-1, *views.shape[2:])).permute(0, 3, 1, 2)
    g = torch.as_tensor(goals).permute(0, 3, 1, 2).repeat_interleave(views.shape[1], 0)
    y = torch.as_tensor(labels.reshape(-1), dtype=torch.float32)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        index = torch.as_tensor(rng.integers(len(y), size=64))
        bv, bg = v[index], g[index]
        if rng.random() < 0.5:
            bv, bg = bv.flip(3), bg.flip(3)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(bv, bg), y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.eval()


def look_scores(net: LookNet, views: np.ndarray, goals: np.ndarray) -> np.ndarray:
    n, k = views.shape[:2]
    v = torch.as_tensor(views.reshape(-1, *views.shape[2:])).permute(0, 3, 1, 2)
    g = torch.as_tensor(goals).permute(0, 3, 1, 2).repeat_interleave(k, 0)
    with torch.no_grad():
        return net(v, g).reshape(n, k).numpy()


def report_pick(name: str, score: np.ndarray, success: np.ndarray) -> None:
    """How a per-candidate score (N, K) ranks: ROC-AUC against success over every candidate and over the product's
    firsts, and its argmax's success against the first's (paired)."""
    from common.stats import roc_auc

    picked = success[np.arange(len(score)), score.argmax(1)]
    first = success[:, 0]
    wins, losses = int((picked & ~first).sum()), int((~picked & first).sum())
    print(f"  {name}: ROC-AUC all {roc_auc(score.reshape(-1), success.reshape(-1)):.3f}, firsts "
          f"{roc_auc(score[:, 0], first):.3f}; argmax succeeds {picked.mean():.3f} against the first's "
          f"{first.mean():.3f} ({wins} / {losses}, p = {mcnemar_exact(wins, losses):.3f})")


def analyze(folders: list[str]) -> None:
    data = load_bins(folders)
    success, reward = data["success"].astype(bool), data["reward"].astype(np.float32)
    print(f"{len(success)} bins: first {success[:, 0].mean():.3f}, each {success.mean(0).round(3)}, best of 4 "
          f"{success.any(1).mean():.3f}; the reward agrees with success on {(reward == success).mean():.3f}")
    report_pick("the product's score", data["scores"], success)
    for name, value in goal_similarity(data["views"], data["goal"]).items():
        report_pick(f"Grasp2Vec {name} of the view", value, success)
    order = np.random.default_rng(0).permutation(len(success))
    held_out = np.zeros(success.shape, np.float32)
    for fold in np.array_split(order, 5):
        train = np.setdiff1d(order, fold)
        net = fit_look(data["views"][train], data["goal"][train], reward[train])
        held_out[fold] = look_scores(net, data["views"][fold], data["goal"][fold])
    report_pick("look classifier (view + goal, Grasp2Vec reward; 5-fold)", held_out, success)
    report_pick("look classifier + the product's score", held_out + data["scores"], success)
    report_give_up(held_out, success)


def report_give_up(look: np.ndarray, success: np.ndarray) -> None:
    """A look that gives the product's first grasp up when it scores in the lowest ``fraction`` and takes its second
    instead (each carried out from a fresh reset, so an upper bound on a policy that first descends to the one it
    gives up)."""
    first = success[:, 0]
    for fraction in (0.1, 0.2, 0.3):
        give_up = look[:, 0] < np.quantile(look[:, 0], fraction)
        taken = np.where(give_up, success[:, 1], first)
        wins, losses = int((taken & ~first).sum()), int((~taken & first).sum())
        print(f"  give up the lowest {fraction:.0%} of firsts (failing {1 - first[give_up].mean():.3f}) for "
              f"the second: {taken.mean():.3f} against {first.mean():.3f} ({wins} / {losses}, "
              f"p = {mcnemar_exact(wins, losses):.3f})")


def heat_grid(model: Any, views: np.ndarray, goals: np.ndarray, cells: int = 4) -> np.ndarray:
    """Label-free features (N, cells² + 2) of wrist views (N, H, W, 3) for goals (N, H, W, 3): the Grasp2Vec goal
    heatmap of each view (φ_o(goal) · φ_s cells) pooled to a cells x cells grid, then its peak and mean."""
    with torch.no_grad():
        goal = model.embed_outcomes(goals)
        heat = torch.einsum("bd,bdhw->bhw", goal, model.scene_feature_map(views))
        grid = torch.nn.functional.adaptive_avg_pool2d(heat[:, None], cells).flatten(1)
        return torch.cat([grid, heat.flatten(1).max(1).values[:, None], heat.flatten(1).mean(1)[:, None]], 1).numpy()


def analyze_steps(folders: list[str], last_step: int = 6) -> None:
    """Per step of the approach: how well the wrist view (its goal heatmap on a 4 x 4 grid, logistic regression on
    the Grasp2Vec reward, 5-fold over bins) tells the product's candidates apart, and a give-up at that step."""
    from common.stats import roc_auc
    from embedding.checkpoint import load_checkpoint

    model = load_checkpoint("checkpoints/grasp2vec")
    views, heights, goals, success, reward = [], [], [], [], []
    for folder in folders:
        rows = json.loads(Path(folder, "top-k.json").read_text())
        for i, row in enumerate(rows):
            data = np.load(Path(folder, f"bin-{i:04d}.npz"))
            views.append(data["step_views"][:, :last_step])
            heights.append(data["heights"][:, :last_step])
            goals.append(data["goal"])
            success.append([o["success"] for o in row["outcomes"]])
            reward.append(reward_labels(data["goal"], data["outcome_images"]))
    v, hgt, g = np.asarray(views), np.asarray(heights), np.asarray(goals)
    y, r = np.asarray(success, bool), np.asarray(reward, np.float32)
    n, k = y.shape
    print(f"{n} bins: first {y[:, 0].mean():.3f}, best of {k} {y.any(1).mean():.3f}")
    for step in range(1, last_step):
        x = heat_grid(model, v[:, :, step].reshape(n * k, *v.shape[3:]), np.repeat(g, k, 0)).reshape(n, k, -1)
        score = held_out_scores(x, r, 0.1)
        auc_all, auc_first = roc_auc(score.reshape(-1), y.reshape(-1)), roc_auc(score[:, 0], y[:, 0])
        print(f"step {step} (gripper {np.nanmedian(hgt[:, :, step]):.3f} m, open views "
              f"{np.isfinite(hgt[:, :, step]).mean():.2f}): ROC-AUC all {auc_all:.3f}, firsts {auc_first:.3f}")
        report_give_up(score, y)


def ranked(objects: str, first: int, trials: int, out: str, ranker_file: str) -> None:
    """Session 21's ranked policy (the product's four best grasps, the ranker's pick carried out) on validation
    trials ``first`` .. ``first + trials - 1``, chunked as the benchmark chunks them, to pair with ``runs.benchmark
    --first-trial FIRST``."""
    env = product_env(objects)
    results = run_trials(env, trials, lambda: RankedProduct(env, ranker_file), first)
    Path(out).write_text(json.dumps(results, default=str))
    print(f"ranked {objects}, trials {first}..{first + trials - 1}: success "
          f"{np.mean([r['success'] for r in results]):.3f}")

OFFSETS = ((0.0, 0.0, 0.0), (0.002, 0.0, 0.0), (-0.002, 0.0, 0.0), (0.0, 0.002, 0.0), (0.0, -0.002, 0.0),
           (0.0, 0.0, 0.035), (0.0, 0.0, -0.035))  # metres, metres, radians (2°)


def perturb(objects: str, folder: str, bins: int, out: str) -> None:
    """Each of a ``collect`` folder's candidates carried out again from the same reset, as chosen and 2 mm or 2°
    off (``ApproachConfig.offset``): how much of a candidate's outcome is the pose's, and how much chance."""
    env = looking_env(objects)
    world = env.unwrapped.config
    rows = json.loads(Path(folder, "top-k.json").read_text())[:bins]
    results = []
    for row in rows:
        outcomes = []
        for candidate in row["candidates"]:
            pose = np.asarray(candidate)
            outcomes.append([bool(play_episode(env, PosePolicy(lambda _, u=pose: u, world, ApproachConfig(offset=o)),
                                               row["seed"])[1]["is_success"]) for o in OFFSETS])
        results.append(dict(seed=row["seed"], outcomes=outcomes))
        Path(out).write_text(json.dumps(dict(offsets=OFFSETS, bins=results)))
    summarize_perturb(out)


def summarize_perturb(path: str) -> None:
    bins = json.loads(Path(path).read_text())["bins"]
    y = np.asarray([b["outcomes"] for b in bins], float)  # (bins, candidates, offsets); offset 0 = as chosen
    nominal, expected = y[:, :, 0], y.mean(2)
    mixed = (expected > 0) & (expected < 1)
    print(f"{len(y)} bins: the first as chosen {nominal[:, 0].mean():.3f}, its mean over the offsets "
          f"{expected[:, 0].mean():.3f}; candidates whose outcome changes with a 2 mm / 2° offset {mixed.mean():.3f}")
    print(f"  best of 4 as chosen {nominal.max(1).mean():.3f}; the candidate with the best mean over the offsets, "
          f"as chosen {nominal[np.arange(len(y)), expected.argmax(1)].mean():.3f}, on average "
          f"{expected.max(1).mean():.3f}")


if __name__ == "__main__":
    probe, args = sys.argv[1], sys.argv[2:]
    if probe == "stream":
        stream(args[0], int(args[1]), args[2])
    elif probe == "collect":
        collect(args[0], int(args[1]), int(args[2]), args[3])
    elif probe == "analyze":
        analyze(args)
    elif probe == "analyze-steps":
        analyze_steps(args)
    elif probe == "perturb":
        perturb(args[0], args[1], int(args[2]), args[3])
    elif probe == "ranked":
        ranked(args[0], int(args[1]), int(args[2]), args[3], args[4])
    else:
        raise SystemExit(f"unknown probe {probe!r}: stream, collect or analyze")
