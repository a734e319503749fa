"""The main job, end to end: collect → train Grasp2Vec → calibrate its reward → train a policy on it → benchmark.

    python -m runs.pipeline                          # default preset, about 15 minutes on 2 cores
    python -m runs.pipeline --preset tiny --out runs/out/pipeline-tiny
    python -m runs.pipeline --out runs/out/pipeline --resume   # after a kill: finished stages are skipped

Stages (each is the stage command's own ``main(argv)``, so its outputs, checkpoints and logs are
exactly that command's):

1. ``runs.collect``: indiscriminate grasps (random scripted policy) on seen objects → ``OUT/data``
2. ``runs.train_embedding``: Grasp2Vec on those triplets → ``OUT/grasp2vec``
3. ``runs.calibrate_reward``: the grasp2vec reward's threshold and empty-gripper classifier (beside the checkpoint)
4. ``runs.train_policy``: a goal-conditioned policy on the grasp2vec reward → ``OUT/policy``
5. ``runs.benchmark``: that policy next to the shipped checkpoints and scripted rows → ``OUT/benchmark``

A finished stage leaves ``OUT/stages/NAME.json`` (its arguments and wall time); ``--resume`` skips
those and continues unfinished ones with the stage's own ``--resume``. ``OUT/pipeline.json`` holds
the preset, seeds, code version and machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.io import atomic_write_text
from runs.pipeline_presets import PRESETS, PipelinePreset

STAGES = ("collect", "embedding", "calibration", "policy", "benchmark")
PIPELINE_ROW = "this-run"


@dataclass(frozen=True)
class Stage:
    """One step: the command it runs, its arguments, and whether a partial output can be resumed."""

    name: str
    module: str
    argv: list[str]
    resumable: Callable[[], bool]  # True when a partial output exists that the command's --resume continues

    def command(self) -> str:
        return " ".join(["python -m", self.module, *self.argv])


def build_stages(preset: PipelinePreset, out: Path, wandb_mode: str) -> list[Stage]:
    """The five stages of ``preset`` writing under ``out``."""
    from benchmark.tasks import checkpoint_folder

    c, e, k, p, b = preset.collect, preset.embedding, preset.calibration, preset.policy, preset.benchmark
    data, grasp2vec, policy = out / "data", out / "grasp2vec", out / "policy"
    reward_arg = f"checkpoint={grasp2vec}"
    rows = [b.shipped_rows[0], PIPELINE_ROW, *b.shipped_rows[1:]] if b.shipped_rows else [PIPELINE_ROW]
    return [
        Stage("collect", "runs.collect", [
            "--out", str(data), "--grasps", str(c.grasps), "--workers", str(c.workers), "--objects", c.objects,
            "--image-size", str(c.image_size), "--num-objects", str(c.num_objects), "--shard-size", str(c.shard_size),
            "--seed", str(c.seed), "--wandb-mode", wandb_mode], lambda: (data / "card.json").is_file()),
        Stage("embedding", "runs.train_embedding", [
            "--data", str(data), "--out", str(grasp2vec), "--steps", str(e.steps), "--batch-size", str(e.batch_size),
            "--embedding-dim", str(e.embedding_dim), "--eval-every", str(e.eval_every),
            "--checkpoint-every", str(e.checkpoint_every), "--seed", str(e.seed), "--threads", "2",
            "--wandb-mode", wandb_mode], lambda: (grasp2vec / "train_state.json").is_file()),
        Stage("calibration", "runs.calibrate_reward", [
            "--reward", "grasp2vec", "--reward-arg", reward_arg, "--data", str(data), "--split", k.split,
            "--empty", str(k.empty), "--presence-steps", str(k.presence_steps), "--objects", c.objects,
            "--num-objects", str(c.num_objects), "--seed", str(k.seed), "--threads", "2"], lambda: False),
        Stage("policy", "runs.train_policy", [
            "--algo", p.algo, "--reward", "grasp2vec", "--reward-arg", reward_arg, "--preset", p.preset,
            "--out", str(policy), "--seed", str(p.seed), "--grasps", str(p.grasps), "--minutes", str(p.minutes),
            "--goal-features", p.goal_features, "--grasp2vec", str(grasp2vec),
            *(["--offline-data", str(data)] if p.offline_data else [])],
            lambda: checkpoint_folder(policy) is not None),
        Stage("benchmark", "runs.benchmark", [
            "--rows", *rows, "--checkpoint", f"{PIPELINE_ROW}={policy}", "--objects", *b.objects,
            "--num-objects", str(c.num_objects),
            "--trials", str(b.trials), "--workers", str(b.workers), "--json", str(out / "benchmark" / "results.json"),
            "--markdown", str(out / "benchmark" / "table.md")], lambda: False),
    ]


def stage_main(module: str) -> Callable[[list[str]], Any]:
    """The ``main(argv)`` of a stage command."""
    import importlib

    return importlib.import_module(module).main


def settings(argv: list[str]) -> list[str]:
    """A stage's arguments without ``--wandb-mode X`` (logging, not what the stage computes)."""
    result, skip = [], False
    for item in argv:
        if skip or item == "--wandb-mode":
            skip = not skip
            continue
        result.append(item)
    return result


