"""Running the benchmark: cells planned into chunks of trials, run on worker processes or Ray, summarised.

:func:`run_benchmark` takes a :class:`BenchmarkConfig`; the command line is ``python -m runs.benchmark``
and the protocol is in docs/benchmark.md.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmark.report import CellSummary, summarize
from benchmark.tasks import (
    BENCHMARK_GOAL_SEED,
    GOAL_KINDS,
    ROWS,
    SPLITS,
    TASKS,
    TRIALS_PER_SEED,
    Cell,
    ObservationOnly,
    Row,
    TrialResult,
    checkpoint_folder,
    make_env,
    make_goal_bank,
    policy_card,
    policy_keys,
    row_card,
    row_status,
    run_trial,
    shared_policy,
    trial_policy,
    trial_seed,
    world_settings,
)
from common.provenance import code_version
from envs.config import WorldSettings

DEFAULT_ROWS = tuple(name for name, row in ROWS.items() if not row.puts_back)  # the one-grasp headline's rows
HEADLINE_TRIALS = 200
QUICK_TRIALS = 20


@dataclass(frozen=True)
class BenchmarkConfig:
    """What to run. ``objects`` entries are ``seen``, ``unseen`` or a custom set (folder, glob, URDF);
    ``split`` is ``test`` (headline figures) or ``validation`` (model selection), disjoint seed blocks.
    Each cell runs the split's trials ``first_trial`` .. ``first_trial + trials - 1``: a later block of
    validation trials confirms a candidate chosen on the first block without reusing its trials."""

    rows: tuple[str, ...] = DEFAULT_ROWS
    objects: tuple[str, ...] = ("seen", "unseen")
    goals: tuple[str, ...] = ("single",)
    task: str = "instance"
    trials: int = HEADLINE_TRIALS
    first_trial: int = 0
    split: str = "test"
    goal_seed: int = BENCHMARK_GOAL_SEED
    world: WorldSettings = WorldSettings()
    chunk_size: int = 10  # trials per work unit; results do not depend on the worker count
    workers: int = 2

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        unknown = [g for g in self.goals if g not in GOAL_KINDS]
        if unknown:
            raise ValueError(f"goal kinds must be among {GOAL_KINDS}, got {unknown}")
        if not 1 <= self.trials <= TRIALS_PER_SEED:
            raise ValueError(f"trials must be in 1..{TRIALS_PER_SEED}, got {self.trials}")
        if not 0 <= self.first_trial <= TRIALS_PER_SEED - self.trials:
            raise ValueError(f"first_trial must be in 0..{TRIALS_PER_SEED - self.trials} for {self.trials} trials, "
                             f"got {self.first_trial}")
        for name in ("chunk_size", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {tuple(SPLITS)}, got {self.split!r}")

    @property
    def seed(self) -> int:
        """The split's seed block: trial ``i`` resets with :func:`benchmark.tasks.trial_seed` (seed, i)."""
        return SPLITS[self.split]


@dataclass(frozen=True)
class Chunk:
    """Trials ``first`` .. ``stop - 1`` of one cell: the unit of work of a worker."""

    cell: Cell
    settings: WorldSettings
    first: int
    stop: int
    seed: int
    goal_seed: int
    root: str  # repository root: relative checkpoint paths resolve from here


# ---------------------------------------------------------------------------------------------- workers
_ENVS: dict[tuple[Any, ...], Any] = {}
_BANKS: dict[tuple[int, int], Any] = {}


def _worker_init() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def _policy_for(chunk: Chunk, env: Any, trial: int) -> Any:
    seed = int(np.random.SeedSequence([chunk.seed, trial, 1]).generate_state(1)[0])
    return trial_policy(chunk.cell.row, env, seed)


def run_chunk(chunk: Chunk) -> tuple[Chunk, list[TrialResult]]:
    """Run a chunk's trials in this process (environments and goal banks are cached per process;
    a learned policy is loaded afresh per chunk so its sampling does not depend on earlier chunks)."""
    if Path(chunk.root).is_dir() and Path.cwd() != Path(chunk.root):
        os.chdir(chunk.root)
    cell, settings = chunk.cell, chunk.settings
    card = row_card(cell.row)
    bank_key = (settings.image_size, chunk.goal_seed)
    if bank_key not in _BANKS:
        _BANKS[bank_key] = make_goal_bank(settings.image_size, chunk.goal_seed)
    env_key = (cell, settings, cell.row.checkpoint)
    if env_key not in _ENVS:
        _ENVS[env_key] = make_env(cell, settings, _BANKS[bank_key], card)
    env = _ENVS[env_key]
    # A fresh simulation per chunk: a chunk's trials then do not depend on what the process ran before,
    # so worker count, backend and resumed runs all give the same trials.
    env.unwrapped.world.rebuild()
    policy = shared_policy(cell.row, env)
    results = []
    for trial in range(chunk.first, chunk.stop):
        acting = policy if policy is not None else _policy_for(chunk, env, trial)
        guarded = ObservationOnly(acting, policy_keys(env, acting, card))
        results.append(run_trial(env, guarded, trial_seed(chunk.seed, trial)))
    return chunk, results


def _local_results(chunks: list[Chunk], workers: int) -> Iterator[tuple[Chunk, list[TrialResult]]]:
    if not chunks:  # everything was read back from a resume file
        return
    if workers == 1:
        _worker_init()
        yield from map(run_chunk, chunks)
        return
    with mp.get_context("spawn").Pool(workers, initializer=_worker_init) as pool:
        yield from pool.imap_unordered(run_chunk, chunks)


