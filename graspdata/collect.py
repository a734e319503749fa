"""Collect a grasp dataset: plan the missing shards, run them on local processes or Ray, write them.

The driver is the only writer of the dataset folder: workers return shard bytes, the driver writes
each shard atomically and then the card. ``resume=True`` rescans the folder, keeps every complete
shard, and collects only the dataset indices not yet on disk, so no seed is ever collected twice.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from common.io import atomic_write_bytes, folder_lock, remove_stale_temporaries
from common.provenance import code_version, machine, now
from envs.grasp_env import make_world_config
from envs.objects import SPLITS, object_name, resolve_objects
from graspdata.card import CARD_NAME, DatasetCard, ShardEntry, names_digest, shard_entry
from graspdata.config import CARD_WORLD, IDENTITY_DEFAULTS, IDENTITY_FIELDS, CollectConfig
from graspdata.errors import ConfigMismatchError, NotADatasetError
from graspdata.folder import quarantine, scan_folder
from graspdata.layout import LAYOUT_VERSION, shard_name
from graspdata.policies import PolicyFactory, policy_factory
from graspdata.pool import LocalPool
from graspdata.worker import SOURCE, EpisodeDone, ShardDone, ShardTask

Logger = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class CollectionResult:
    """What a call to :func:`collect` did.

    Attributes:
        attempts: attempts the dataset now holds; successes: how many lifted something.
        new_attempts: attempts collected by this call; wall_s: its wall time (s), start-up included.
        attempts_per_hour: ``new_attempts`` per hour of ``wall_s``.
        steady_attempts_per_hour: the rate between the first and the last finished episode (start-up excluded).
        failures: worker failures reported (and recovered from).
        worker_cpu_s: CPU seconds the workers spent on the shards written (contention-free cost).
    """

    folder: Path
    attempts: int
    successes: int
    new_attempts: int
    wall_s: float
    attempts_per_hour: float
    steady_attempts_per_hour: float
    failures: int
    worker_cpu_s: float


def plan_tasks(covered: list[tuple[int, int]], grasps: int, shard_size: int) -> list[ShardTask]:
    """Shard tasks for the indices in ``[0, grasps)`` not inside any ``covered`` (first, stop) range."""
    tasks, cursor = [], 0
    for first, stop in [*sorted(covered), (grasps, grasps)]:
        end = min(first, grasps)
        for start in range(cursor, end, shard_size):
            tasks.append(ShardTask(start, min(start + shard_size, end)))
        cursor = max(cursor, stop)
    return tasks


def new_card(config: CollectConfig) -> DatasetCard:
    """Card of a dataset about to be collected with ``config``."""
    paths = resolve_objects(config.objects)
    world = make_world_config(config.num_objects, config.image_size, None, config.triplet_size, config.triplet_fov,
                              config.triplet_backdrop)
    spec = config.identity()["objects"]
    names = [object_name(p) for p in paths]
    object_set = {"spec": spec, "count": len(paths), "names_sha256": names_digest(names)}
    if spec not in SPLITS:
        object_set["names"] = names
    return DatasetCard(
        source=SOURCE, image_size=world.camera.triplet_image_size, object_set=object_set,
        config={**config.to_dict(), CARD_WORLD: dataclasses.asdict(world)},
        seeds={"base_seed": config.seed, "episode_seed": "graspdata.episode.episode_seed(base_seed, index)",
               "policy_seed": "graspdata.episode.policy_seed(base_seed, index)"},
        code_version=code_version())


def _check_same_dataset(card: DatasetCard, config: CollectConfig, folder: Path) -> None:
    wanted = config.identity()
    recorded = {**IDENTITY_DEFAULTS, **card.config}
    differing = [f"{name}: dataset has {recorded.get(name)!r}, asked {wanted[name]!r}"
                 for name in IDENTITY_FIELDS if recorded.get(name) != wanted[name]]
    if differing:
        raise ConfigMismatchError(f"{folder / CARD_NAME}: --resume with a different configuration: "
                                  + "; ".join(differing))


def _prepare(config: CollectConfig, fresh: DatasetCard, folder: Path, resume: bool, skip_bad: bool,
             report: Callable[[str], None]) -> DatasetCard:
    """Create the dataset (its card: ``fresh``), or reopen it for ``resume``: repair the manifest from the
    shards on disk."""
    if not (folder / CARD_NAME).exists():
        if folder.is_dir() and any(p for p in folder.iterdir() if p.name != ".lock"):
            raise NotADatasetError(f"{folder}: folder is not empty and holds no {CARD_NAME}; "
                                   "choose a new --out folder")
        card = fresh
        card.save(folder)
        return card
    if not resume:
        raise FileExistsError(f"{folder} already holds a dataset: pass --resume to continue it, or another --out")
    for path in remove_stale_temporaries(folder):
        report(f"removed unfinished temporary {path.name}")
    scan = scan_folder(folder, skip_bad=skip_bad, report=report)
    card = scan.card
    _check_same_dataset(card, config, folder)
    card.layout_version = LAYOUT_VERSION  # new shards are written in this version; older ones stay readable
    for path, _ in scan.bad:
        report(f"moved bad shard to {quarantine(path).name}; its grasps will be collected again")
    known = {entry.name: entry for entry in card.shards}
    entries = []
    for info in scan.shards:
        entry = known.get(info.path.name) or shard_entry(info.path)
        entries.append(entry)
    for name in sorted(set(known) - {e.name for e in entries} - {path.name for path, _ in scan.bad}):
        report(f"shard {name} listed in the card is missing; its grasps will be collected again")
    card.shards = entries
    card.config.update(grasps=config.grasps, shard_size=config.shard_size, workers=config.workers,
                       max_task_failures=config.max_task_failures)
    card.save(folder)
    return card


class _Writer:
    """Event sink in the driver: progress bar, shard files, card updates and logging."""

    def __init__(self, folder: Path, card: DatasetCard, progress: tqdm, log: Logger | None,
                 report: Callable[[str], None]) -> None:
        self.folder, self.card, self.progress, self.log, self.report = folder, card, progress, log, report
        self.start = time.perf_counter()
        self.first_episode: float | None = None
        self.last_episode: float | None = None
        self.new_attempts = 0
        self.failures = 0
        self.worker_cpu_s = 0.0
        self.successes = card.counts()["successes"]

    def on_episode(self, event: EpisodeDone) -> None:
        moment = time.perf_counter()
        self.first_episode = self.first_episode or moment
        self.last_episode = moment
        self.new_attempts += 1
        self.successes += int(event.success)
        self._show(1)

    def on_shard(self, event: ShardDone) -> None:
        path = self.folder / shard_name(event.task.first, event.task.stop)
        atomic_write_bytes(path, event.data)
        self.worker_cpu_s += event.cpu_s
        entry: ShardEntry = shard_entry(path)
        self.card.shards.append(entry)
        self.card.save(self.folder)
        if self.log is not None:
            counts = self.card.counts()
            elapsed = time.perf_counter() - self.start
            self.log({"attempts": counts["attempts"], "successes": counts["successes"],
                      "success_rate": counts["successes"] / max(counts["attempts"], 1),
                      "attempts_per_hour": 3600.0 * self.new_attempts / max(elapsed, 1e-9),
                      "shard_success_rate": entry.successes / entry.attempts})

    def on_failure(self, task: ShardTask, message: str, episodes_lost: int) -> None:
        self.failures += 1
        self.report(f"worker failure on shard {task.first}..{task.stop - 1} (retrying it): {message}")
        self.new_attempts -= episodes_lost
        self._show(-episodes_lost)

    def _show(self, step: int) -> None:
        self.progress.update(step)
        rate = self.successes / max(self.progress.n, 1)
        self.progress.set_postfix(successes=self.successes, success_rate=f"{rate:.1%}", refresh=False)

    def steady_rate(self) -> float:
        if self.first_episode is None or self.last_episode is None or self.new_attempts < 2:
            return 0.0
        return 3600.0 * (self.new_attempts - 1) / max(self.last_episode - self.first_episode, 1e-9)


def collect(config: CollectConfig, out: str | Path, resume: bool = False, ray_address: str | None = None,
            skip_bad: bool = False, log: Logger | None = None, show_progress: bool = True,
            report: Callable[[str], None] = tqdm.write, make_policy: PolicyFactory | None = None) -> CollectionResult:
    """Collect ``config.grasps`` attempts into the dataset folder ``out``.

    Args:
        config: what to collect and with how many workers.
        out: dataset folder (created if missing).
        resume: continue an existing dataset to ``config.grasps`` attempts.
        ray_address: run the workers on Ray (``"local"``, ``"auto"`` or a cluster address) instead of
            local processes.
        skip_bad: on resume, move bad shards aside (``*.h5.bad``) and collect their grasps again
            instead of stopping.
        log: called with metrics after every shard (e.g. ``wandb.log``).
        report: where notices and worker failures are written.
        make_policy: the per-episode policy factory; default: :func:`graspdata.policies.policy_factory`
            of ``config.policy`` (a checkpoint folder needs :func:`agents.collection.policy_factory`).

    Raises:
        FileExistsError: ``out`` holds a dataset and ``resume`` is False.
        NotADatasetError, ConfigMismatchError, DatasetError: see :func:`graspdata.folder.scan_folder`.
        WorkerError: a shard failed ``config.max_task_failures`` times.
    """
    fresh = new_card(config)  # a bad object set or world setting raises here, before any folder exists
    make_policy = make_policy or policy_factory(config.policy)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with folder_lock(folder):
        card = _prepare(config, fresh, folder, resume, skip_bad, report)
        covered = [(entry.first_index, entry.stop_index) for entry in card.shards]
        tasks = plan_tasks(covered, config.grasps, config.shard_size)
        done = sum(min(stop, config.grasps) - min(first, config.grasps) for first, stop in covered)
        if not tasks:
            report(f"{folder} already holds {card.counts()['attempts']} attempts (asked {config.grasps}): "
                   "nothing to collect")
        started = now()
        with tqdm(total=config.grasps, initial=done, unit="grasp", dynamic_ncols=True, smoothing=0.05,
                  disable=not show_progress) as progress:
            writer = _Writer(folder, card, progress, log, report)
            if tasks:
                pool = (LocalPool(config, make_policy) if ray_address is None
                        else _ray_pool(config, ray_address, make_policy, report))
                pool.run(tasks, writer)
        wall = time.perf_counter() - writer.start
        card.runs.append({"started": started, "finished": now(), "new_attempts": writer.new_attempts,
                          "wall_s": round(wall, 3), "workers": config.workers, "backend": ray_address or "processes",
                          "failures": writer.failures, "worker_cpu_s": round(writer.worker_cpu_s, 3),
                          "machine": machine(), "code_version": code_version(),
                          "layout_version": LAYOUT_VERSION})
        card.save(folder)
    counts = card.counts()
    return CollectionResult(folder=folder, attempts=counts["attempts"], successes=counts["successes"],
                            new_attempts=writer.new_attempts, wall_s=wall,
                            attempts_per_hour=3600.0 * writer.new_attempts / max(wall, 1e-9),
                            steady_attempts_per_hour=writer.steady_rate(), failures=writer.failures,
                            worker_cpu_s=writer.worker_cpu_s)


def _ray_pool(config: CollectConfig, address: str, make_policy: PolicyFactory,
              report: Callable[[str], None]) -> Any:
    from graspdata.ray_pool import RayPool

    return RayPool(config, address, make_policy, on_message=report)
