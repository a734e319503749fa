"""How much instance success a better choice of grasp could buy in this world.

Each trial is a benchmark bin (the headline's seeds, targets and goal bank). The privileged
scripted grasp (``envs.scripted.PrivilegedGraspPolicy``: the target's true centre, fingers
across its narrow axis) is tried at several variations of its pose, each from a fresh reset of
the same bin: the wrist turned by 0, ±45° or 90°, or the grasp point moved ±1 or ±2 cm along the
object's long axis. Reported per variation: success and where the trials ended; and **best of
K**, the share of bins in which at least one variation lifts the target alone. Best of K is a
hindsight oracle — it sees every outcome — so it is not a policy: it bounds what an agent that
picks the right grasp among these K could reach, where the single heuristic grasp is the
benchmark's ``privileged`` row.

The command is ``python -m runs.grasp_headroom``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmark.tasks import ROWS, Cell, ObservationOnly, TrialResult, make_env, make_goal_bank, run_trial, trial_seed
from common.stats import wilson_interval
from envs.config import WorldSettings
from envs.scripted import PrivilegedGraspPolicy


@dataclass(frozen=True)
class GraspVariation:
    """A change to the privileged grasp: ``yaw_offset`` (degrees) and ``shift`` (metres along the long axis)."""

    yaw_offset: float = 0.0
    shift: float = 0.0

    @property
    def label(self) -> str:
        return f"yaw {self.yaw_offset:+.0f}°, shift {100 * self.shift:+.0f} cm"


VARIATIONS = (GraspVariation(), GraspVariation(45.0), GraspVariation(-45.0), GraspVariation(90.0),
              GraspVariation(shift=0.01), GraspVariation(shift=-0.01), GraspVariation(shift=0.02),
              GraspVariation(shift=-0.02))


def ending(result: TrialResult) -> str:
    """Where a trial ended: ``success``, ``fault``, ``nothing``, ``wrong`` or ``target+another``."""
    if result.success:
        return "success"
    if result.fault is not None:
        return "fault"
    if result.lifted == 0:
        return "nothing"
    return "target+another" if result.target_lifted else "wrong"


def rate(hits: int, trials: int) -> dict[str, Any]:
    low, high = wilson_interval(hits, trials)
    return {"rate": hits / trials, "hits": hits, "trials": trials, "wilson95": [low, high]}


def measure(objects: str, trials: int, seed: int, variations: tuple[GraspVariation, ...],
            settings: WorldSettings, progress: bool = True) -> dict[str, Any]:
    """Endings (trials, variations) of every variation on ``trials`` benchmark bins of ``objects``,
    summarised per variation and as best of the first k variations, k = 1 .. K."""
    bank = make_goal_bank(settings.image_size)
    env = make_env(Cell(ROWS["privileged"], objects), settings, bank, None)
    keys = list(env.observation_space.spaces)
    endings = np.empty((trials, len(variations)), dtype=object)
    bar = tqdm(total=trials * len(variations), desc=f"headroom {objects}", disable=not progress)
    for i in range(trials):
        for j, variation in enumerate(variations):
            policy = PrivilegedGraspPolicy(env, np.radians(variation.yaw_offset), variation.shift)
            endings[i, j] = ending(run_trial(env, ObservationOnly(policy, keys), trial_seed(seed, i)))
            bar.update()
    bar.close()
    env.close()
    bank.close()  # the env does not own the goal bank
    success = endings == "success"
    per_variation = [{"variation": asdict(v), "label": v.label, **rate(int(success[:, j].sum()), trials),
                      "endings": {kind: int((endings[:, j] == kind).sum())
                                  for kind in ("success", "nothing", "wrong", "target+another", "fault")}}
                     for j, v in enumerate(variations)]
    best_of = [rate(int(success[:, :k].any(axis=1).sum()), trials) for k in range(1, len(variations) + 1)]
    return {"objects": objects, "trials": trials, "variations": per_variation, "best_of_k": best_of}


def markdown(results: list[dict[str, Any]]) -> str:
    """Per-variation success and best-of-K, one column per object set."""
    def cell(entry: dict[str, Any]) -> str:
        low, high = entry["wilson95"]
        return f"{100 * entry['rate']:.1f} % [{100 * low:.1f}, {100 * high:.1f}]"

    header = "| privileged grasp | " + " | ".join(r["objects"] for r in results) + " |"
    lines = [header, "|---|" + "---|" * len(results)]
    for j, variation in enumerate(results[0]["variations"]):
        lines.append(f"| {variation['label']} | " + " | ".join(cell(r["variations"][j]) for r in results) + " |")
    count = len(results[0]["best_of_k"])
    for k in sorted({min(4, count), count}):
        lines.append(f"| **best of the first {k}** (hindsight) | "
                     + " | ".join(f"**{cell(r['best_of_k'][k - 1])}**" for r in results) + " |")
    return "\n".join(lines)


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """Best-of-k success against k, one line per object set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3.2))
    for result in results:
        ks = np.arange(1, len(result["best_of_k"]) + 1)
        axis.plot(ks, [100 * b["rate"] for b in result["best_of_k"]], marker="o", label=result["objects"])
    axis.set(xlabel="privileged grasp variations tried (k)", ylabel="best-of-k instance success (%)",
             ylim=(0, 100), title="Grasp headroom (hindsight oracle)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
