"""How well an indiscriminate pose Q-function tells the grasps that hold from those that fail, on attempts
it never trained on.

CEM acts on the Q-function's ranking, so this is its accuracy where it matters: each held-out attempt's
pose (where the gripper closed) is scored from the observation the attempt started from, and the logits are
compared with what happened — the sensed bit the grasp prior learns from, and, for evaluation only, the
simulator's ``lifted`` (the benchmark's success). Reported: ROC-AUC against each label, the success rate
of the attempts the Q-function rates highest, and a reliability table (predicted against observed).
The command is ``python -m runs.eval_qfunction``.

Several Q-functions are scored as the product that weighs each by ``1/K`` would rank them
(:class:`agents.qtopt.product.PoseQProduct`): by the geometric mean of their success probabilities.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from agents.core.episode import episodes_from_dataset
from agents.core.relabel import Decision, decision_from_episode
from agents.qtopt.learner import PoseQTOpt, check_shared_world
from common.stats import roc_auc
from envs.heightmap_observation import HEIGHTMAP_KEY

RELIABILITY_BINS = 10
TOP_SHARE = 0.25  # "the attempts the Q-function rates highest": this top share of them


@dataclass(frozen=True)
class ScoredAttempts:
    """Held-out attempts, each scored: ``logits``, ``sensed`` and ``lifted`` are (N,) arrays."""

    logits: np.ndarray
    sensed: np.ndarray
    lifted: np.ndarray


class _RecordingDataset:
    """A dataset that remembers each item's ground-truth ``success`` as the episodes are read."""

    def __init__(self, dataset: Any) -> None:
        self.dataset, self.success = dataset, []

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.dataset[index]
        self.success.append(bool(item["success"]))
        return item


def _decisions(agent: PoseQTOpt, dataset: Any, image_size: int) -> Iterator[tuple[Decision, bool]]:
    recording = _RecordingDataset(dataset)
    for episode in episodes_from_dataset(recording, image_size):
        decision = decision_from_episode(episode, agent.space)
        if decision is not None:
            yield decision, recording.success[-1]


def geometric_mean_logits(logits: torch.Tensor) -> torch.Tensor:
    """Log-odds (N,) of the geometric mean of K members' success probabilities, from their logits (K, N)."""
    log_p = F.logsigmoid(logits.double()).mean(dim=0)  # float64: log(1 - p) stays exact for confident members
    return (log_p - torch.log(-torch.expm1(log_p).clamp(max=-1e-300))).to(logits.dtype)


@torch.no_grad()
def score_attempts(agent: PoseQTOpt | Sequence[PoseQTOpt], dataset: Any, image_size: int,
                   batch_size: int = 64) -> ScoredAttempts:
    """Score every attempt of an ``EpisodeDataset`` that closed the gripper, by one Q-function or by the
    geometric mean of several (:func:`geometric_mean_logits`).

    Raises:
        ValueError: a goal-task Q-function, one that reads height maps the data do not hold, or members that
            place poses differently.
    """
    agents = [agent] if isinstance(agent, PoseQTOpt) else list(agent)
    if not agents:
        raise ValueError("score_attempts needs at least one Q-function")
    if any(member.goal_task for member in agents):
        raise ValueError("score_attempts rates indiscriminate grasps; a goal-task Q-function needs a goal heatmap")
    check_shared_world(agents)
    for member in agents:
        member.q.eval()
    first = agents[0]
    logits: list[float] = []
    sensed: list[bool] = []
    lifted: list[bool] = []
    pending: list[Decision] = []

    def flush() -> None:
        observations: dict[str, np.ndarray] = {"image": np.stack([d.image for d in pending])}
        if any(member.config.view == "patch" for member in agents):
            if any(d.heightmap is None for d in pending):
                raise ValueError("this Q-function reads height maps: score data collected with --heightmap")
            observations[HEIGHTMAP_KEY] = np.stack([d.heightmap for d in pending])
        poses = torch.as_tensor(np.stack([d.pose for d in pending]), dtype=torch.float32)[:, None]
        each = torch.stack([member.q_values(member.inputs(observations), poses)[:, 0] for member in agents])
        logits.extend((each[0] if len(agents) == 1 else geometric_mean_logits(each)).tolist())
        pending.clear()

    for decision, success in _decisions(first, dataset, image_size):
        pending.append(decision)
        sensed.append(decision.grasped)
        lifted.append(success)
        if len(pending) == batch_size:
            flush()
    if pending:
        flush()
    return ScoredAttempts(np.asarray(logits), np.asarray(sensed, bool), np.asarray(lifted, bool))


