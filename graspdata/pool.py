"""Local worker processes that collect shards, replacing any worker that crashes.

Each worker is a ``multiprocessing`` process with its own pipe, so the driver knows
which task every worker holds. A worker that raises or dies (segfault, ``kill -9``, out of memory)
is reported through :meth:`EventSink.on_failure`, replaced by a fresh process, and its task is
re-queued; the other workers keep going. A task that fails ``max_task_failures`` times stops the
run with :class:`WorkerError`.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import signal
import traceback
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Protocol

from graspdata.config import CollectConfig
from graspdata.policies import PolicyFactory
from graspdata.worker import EpisodeDone, ShardCollector, ShardDone, ShardTask, limit_threads

POLL_SECONDS = 1.0
JOIN_SECONDS = 5.0


class WorkerError(RuntimeError):
    """A shard task failed too many times; the message carries the last failure."""


@dataclass(frozen=True)
class TaskFailed:
    """A worker raised while running ``task``; ``error`` is the formatted traceback."""

    task: ShardTask
    error: str


class EventSink(Protocol):
    """Receives what the workers report, in the driver process."""

    def on_episode(self, event: EpisodeDone) -> None: ...

    def on_shard(self, event: ShardDone) -> None: ...

    def on_failure(self, task: ShardTask, message: str, episodes_lost: int) -> None:
        """A worker failed on ``task`` after reporting ``episodes_lost`` of its episodes (they will rerun)."""


class TaskBook:
    """The queue of shard tasks and how often each has failed (shared by the local and Ray pools)."""

    def __init__(self, tasks: Iterable[ShardTask], max_failures: int) -> None:
        self.pending: deque[ShardTask] = deque(tasks)
        self.failures: Counter[ShardTask] = Counter()
        self.max_failures = max_failures

    def failed(self, task: ShardTask, message: str) -> None:
        """Count a failure; re-queue the task first in line, or raise :class:`WorkerError` when out of tries."""
        self.failures[task] += 1
        if self.failures[task] >= self.max_failures:
            raise WorkerError(f"shard {task.first}..{task.stop - 1} failed {self.failures[task]} times; "
                              f"last failure: {message}")
        self.pending.appendleft(task)


def _worker_main(conn: Connection, config: CollectConfig, make_policy: PolicyFactory) -> None:
    """Worker process: receive tasks until ``None``; stream their events back. Exits after a failure.

    Ctrl-C is left to the driver, which stops the workers itself.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads()
    collector: ShardCollector | None = None
    try:
        while (task := conn.recv()) is not None:
            try:
                collector = collector or ShardCollector(config, make_policy)
                for event in collector.collect(task):
                    conn.send(event)
            except Exception:
                conn.send(TaskFailed(task, traceback.format_exc()))
                return
    finally:
        if collector is not None:
            collector.close()


class _Slot:
    """One worker process, its pipe, and the task it holds."""

    def __init__(self, number: int, config: CollectConfig, make_policy: PolicyFactory,
                 context: mp.context.BaseContext) -> None:
        self.number = number
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, config, make_policy), daemon=True,
                                       name=f"grasp-collector-{number}")
        self.process.start()
        child.close()
        self.task: ShardTask | None = None
        self.episodes = 0

    def assign(self, task: ShardTask) -> None:
        self.conn.send(task)
        self.task, self.episodes = task, 0

    def describe(self) -> str:
        return f"worker {self.number} (pid {self.process.pid})"

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(JOIN_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(JOIN_SECONDS)
        self.conn.close()


class LocalPool:
    """Run shard tasks on ``config.workers`` local processes.

    Args:
        config: the collection config every worker builds its environment from.
        make_policy: the per-episode policy factory (pickled to each worker).
        start_method: ``multiprocessing`` start method. The default ``forkserver`` forks workers
            from a clean server process that has imported the simulator once, so they start in
            milliseconds and share none of the driver's threads or state.
    """

    def __init__(self, config: CollectConfig, make_policy: PolicyFactory,
                 start_method: str = "forkserver") -> None:
        self.config, self.make_policy = config, make_policy
        self.context = mp.get_context(start_method)
        if start_method == "forkserver":
            self.context.set_forkserver_preload([__name__])

    def run(self, tasks: Iterable[ShardTask], sink: EventSink) -> None:
        """Run every task; returns when all shards were delivered to ``sink.on_shard``."""
        book = TaskBook(tasks, self.config.max_task_failures)
        count = min(self.config.workers, len(book.pending))
        slots = [_Slot(n, self.config, self.make_policy, self.context) for n in range(count)]
        try:
            while book.pending or any(s.task is not None for s in slots):
                for slot in slots:
                    if slot.task is None and book.pending and slot.process.is_alive():
                        slot.assign(book.pending.popleft())
                wait([s.conn for s in slots] + [s.process.sentinel for s in slots], POLL_SECONDS)
                for number, slot in enumerate(slots):
                    if not self._drain(slot, sink, book):
                        slot.stop()
                        slots[number] = _Slot(slot.number, self.config, self.make_policy, self.context)
        finally:
            for slot in slots:
                slot.stop()

    @staticmethod
    def _drain(slot: _Slot, sink: EventSink, book: TaskBook) -> bool:
        """Handle everything the slot's worker sent; False when the worker is gone and must be replaced."""
        try:
            while slot.conn.poll():
                message = slot.conn.recv()
                if isinstance(message, EpisodeDone):
                    slot.episodes += 1
                    sink.on_episode(message)
                elif isinstance(message, ShardDone):
                    slot.task = None
                    sink.on_shard(message)
                elif isinstance(message, TaskFailed):
                    _fail(slot, sink, book, f"{slot.describe()} raised:\n{message.error}")
                    return False
        except (EOFError, OSError):
            pass
        if slot.process.is_alive():
            return True
        if slot.task is not None:
            _fail(slot, sink, book, f"{slot.describe()} died with exit code {slot.process.exitcode}")
        return False


def _fail(slot: _Slot, sink: EventSink, book: TaskBook, message: str) -> None:
    task, slot.task = slot.task, None
    if task is None:
        return
    sink.on_failure(task, message, slot.episodes)
    book.failed(task, message)