def _ray_results(chunks: list[Chunk], address: str) -> Iterator[tuple[Chunk, list[TrialResult]]]:
    import ray

    from graspdata.ray_pool import init_ray

    started = init_ray(address)
    try:
        remote = ray.remote(num_cpus=1)(_ray_chunk)
        pending = [remote.remote(chunk) for chunk in chunks]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            yield ray.get(ready[0])
    finally:
        if started:
            ray.shutdown()


def _ray_chunk(chunk: Chunk) -> tuple[Chunk, list[TrialResult]]:
    _worker_init()
    return run_chunk(chunk)


# ---------------------------------------------------------------------------------------------- driver
def plan(config: BenchmarkConfig, rows: dict[str, Row]) -> tuple[list[Cell], dict[str, str], list[Chunk]]:
    """Cells, each cell's status, and the chunks of the runnable ones."""
    cells, status, chunks = [], {}, []
    root = str(Path.cwd())
    goals = config.goals if config.task == "instance" else ("single",)
    for name in config.rows:
        row = rows[name]
        row_ok = row_status(row, config.task)
        settings = world_settings(row, config.world) if row_ok == "ok" else config.world
        for objects in config.objects:
            for goal in goals:
                cell = Cell(row, objects, goal, config.task)
                cells.append(cell)
                status[cell.key] = row_ok
                if row_ok != "ok":
                    continue
                stop = config.first_trial + config.trials
                for first in range(config.first_trial, stop, config.chunk_size):
                    chunks.append(Chunk(cell, settings, first, min(first + config.chunk_size, stop),
                                        config.seed, config.goal_seed, root))
    return cells, status, chunks


def check_rows(config: BenchmarkConfig, rows: dict[str, Row]) -> None:
    """Raise ValueError naming the rows of ``config`` that ``rows`` does not define."""
    missing = [name for name in config.rows if name not in rows]
    if missing:
        raise ValueError(f"unknown rows {missing}; known: {sorted(rows)} (add one with --checkpoint NAME=PATH)")


def trial_identity(config: BenchmarkConfig, rows: dict[str, Row]) -> dict[str, Any]:
    """What a run's trials depend on: the config without the worker count, the rows, the code's commit."""
    check_rows(config, rows)
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k != "workers"}
    return {"config": settings, "rows": {name: dataclasses.asdict(rows[name]) for name in config.rows},
            "code": code_version()}


def run_benchmark(config: BenchmarkConfig, rows: dict[str, Row] | None = None, ray_address: str | None = None,
                  progress: bool = True, partial: Path | None = None
                  ) -> tuple[list[CellSummary], dict[str, list[TrialResult]], float]:
    """Run every runnable cell; returns (summaries in table order, trials per cell key, wall seconds).

    With ``partial`` (a JSONL file, :class:`benchmark.resume.PartialLog`) every finished chunk is appended
    there, and chunks the file already holds are read back instead of run again: a killed run resumes.
    """
    from benchmark.resume import PartialLog

    rows = rows or ROWS
    check_rows(config, rows)
    cells, status, chunks = plan(config, rows)
    trials: dict[str, list[TrialResult]] = {cell.key: [] for cell in cells}
    log = PartialLog(partial, trial_identity(config, rows)) if partial is not None else None
    done = log.load() if log is not None else {}
    for chunk in chunks:
        trials[chunk.cell.key].extend(done.get((chunk.cell.key, chunk.first, chunk.stop), []))
    chunks = [c for c in chunks if (c.cell.key, c.first, c.stop) not in done]
    start = time.perf_counter()
    results = _ray_results(chunks, ray_address) if ray_address else _local_results(chunks, config.workers)
    with tqdm(total=sum(c.stop - c.first for c in chunks), desc="benchmark trials", disable=not progress) as bar:
        for chunk, chunk_results in results:
            trials[chunk.cell.key].extend(chunk_results)
            if log is not None:
                log.append((chunk.cell.key, chunk.first, chunk.stop), chunk_results)
            bar.update(len(chunk_results))
    for results_of_cell in trials.values():
        results_of_cell.sort(key=lambda r: r.seed)
    summaries = [summarize(cell, status[cell.key], trials[cell.key]) for cell in cells]
    return summaries, trials, time.perf_counter() - start


def parse_checkpoints(items: list[str]) -> dict[str, Row]:
    """``NAME=PATH`` items → rows (a known NAME keeps its label and paper numbers, with the new path)."""
    rows = dict(ROWS)
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--checkpoint expects NAME=PATH, got {item!r}")
        known = ROWS.get(name)
        if known is not None and known.source not in ("checkpoint", "heatmap-q"):
            raise ValueError(f"row {name!r} is scripted and takes no checkpoint")
        rows[name] = dataclasses.replace(known, checkpoint=path) if known else Row(name, describe(name, path),
                                                                                    "checkpoint", path)
    return rows


def describe(name: str, path: str) -> str:
    """Row label of a user checkpoint: its name plus algorithm, reward and goal features from ``policy.json``."""
    folder = checkpoint_folder(path)
    card = policy_card(folder) if folder is not None else None
    if card is None:
        return name
    features = card.goal_features
    return f"{name} ({card.algo} + {card.reward}" + (
        f", {features} obs.)" if features != "none" else ")")