def marker(out: Path, stage: Stage) -> Path:
    return out / "stages" / f"{stage.name}.json"


def run_stage(stage: Stage, out: Path, resume: bool) -> dict[str, Any]:
    """Run ``stage`` unless its marker says it finished with the same arguments; returns its record."""
    done = marker(out, stage)
    if done.is_file():
        record = json.loads(done.read_text())
        if settings(record["argv"]) != settings(stage.argv):
            raise SystemExit(f"pipeline: stage {stage.name} in {out} finished with other arguments "
                             f"({' '.join(record['argv'])}); use a new --out for a different preset")
        print(f"[pipeline] {stage.name}: done earlier ({record['wall_s']:.0f} s), skipped", flush=True)
        return {**record, "skipped": True}
    argv = [*stage.argv, "--resume"] if resume and stage.resumable() else list(stage.argv)
    print(f"[pipeline] {stage.name}: {' '.join(['python -m', stage.module, *argv])}", flush=True)
    start = time.perf_counter()
    stage_main(stage.module)(argv)
    record = {"stage": stage.name, "command": stage.command(), "argv": stage.argv, "resumed": argv != stage.argv,
              "wall_s": time.perf_counter() - start}
    done.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(done, json.dumps(record, indent=1) + "\n")
    return record


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m runs.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--out", type=Path, help="run folder (default runs/out/pipeline-PRESET)")
    parser.add_argument("--resume", action="store_true", help="skip finished stages, continue the unfinished one")
    parser.add_argument("--stop-after", choices=STAGES, help="stop after this stage (--resume continues)")
    parser.add_argument("--wandb-mode", choices=["offline", "online", "disabled"],
                        help="wandb mode of every stage (default: $WANDB_MODE, else offline)")
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from common.provenance import code_version, command_line, machine, machine_description, now

    args = build_parser().parse_args(argv)
    preset = PRESETS[args.preset]
    out = args.out or Path("runs/out") / f"pipeline-{args.preset}"
    if out.exists() and any(out.iterdir()) and not args.resume:
        sys.exit(f"pipeline: {out} is not empty: pass --resume to continue it, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    wandb_mode = args.wandb_mode or os.environ.get("WANDB_MODE", "offline")
    os.environ["WANDB_MODE"] = wandb_mode  # runs.train_policy reads it
    summary_path = out / "pipeline.json"
    config = json.loads(json.dumps(dataclasses.asdict(preset)))
    summary: dict[str, Any] = json.loads(summary_path.read_text()) if summary_path.is_file() else {
        "preset": args.preset, "config": config, "started": now(), "calls": []}
    if summary["config"] != config:
        sys.exit(f"pipeline: {out} was started with preset {summary['preset']!r} and other settings; "
                 "use a new --out")
    summary["calls"].append({"command": command_line("runs.pipeline", argv), "started": now(),
                             "code_version": code_version(), "machine": {**machine(),
                                                                         "description": machine_description()}})
    summary.setdefault("stages", {})
    start = time.perf_counter()
    for stage in build_stages(preset, out, wandb_mode):
        summary["stages"][stage.name] = run_stage(stage, out, args.resume)
        atomic_write_text(summary_path, json.dumps(summary, indent=1) + "\n")
        if stage.name == args.stop_after:
            break
    summary["calls"][-1]["wall_s"] = time.perf_counter() - start
    atomic_write_text(summary_path, json.dumps(summary, indent=1) + "\n")
    where = (f"results in {out / 'benchmark' / 'table.md'} and {out / 'benchmark' / 'results.json'}"
             if "benchmark" in summary["stages"] else "stopped early: --resume continues")
    print(f"[pipeline] {out}: {summary['calls'][-1]['wall_s']:.0f} s this call; {where}", flush=True)
    return summary


if __name__ == "__main__":
    main()
