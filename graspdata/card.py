"""The dataset card: ``card.json`` beside the shards, describing how the data was made and what it holds.

The shards are the data; the card is their summary and provenance (config, seeds, object set, code
version, counts, success rate, one manifest entry per shard with its size and SHA-256). It is
rewritten atomically after every shard, so a killed run leaves a card at most one shard behind,
which ``--resume`` repairs from the shards themselves.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common.io import atomic_write_text, file_sha256
from common.provenance import now
from graspdata.errors import LayoutVersionError, NotADatasetError
from graspdata.layout import LAYOUT_VERSION, READABLE_LAYOUT_VERSIONS, inspect_shard, shard_counts

CARD_NAME = "card.json"
CARD_FORMAT = "grasp2vec-sim/grasp-dataset"


@dataclass
class ShardEntry:
    """Manifest line of one shard: its index range, counts, size in bytes and SHA-256."""

    name: str
    first_index: int
    stop_index: int
    attempts: int
    grasps_attempted: int
    successes: int
    faults: int
    bytes: int
    sha256: str


@dataclass
class DatasetCard:
    """Everything ``card.json`` holds. ``config`` is the collection (or import) configuration as a dict."""

    source: str
    image_size: int
    object_set: dict[str, Any]
    config: dict[str, Any]
    seeds: dict[str, Any]
    code_version: dict[str, Any]
    shards: list[ShardEntry] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    created: str = field(default_factory=lambda: now())
    format: str = CARD_FORMAT
    layout_version: int = LAYOUT_VERSION

    @property
    def triplet_fov(self) -> float | None:
        """Field of view (degrees) the pre and post images were rendered through; None: the policy's scene camera
        (``runs.collect --triplet-fov``; datasets collected or imported without it)."""
        value = self.config.get("triplet_fov")
        return None if value is None else float(value)

    @property
    def triplet_backdrop(self) -> bool:
        """Whether the outcome images show the lift against a plain backdrop (``runs.collect --triplet-backdrop``;
        False for datasets collected or imported without it)."""
        return bool(self.config.get("triplet_backdrop", False))

    def counts(self) -> dict[str, int]:
        """Totals over the manifest: attempts, grasps_attempted, successes, faults, shards."""
        totals = {name: sum(getattr(s, name) for s in self.shards)
                  for name in ("attempts", "grasps_attempted", "successes", "faults")}
        totals["shards"] = len(self.shards)
        return totals

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        counts = self.counts()
        data["counts"] = counts
        data["success_rate"] = counts["successes"] / counts["attempts"] if counts["attempts"] else None
        data["shards"] = sorted(data["shards"], key=lambda s: s["first_index"])
        return data

    def save(self, folder: str | Path) -> None:
        """Write ``folder/card.json`` atomically."""
        atomic_write_text(Path(folder) / CARD_NAME, json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, folder: str | Path) -> DatasetCard:
        """Read ``folder/card.json``.

        Raises:
            NotADatasetError: no card, unreadable JSON, or not a grasp dataset card.
            LayoutVersionError: the card's layout version is not one this code reads.
        """
        path = Path(folder) / CARD_NAME
        if not path.is_file():
            raise NotADatasetError(f"{folder}: not a grasp dataset (no {CARD_NAME})")
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise NotADatasetError(f"{path}: unreadable dataset card: {error}") from None
        if not isinstance(data, dict) or data.get("format") != CARD_FORMAT:
            raise NotADatasetError(f"{path}: not a grasp dataset card (format {data.get('format')!r})"
                                   if isinstance(data, dict) else f"{path}: not a grasp dataset card")
        if data.get("layout_version") not in READABLE_LAYOUT_VERSIONS:
            raise LayoutVersionError(f"{path}: layout version {data.get('layout_version')}, "
                                     f"but this code reads versions {READABLE_LAYOUT_VERSIONS}")
        data.pop("counts", None)
        data.pop("success_rate", None)
        data["shards"] = [ShardEntry(**entry) for entry in data.get("shards", [])]
        try:
            return cls(**data)
        except TypeError as error:
            raise NotADatasetError(f"{path}: malformed dataset card: {error}") from None


def shard_entry(path: Path) -> ShardEntry:
    """Validate a shard and describe it for the manifest (reads its small arrays and hashes the file)."""
    info = inspect_shard(path)
    return ShardEntry(name=path.name, first_index=info.first_index, stop_index=info.stop_index,
                      bytes=path.stat().st_size, sha256=file_sha256(path), **shard_counts(path))


def names_digest(names: list[str]) -> str:
    """SHA-256 of the sorted object names, one per line: identifies an object set compactly."""
    return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()

