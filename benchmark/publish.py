"""A benchmark run from start to outputs: run (resumable), then the table with its footer, the JSON, the
bar chart and, for the headline, the README's table. ``python -m runs.benchmark`` is its command line."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.report import CellSummary, bar_chart, markdown_table, report_tables, write_json
from benchmark.resume import PartialLog
from benchmark.runner import BenchmarkConfig, run_benchmark, trial_identity
from benchmark.tasks import BENCHMARK_SEED_OFFSET, TRIALS_PER_SEED, Row, heatmap_weights, trial_seed
from common.io import atomic_write_text

README_START = "<!-- headline table: written by `make benchmark` (benchmark.publish.update_readme) -->"
README_END = "<!-- end of headline table -->"


@dataclass(frozen=True)
class Outputs:
    """Where a run's results go; every path is optional.

    Attributes:
        json: every cell and trial, with provenance; the bar chart goes beside it as ``.png``.
        markdown: the tables and their footer.
        readme: a file whose headline table (between ``README_START`` and ``README_END``) is replaced.
        partial: the resume file (:class:`benchmark.resume.PartialLog`), deleted once the outputs are written.
    """

    json: Path | None = None
    markdown: Path | None = None
    readme: Path | None = None
    partial: Path | None = None


def seed_scheme(config: BenchmarkConfig) -> dict[str, Any]:
    """The split, its seed block and the trial-seed formula, for the JSON."""
    return {"split": config.split, "seed": config.seed,
            "trial_seed": f"{BENCHMARK_SEED_OFFSET} + seed * {TRIALS_PER_SEED} + trial",
            "first_trial_seed": trial_seed(config.seed, config.first_trial), "goal_bank_seed": config.goal_seed}


def footer(config: BenchmarkConfig, wall: float, ran: int, resumed: int, backend: str, machine: str,
           version: dict[str, Any]) -> str:
    """One paragraph under the table: task, world, split and its seeds, trials, timing, machine, code."""
    world = config.world
    resumed_text = f", {resumed} more read back from the resume file" if resumed else ""
    block = f" (trials {config.first_trial}–{config.first_trial + config.trials - 1})" if config.first_trial else ""
    grasps = f" per grasp, up to {world.max_grasps} grasps (a lift may be put back)" if world.max_grasps > 1 else ""
    return (f"{config.task} task, **{config.split} split** (trial seeds {BENCHMARK_SEED_OFFSET:,} + "
            f"{config.seed} × {TRIALS_PER_SEED:,} + trial), {config.trials} trials per cell{block}; every row: "
            f"{world.num_objects} objects per bin, {world.max_steps} steps{grasps}, lifted = still held after "
            f"{world.hold_s:g} s, scripted rows at {world.image_size} px; wall {wall:.0f} s for {ran} trials "
            f"({ran / max(wall, 1e-9):.2f} grasps/s with {backend}{resumed_text}); {machine}; code "
            f"{version['git_commit'][:10]}{' (uncommitted changes)' if version['dirty'] else ''}")


def readme_table(summaries: list[CellSummary]) -> str:
    """The README's headline: single goals only, rates with intervals, no timing columns."""
    def short(summary: CellSummary) -> str:
        if summary.success_rate is None:
            return summary.status.split(" (")[0]
        return f"{100 * summary.success_rate:.1f} % [{100 * summary.success_low:.1f}, {100 * summary.success_high:.1f}]"

    return markdown_table([s for s in summaries if s.goals == "single"], timing=False, format_value=short)


def update_readme(path: Path, table: str) -> None:
    """Replace the text between the headline markers of ``path`` with ``table``.

    Raises:
        ValueError: ``path`` lacks the markers (the message names them).
    """
    text = path.read_text()
    pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{path} has no headline markers ({README_START} ... {README_END}) to write between")
    atomic_write_text(path, pattern.sub(lambda _: f"{README_START}\n{table}\n{README_END}", text, count=1))


def run_and_publish(config: BenchmarkConfig, rows: dict[str, Row], outputs: Outputs, command: str,
                    ray_address: str | None = None, progress: bool = True) -> list[CellSummary]:
    """Run ``config`` (resuming from ``outputs.partial``), print the tables and write ``outputs``."""
    from common.provenance import code_version, machine, machine_description

    version = code_version()  # the code that runs the trials, before anything can be committed meanwhile
    resumed = 0
    if outputs.partial is not None:
        resumed = sum(len(t) for t in PartialLog(outputs.partial, trial_identity(config, rows)).load().values())
    summaries, trials, wall = run_benchmark(config, rows, ray_address, progress=progress, partial=outputs.partial)
    total = sum(len(t) for t in trials.values())
    table = report_tables(summaries)
    backend = "Ray" if ray_address else f"{config.workers} worker{'s' if config.workers != 1 else ''}"
    text = footer(config, wall, total - resumed, resumed, backend, machine_description(), version)
    print(table + "\n\n" + text)
    if outputs.markdown:
        atomic_write_text(outputs.markdown, table + "\n\n" + text + "\n")
    if outputs.json:
        meta = {"command": command, "config": {**dataclasses.asdict(config), "seed": config.seed},
                "rows": {name: dataclasses.asdict(rows[name]) for name in config.rows},
                "heatmap_weights": {name: weights for name in config.rows
                                    if (weights := heatmap_weights(rows[name])) is not None},
                "split": config.split, "seeds": seed_scheme(config), "code_version": version,
                "machine": {**machine(), "description": machine_description()}, "wall_s": wall, "grasps": total,
                "resumed_trials": resumed, "table": table, "footer": text}
        write_json(outputs.json, summaries, meta, trials)
        bar_chart(summaries, outputs.json.with_suffix(".png"), f"{config.task} grasping, {config.split} split, "
                  f"{config.trials} trials/cell ({version['git_commit'][:8]})")
        print(f"wrote {outputs.json} and {outputs.json.with_suffix('.png')}")
    if outputs.readme:
        update_readme(outputs.readme, readme_table(summaries) + "\n\n" + text)
        print(f"updated the headline table in {outputs.readme}")
    if outputs.partial is not None:
        PartialLog(outputs.partial, {}).remove()
    return summaries
