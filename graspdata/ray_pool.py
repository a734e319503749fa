"""The same shard tasks on a Ray cluster: one actor per worker, each streaming its events back.

``address="local"`` starts a private Ray instance on this machine; anything else (``"auto"``,
``"ray://head:10001"``, ``"head:6379"``) is passed to ``ray.init``. On a remote cluster the
project's packages are shipped to the workers with Ray's ``py_modules``; the nodes need the same
Python packages installed (``requirements.txt``). Shards come back to the driver as bytes and are
written there, so the workers need no shared file system. Failures follow :mod:`graspdata.pool`:
a crashed actor is reported, replaced, and its task re-queued.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from common.provenance import REPO_ROOT
from graspdata.config import CollectConfig
from graspdata.policies import PolicyFactory
from graspdata.pool import POLL_SECONDS, EventSink, TaskBook
from graspdata.worker import EpisodeDone, ShardCollector, ShardDone, ShardTask, limit_threads

LOCAL = "local"
SHIPPED_PACKAGES = ("common", "envs", "graspdata", "embedding", "rewards", "agents")


class RayCollector:
    """Actor body: a :class:`ShardCollector` built on first use."""

    def __init__(self, config: CollectConfig, make_policy: PolicyFactory) -> None:
        limit_threads()
        self.config, self.make_policy = config, make_policy
        self.collector: ShardCollector | None = None

    def collect(self, task: ShardTask) -> Iterator[EpisodeDone | ShardDone]:
        self.collector = self.collector or ShardCollector(self.config, self.make_policy)
        yield from self.collector.collect(task)


def init_ray(address: str) -> bool:
    """Connect to (or, for ``"local"``, start) Ray unless already connected; True when this call connected."""
    import ray

    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    if address == LOCAL:  # "local" makes Ray start a new instance even when another one is running
        ray.init(address=LOCAL, runtime_env={"env_vars": {"PYTHONPATH": str(REPO_ROOT)}}, **options)
    else:
        modules = [str(REPO_ROOT / name) for name in SHIPPED_PACKAGES if (REPO_ROOT / name).is_dir()]
        ray.init(address=address, runtime_env={"py_modules": modules}, **options)
    return True


class RayPool:
    """Run shard tasks on ``config.workers`` Ray actors (one CPU each).

    Args:
        config: the collection config every actor builds its environment from.
        address: ``"local"`` or a Ray cluster address.
        make_policy: the per-episode policy factory (pickled to each actor).
        on_message: where notices go (e.g. fewer CPUs than workers); defaults to ``print``.
    """

    def __init__(self, config: CollectConfig, address: str, make_policy: PolicyFactory, on_message=print) -> None:
        self.config, self.make_policy = config, make_policy
        self.address = address
        self.on_message = on_message

    def run(self, tasks: Iterable[ShardTask], sink: EventSink) -> None:
        """Run every task; returns when all shards were delivered to ``sink.on_shard``."""
        import ray

        started = init_ray(self.address)
        try:
            self._run(ray, TaskBook(tasks, self.config.max_task_failures), sink)
        finally:
            if started:
                ray.shutdown()

    def _workers(self, ray: Any, wanted: int) -> int:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        if wanted > cpus:
            self.on_message(f"Ray cluster has {cpus} CPUs: using {cpus} workers instead of {wanted}")
        return max(1, min(wanted, cpus))

    def _run(self, ray: Any, book: TaskBook, sink: EventSink) -> None:
        actor_class = ray.remote(num_cpus=1)(RayCollector)
        count = self._workers(ray, self.config.workers)
        actors = [actor_class.remote(self.config, self.make_policy) for _ in range(count)]
        idle = list(range(len(actors)))
        running: dict[Any, list[Any]] = {}  # generator -> [actor number, task, episodes reported]
        try:
            while book.pending or running:
                while idle and book.pending:
                    number, task = idle.pop(), book.pending.popleft()
                    running[actors[number].collect.remote(task)] = [number, task, 0]
                ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
                for generator in ready:
                    number, task, episodes = running[generator]
                    try:
                        event = ray.get(next(generator))
                    except StopIteration:
                        del running[generator]
                        idle.append(number)
                        continue
                    except ray.exceptions.RayError as error:
                        del running[generator]
                        message = f"Ray worker {number} failed: {error}"
                        sink.on_failure(task, message, episodes)
                        ray.kill(actors[number])
                        actors[number] = actor_class.remote(self.config, self.make_policy)
                        idle.append(number)
                        book.failed(task, message)
                        continue
                    if isinstance(event, EpisodeDone):
                        running[generator][2] += 1
                        sink.on_episode(event)
                    else:
                        sink.on_shard(event)
        finally:
            for actor in actors:
                ray.kill(actor)
