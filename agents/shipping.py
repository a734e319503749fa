"""Shipping a trained policy into ``checkpoints/policies/NAME``: weights and cards only, with its provenance.

The command is ``python -m runs.ship_policy``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from agents.loading import is_policy_checkpoint
from agents.sac.policy import ACTOR_CARD, ACTOR_WEIGHTS
from common.io import atomic_write_text, staged_folder

POLICY_FILES = ("policy.json", "pose_qtopt.safetensors", "pose_qtopt.json", "qtopt.safetensors", "qtopt.json",
                ACTOR_WEIGHTS, ACTOR_CARD)
SB3_ZIP = "sac.zip"
RUN_FILES = ("config.json", "config-resume.json", "eval.json", "curves.png")


def collect_command(folder: str) -> str:
    """The ``runs.collect`` command that reproduces a dataset folder, read from its ``card.json``."""
    card_path = Path(folder) / "card.json"
    if not card_path.is_file():
        return f"# {folder}: no card.json here, its collection command is unknown"
    card = json.loads(card_path.read_text())
    c = card["config"]
    objects = c["objects"] if isinstance(c["objects"], str) else " ".join(c["objects"])
    held = attempts_held(card)
    note = (f"  # stopped at {held:,} of the card's {c['grasps']:,} attempts: this command collects the shards "
            "the folder holds" if held < c["grasps"] else "")
    return (f"python -m runs.collect --out {folder} --objects {objects} --grasps {min(held, c['grasps'])} "
            f"--seed {c['seed']} --num-objects {c['num_objects']} --image-size {c['image_size']} "
            f"--max-steps {c['max_steps']} --policy {c['policy']} --shard-size {c['shard_size']}"
            f"{' --heightmap' if c.get('heightmap') else ''}{note}")


def attempts_held(card: dict) -> int:
    """Attempts in a dataset card's shards from index 0 up to the first gap (a stopped collection's prefix)."""
    held = 0
    for first, stop in sorted((entry["first_index"], entry["stop_index"]) for entry in card.get("shards", [])):
        if first != held:
            break
        held = stop
    return held


def readme(name: str, run: Path, config: dict, evals: list[dict], resumes: list[str]) -> str:
    """The shipped folder's README: what it is, how it was trained (exact commands), what it scored."""
    rows = "\n".join(f"| {e['grasps']:.0f} | {e.get('updates', e.get('timesteps', 0)):.0f} | {e['wall_s'] / 60:.1f} | "
                     f"{e['success_rate']:.3f} | {e['success_low']:.3f}–{e['success_high']:.3f} | {e['episodes']:.0f} |"
                     for e in evals)
    collects = [collect_command(folder) for folder in config.get("offline_data") or []]
    length_flag = "--timesteps" if config["algo"].startswith("sac") else "--grasps"  # SAC counts env steps
    length_value = evals[-1].get("timesteps", evals[-1]["grasps"]) if length_flag == "--timesteps" \
        else evals[-1]["grasps"]
    length = (f"Training ran {evals[-1]['grasps']:.0f} online grasps. `--minutes` caps wall time, which depends "
              f"on the machine's load: to repeat exactly this length, pass `{length_flag} {length_value:.0f}` "
              "instead." if "--minutes" in " ".join([config["command"], *resumes]) else "")
    commands = "\n".join([*collects, config["command"], *resumes])
    return f"""# Shipped policy `{name}`

Trained by this repository's own code; load with `agents.loading.load_policy("checkpoints/policies/{name}/checkpoint")`
or score with `python -m runs.benchmark --rows {name}`.

| | |
|---|---|
| algorithm | `{config['algo']}` |
| reward | `{config['reward']}` {config.get('reward_args') or ''} |
| goal features | `{config['goal_features']}` |
| preset | `{config['preset']}` (settings in `config.json`) |
| offline data | {', '.join(f'`{d}`' for d in config.get('offline_data') or []) or 'none'} |
| seed | {config['seed']} |
| machine | {config['machine']} |
| source run | `{run}` |

## Command

```bash
{commands}
python -m runs.ship_policy --run {run} --name {name}
```

{length}

## Evaluation during training

Success rate of the training task (`eval.json`; seeds from `agents.core.evaluation.EVAL_SEED_OFFSET`,
disjoint from training; these are training-time checks — the benchmark protocol's numbers are in
`docs/benchmark.md`). Plot: `curves.png`.

| training grasps | gradient updates | wall (min) | success | Wilson 95 % | episodes |
|---|---|---|---|---|---|
{rows}
"""


def export_actor(sb3_zip: Path, directory: Path) -> None:
    """Write the actor of an SB3 SAC zip (a run that predates the export) into ``directory``."""
    from stable_baselines3 import SAC

    from agents.sac.policy import save_actor

    save_actor(SAC.load(sb3_zip, device="cpu"), directory)


def ship(run: Path, name: str, root: Path = Path("checkpoints/policies")) -> Path:
    """Copy ``run`` into ``root/name`` (replacing an older copy); returns the new folder."""
    checkpoint = run / "checkpoint"
    if not (checkpoint / "policy.json").is_file():
        raise SystemExit(f"{checkpoint}: no policy.json — not a runs.train_policy run folder")
    for required in ("config.json", "eval.json"):
        if not (run / required).is_file():
            raise SystemExit(f"{run / required} is missing: the shipped policy would lose its provenance")
    target = root / name
    with staged_folder(target, replace=True) as staging:
        (staging / "checkpoint").mkdir()
        for file in POLICY_FILES:
            if (checkpoint / file).is_file():
                shutil.copy2(checkpoint / file, staging / "checkpoint" / file)
        if (checkpoint / SB3_ZIP).is_file() and not (checkpoint / ACTOR_CARD).is_file():
            export_actor(checkpoint / SB3_ZIP, staging / "checkpoint")
        if not is_policy_checkpoint(staging / "checkpoint"):
            raise SystemExit(f"{checkpoint}: no policy weights (pose_qtopt.*, qtopt.*, {ACTOR_CARD} or {SB3_ZIP})")
        for file in RUN_FILES:
            if (run / file).is_file():
                shutil.copy2(run / file, staging / file)
        config = json.loads((run / "config.json").read_text())
        resumes = [json.loads((run / "config-resume.json").read_text())["command"]] \
            if (run / "config-resume.json").is_file() else []
        atomic_write_text(staging / "README.md", readme(name, run, config, json.loads((run / "eval.json").read_text()),
                                                        resumes))
    return target