def summarize(scores: ScoredAttempts, top_share: float = TOP_SHARE, bins: int = RELIABILITY_BINS) -> dict[str, Any]:
    """ROC-AUC against both labels, success of the top ``top_share`` by logit, and a reliability table
    (``bins`` equal-width bins of the predicted probability: count, mean prediction, sensed rate)."""
    if len(scores.logits) < 2:
        raise ValueError(f"need at least two scored attempts, got {len(scores.logits)}")
    probability = 1.0 / (1.0 + np.exp(-scores.logits))
    order = np.argsort(-scores.logits, kind="stable")
    top = order[: max(1, int(round(top_share * len(order))))]
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probability, edges[1:-1]), 0, bins - 1)
    reliability = [{"low": float(edges[b]), "high": float(edges[b + 1]), "attempts": int((which == b).sum()),
                    "predicted": float(probability[which == b].mean()) if (which == b).any() else None,
                    "sensed": float(scores.sensed[which == b].mean()) if (which == b).any() else None}
                   for b in range(bins)]

    def auc(labels: np.ndarray) -> float | None:
        return roc_auc(scores.logits, labels) if 0 < labels.sum() < len(labels) else None

    return {"attempts": len(scores.logits), "sensed_rate": float(scores.sensed.mean()),
            "lifted_rate": float(scores.lifted.mean()), "auc_sensed": auc(scores.sensed),
            "auc_lifted": auc(scores.lifted), "top_share": top_share,
            "top_lifted_rate": float(scores.lifted[top].mean()), "top_sensed_rate": float(scores.sensed[top].mean()),
            "brier_sensed": float(np.mean((probability - scores.sensed) ** 2)), "reliability": reliability}


def markdown(summary: dict[str, Any], name: str) -> str:
    """The summary as a Markdown table (one row) and its reliability table."""
    def cell(value: float | None, percent: bool = False) -> str:
        if value is None:
            return "–"
        return f"{100 * value:.1f} %" if percent else f"{value:.3f}"

    lines = ["| Q-function | attempts | lifted | ROC-AUC (lifted) | ROC-AUC (sensed) | lifted in its top "
             f"{100 * summary['top_share']:.0f} % | Brier (sensed) |", "|" + "---|" * 7,
             f"| {name} | {summary['attempts']} | {cell(summary['lifted_rate'], True)} | {cell(summary['auc_lifted'])} "
             f"| {cell(summary['auc_sensed'])} | {cell(summary['top_lifted_rate'], True)} | "
             f"{cell(summary['brier_sensed'])} |", "",
             "| predicted | attempts | mean prediction | sensed |", "|---|---|---|---|"]
    lines += [f"| {row['low']:.1f}–{row['high']:.1f} | {row['attempts']} | {cell(row['predicted'], True)} | "
              f"{cell(row['sensed'], True)} |" for row in summary["reliability"]]
    return "\n".join(lines) + "\n"


def plot_reliability(summary: dict[str, Any], path: Path, name: str) -> None:
    """A reliability diagram (predicted against sensed, one dot per bin sized by its attempts) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [(row["predicted"], row["sensed"], row["attempts"]) for row in summary["reliability"] if row["attempts"]]
    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    axis.scatter([p[0] for p in points], [p[1] for p in points],
                 s=[10 + 200 * p[2] / summary["attempts"] for p in points])
    auc = summary["auc_lifted"]
    axis.set(xlabel="predicted success (sigmoid of the logit)", ylabel="sensed grasps", xlim=(0, 1), ylim=(0, 1))
    axis.set_title(f"{name}: ROC-AUC {'–' if auc is None else f'{auc:.3f}'} (lifted)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
