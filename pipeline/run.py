"""The main job's stages, each one library call with a config, chained and resumable.

A finished stage leaves ``OUT/stages/NAME.json`` (the call, its config and wall time); a rerun with
``resume=True`` skips those and continues an unfinished one with the stage's own resume. A stage that
finished with other settings is refused. ``OUT/pipeline.json`` holds the preset, seeds, code version
and machine of every call.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.collection import policy_factory
from agents.train import TrainPolicyConfig, train_policy
from benchmark.publish import Outputs, run_and_publish
from benchmark.runner import BenchmarkConfig, parse_checkpoints
from benchmark.tasks import checkpoint_folder
from common.io import atomic_write_text
from common.provenance import code_version, machine, machine_description, now
from embedding.checkpoint import read_config
from embedding.model import Grasp2VecConfig
from embedding.run import EmbeddingRunConfig, train_embedding
from embedding.train import TrainConfig
from envs.config import WorldSettings
from graspdata.collect import collect
from graspdata.config import CollectConfig
from graspdata.wandb_log import WandbLog
from pipeline.presets import PRESETS, PipelinePreset
from rewards.calibrate import CalibrateConfig, calibrate_reward

STAGES = ("collect", "embedding", "calibration", "policy", "benchmark")
PIPELINE_ROW = "this-run"
LOGGING_FIELDS = ("wandb_mode", "progress", "command", "resume")  # how a stage reports, not what it computes


class PipelineError(RuntimeError):
    """A run folder that cannot be continued: not empty without resume, or started with other settings."""


@dataclass(frozen=True)
class Stage:
    """One step: its library call, the config it is called with, and whether a partial output can be resumed."""

    name: str
    call: Callable[..., Any]
    config: Any
    run: Callable[[bool], Any]  # resume -> result
    resumable: Callable[[], bool]  # True when a partial output exists that the call's resume continues

    def settings(self) -> dict[str, Any]:
        """The config as JSON, without the fields that only say how the stage logs."""
        return {k: v for k, v in _json(dataclasses.asdict(self.config)).items() if k not in LOGGING_FIELDS}

    def call_name(self) -> str:
        return f"{self.call.__module__}.{self.call.__name__}"


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def build_stages(preset: PipelinePreset, out: Path, wandb_mode: str) -> list[Stage]:
    """The five stages of ``preset`` writing under ``out``."""
    c, e, k, p, b = preset.collect, preset.embedding, preset.calibration, preset.policy, preset.benchmark
    data, grasp2vec, policy = out / "data", out / "grasp2vec", out / "policy"
    reward_args = (f"checkpoint={grasp2vec}",)
    collect_config = CollectConfig(objects=c.objects, num_objects=c.num_objects, image_size=c.image_size,
                                   seed=c.seed, grasps=c.grasps, shard_size=c.shard_size, workers=c.workers,
                                   heightmap=c.heightmap)

    def run_collect(resume: bool) -> Any:
        log = WandbLog(wandb_mode, data, collect_config.to_dict()) if wandb_mode != "disabled" else None
        try:
            return collect(collect_config, data, resume=resume, log=log,
                           make_policy=policy_factory(collect_config.policy))
        finally:
            if log is not None:
                log.finish()

    embedding = EmbeddingRunConfig(
        data=(data,), out=grasp2vec,
        model=read_config(e.init_from) if e.init_from else Grasp2VecConfig(embedding_dim=e.embedding_dim),
        train=TrainConfig(steps=e.steps, batch_size=e.batch_size, lr=e.lr, seed=e.seed, eval_every=e.eval_every,
                          checkpoint_every=e.checkpoint_every, threads=2, init_from=e.init_from),
        wandb_mode=wandb_mode)
    calibration = CalibrateConfig(reward="grasp2vec", reward_args=reward_args, data=str(data), split=k.split,
                                  empty=k.empty, presence_steps=k.presence_steps, objects=c.objects,
                                  num_objects=c.num_objects, seed=k.seed, threads=2)
    training = TrainPolicyConfig(algo=p.algo, reward="grasp2vec", reward_args=reward_args, preset=p.preset,
                                 out=policy, seed=p.seed, grasps=p.grasps, minutes=p.minutes,
                                 goal_features=p.goal_features, grasp2vec=grasp2vec,
                                 offline_data=(data,) if p.offline_data else None,
                                 init_from=Path(p.init_from) if p.init_from else None)
    rows = (b.shipped_rows[0], PIPELINE_ROW, *b.shipped_rows[1:]) if b.shipped_rows else (PIPELINE_ROW,)
    bench = BenchmarkConfig(rows=rows, objects=b.objects, trials=b.trials, workers=b.workers,
                            world=WorldSettings(num_objects=c.num_objects))

    def run_benchmark(resume: bool) -> Any:
        return run_and_publish(bench, parse_checkpoints([f"{PIPELINE_ROW}={policy}"]),
                               Outputs(out / "benchmark" / "results.json", out / "benchmark" / "table.md"),
                               command="pipeline.run (benchmark stage)")

    return [
        Stage("collect", collect, collect_config, run_collect, lambda: (data / "card.json").is_file()),
        Stage("embedding", train_embedding, embedding,
              lambda resume: train_embedding(dataclasses.replace(embedding, resume=resume)),
              lambda: (grasp2vec / "train_state.json").is_file()),
        Stage("calibration", calibrate_reward, calibration, lambda resume: calibrate_reward(calibration),
              lambda: False),
        Stage("policy", train_policy, training,
              lambda resume: train_policy(dataclasses.replace(training, resume=resume)),
              lambda: checkpoint_folder(policy) is not None),
        Stage("benchmark", run_and_publish, bench, run_benchmark, lambda: False),
    ]


def marker(out: Path, stage: Stage) -> Path:
    return out / "stages" / f"{stage.name}.json"


def run_stage(stage: Stage, out: Path, resume: bool) -> dict[str, Any]:
    """Run ``stage`` unless its marker says it finished with the same settings; returns its record.

    Raises:
        PipelineError: the stage finished earlier with other settings.
    """
    done = marker(out, stage)
    if done.is_file():
        record = json.loads(done.read_text())
        if record.get("settings") != stage.settings():
            raise PipelineError(f"stage {stage.name} in {out} finished with other settings; use a new out folder "
                                "for a different preset")
        print(f"[pipeline] {stage.name}: done earlier ({record['wall_s']:.0f} s), skipped", flush=True)
        return {**record, "skipped": True}
    resumed = resume and stage.resumable()
    print(f"[pipeline] {stage.name}: {stage.call_name()}{' (resumed)' if resumed else ''}", flush=True)
    start = time.perf_counter()
    stage.run(resumed)
    record = {"stage": stage.name, "call": stage.call_name(), "settings": stage.settings(), "resumed": resumed,
              "wall_s": time.perf_counter() - start}
    done.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(done, json.dumps(record, indent=1) + "\n")
    return record


def run_pipeline(preset_name: str, out: Path, resume: bool = False, stop_after: str | None = None,
                 wandb_mode: str = "offline", command: str = "") -> dict[str, Any]:
    """Run (or continue) the main job of ``preset_name`` in ``out``; returns the ``pipeline.json`` record.

    Raises:
        PipelineError: ``out`` holds another run (not empty without ``resume``, or other settings).
    """
    preset = PRESETS[preset_name]
    if out.exists() and any(out.iterdir()) and not resume:
        raise PipelineError(f"{out} is not empty: pass --resume to continue it, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    summary_path = out / "pipeline.json"
    config = _json(dataclasses.asdict(preset))
    summary: dict[str, Any] = json.loads(summary_path.read_text()) if summary_path.is_file() else {
        "preset": preset_name, "config": config, "started": now(), "calls": []}
    if summary["config"] != config:
        raise PipelineError(f"{out} was started with preset {summary['preset']!r} and other settings; use a new --out")
    summary["calls"].append({"command": command, "started": now(), "code_version": code_version(),
                             "machine": {**machine(), "description": machine_description()}})
    summary.setdefault("stages", {})
    start = time.perf_counter()
    for stage in build_stages(preset, out, wandb_mode):
        summary["stages"][stage.name] = run_stage(stage, out, resume)
        atomic_write_text(summary_path, json.dumps(summary, indent=1) + "\n")
        if stage.name == stop_after:
            break
    summary["calls"][-1]["wall_s"] = time.perf_counter() - start
    atomic_write_text(summary_path, json.dumps(summary, indent=1) + "\n")
    where = (f"results in {out / 'benchmark' / 'table.md'} and {out / 'benchmark' / 'results.json'}"
             if "benchmark" in summary["stages"] else "stopped early: --resume continues")
    print(f"[pipeline] {out}: {summary['calls'][-1]['wall_s']:.0f} s this call; {where}", flush=True)
    return summary
