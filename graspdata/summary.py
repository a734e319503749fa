"""What a dataset holds: counts, success rate, per-object statistics and example triplets.

This is an inspection tool, so it reads the ground-truth group (object names) as evaluation does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.io import file_sha256
from graspdata.errors import CorruptShardError, DatasetError
from graspdata.folder import scan_folder
from graspdata.layout import RECORD_GROUP, TRUTH_GROUP, open_h5, shard_counts, verify_shard
from graspdata.reader import TripletDataset


@dataclass
class DatasetSummary:
    """Counts over the readable shards of one dataset folder.

    ``single_object_successes`` are successes that lifted exactly one object (by ground truth).

    ``objects`` maps an object name to ``{"present": episodes it was in the bin, "lifted": times lifted}``.
    """

    folder: str
    source: str
    image_size: int
    object_set: Any
    shards: int
    attempts: int = 0
    grasps_attempted: int = 0
    successes: int = 0
    faults: int = 0
    single_object_successes: int = 0
    objects: dict[str, dict[str, int]] = field(default_factory=dict)
    bad_shards: list[str] = field(default_factory=list)

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.attempts if self.attempts else None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "success_rate": self.success_rate}


def _truth_counts(path: Path, present: Counter[str], lifted: Counter[str]) -> int:
    """Add the shard's objects to ``present`` / ``lifted``; return its successes that lifted exactly one object."""
    with open_h5(path) as f:
        try:
            group = f[TRUTH_GROUP]
            names, up = group["objects"].asstr()[:], group["lifted"][:]
            success = f[RECORD_GROUP]["success"][:]
        except (OSError, KeyError) as error:
            raise CorruptShardError(f"{path}: unreadable ground truth: {error}") from None
    for row_names, row_up in zip(names, up, strict=True):
        for name, was_lifted in zip(row_names, row_up, strict=True):
            if name:
                present[name] += 1
                lifted[name] += int(was_lifted)
    return int(np.sum(success & (up.sum(axis=1) == 1))) if up.shape[1] else 0


def summarize(folder: str | Path, verify: bool = False, skip_bad: bool = False,
              report: Callable[[str], None] = print) -> DatasetSummary:
    """Count a dataset's records; ``verify`` also tests every checksum and each shard's SHA-256 against the card.

    Raises:
        DatasetError: a bad shard (unless ``skip_bad``: it is reported and listed in ``bad_shards``).
    """
    scan = scan_folder(folder, skip_bad=skip_bad, report=report)
    card = scan.card
    summary = DatasetSummary(folder=str(scan.folder), source=card.source, image_size=card.image_size,
                             object_set=card.object_set.get("spec"), shards=len(scan.shards),
                             bad_shards=[str(path) for path, _ in scan.bad])
    manifest = {entry.name: entry for entry in card.shards}
    present: Counter[str] = Counter()
    lifted: Counter[str] = Counter()
    for info in scan.shards:
        try:
            if verify:
                verify_shard(info.path)
                entry = manifest.get(info.path.name)
                if entry is not None and entry.sha256 != file_sha256(info.path):
                    raise CorruptShardError(f"{info.path}: SHA-256 differs from the card's manifest")
            counts = shard_counts(info.path)
            summary.single_object_successes += _truth_counts(info.path, present, lifted)
        except DatasetError as error:
            if not skip_bad:
                raise
            report(f"skipping bad shard: {error}")
            summary.bad_shards.append(str(info.path))
            summary.shards -= 1
            continue
        for name in ("attempts", "grasps_attempted", "successes", "faults"):
            setattr(summary, name, getattr(summary, name) + counts[name])
    summary.objects = {name: {"present": present[name], "lifted": lifted[name]} for name in sorted(present)}
    return summary


def example_triplets(folder: str | Path, count: int = 8, seed: int = 0,
                     skip_bad: bool = False) -> tuple[list[dict[str, np.ndarray]], list[str]]:
    """Up to ``count`` successful triplets drawn with ``seed``, and the names of what each lifted."""
    from graspdata.ground_truth import GroundTruthReader

    triplets = TripletDataset(folder, skip_bad=skip_bad, report=lambda _: None)
    if len(triplets) == 0:
        return [], []
    picks = np.sort(np.random.default_rng(seed).choice(len(triplets), min(count, len(triplets)), replace=False))
    truths = GroundTruthReader()
    labels = [", ".join(truths.read(triplets.ref(int(i))).lifted_objects) or "?" for i in picks]
    items = [triplets[int(i)] for i in picks]
    truths.close()
    triplets.close()
    return items, labels


def save_triplet_grid(items: list[dict[str, np.ndarray]], labels: list[str], path: str | Path) -> None:
    """PNG: one column per example, rows pre / post / outcome, titled with the lifted object."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max(len(items), 1)
    fig, axes = plt.subplots(3, columns, figsize=(1.6 * columns + 0.6, 5.2), squeeze=False)
    for row, key in enumerate(("pre", "post", "outcome")):
        axes[row, 0].set_ylabel(key)
        for column in range(columns):
            ax = axes[row, column]
            ax.set_xticks([])
            ax.set_yticks([])
            if column < len(items):
                ax.imshow(items[column][key], interpolation="nearest")
                if row == 0:
                    ax.set_title(labels[column], fontsize=8)
    fig.suptitle("example successful grasps (title: lifted object, ground truth)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def save_object_histogram(summary: DatasetSummary, path: str | Path, top: int = 25) -> None:
    """PNG: how many objects were lifted k times, and the most-lifted objects with their bin appearances."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    names = sorted(summary.objects, key=lambda n: (-summary.objects[n]["lifted"], n))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    lifts = [summary.objects[n]["lifted"] for n in names]
    left.hist(lifts, bins=range(0, max(lifts, default=0) + 2), color="tab:blue", align="left")
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel("times lifted")
    left.set_ylabel("objects")
    left.set_title(f"{len(names)} objects seen in the bin")
    shown = names[:top]
    x = np.arange(len(shown))
    right.bar(x - 0.2, [summary.objects[n]["present"] for n in shown], 0.4, label="in bin")
    right.bar(x + 0.2, [summary.objects[n]["lifted"] for n in shown], 0.4, label="lifted")
    right.set_xticks(x, shown, rotation=90, fontsize=7)
    right.set_title(f"top {len(shown)} objects by lifts")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
