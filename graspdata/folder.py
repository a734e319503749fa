"""A dataset folder: ``card.json`` plus ``shard-*.h5`` files. Listing and validating its shards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from graspdata.card import DatasetCard
from graspdata.errors import CorruptShardError, DatasetError, NotADatasetError
from graspdata.layout import SHARD_GLOB, ShardInfo, inspect_shard

BAD_SUFFIX = ".bad"


@dataclass
class FolderScan:
    """A validated dataset folder: its card, good shards (by first index) and the bad ones skipped."""

    folder: Path
    card: DatasetCard
    shards: list[ShardInfo]
    bad: list[tuple[Path, DatasetError]] = field(default_factory=list)


def check_shard(path: Path, card: DatasetCard) -> ShardInfo:
    """Validate one shard against its folder's card (size in the manifest, image size)."""
    info = inspect_shard(path)
    listed = {entry.name: entry for entry in card.shards}.get(path.name)
    if listed is not None and listed.bytes != path.stat().st_size:
        raise CorruptShardError(f"{path}: {path.stat().st_size} bytes, but the card lists {listed.bytes} "
                                "(truncated or replaced)")
    if info.image_size != card.image_size:
        raise CorruptShardError(f"{path}: image size {info.image_size}, but the dataset's is {card.image_size}")
    return info


def scan_folder(folder: str | Path, skip_bad: bool = False,
                report: Callable[[str], None] = print) -> FolderScan:
    """Load the card and validate every shard.

    Args:
        folder: the dataset folder.
        skip_bad: report bad shards through ``report`` and leave them out instead of raising.

    Raises:
        NotADatasetError: ``folder`` is missing or holds no dataset card.
        DatasetError: a bad shard (unless ``skip_bad``), or two shards that overlap.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADatasetError(f"{folder}: no such dataset folder")
    card = DatasetCard.load(folder)
    shards, bad = [], []
    for path in sorted(folder.glob(SHARD_GLOB)):
        try:
            shards.append(check_shard(path, card))
        except DatasetError as error:
            if not skip_bad:
                raise
            report(f"skipping bad shard: {error}")
            bad.append((path, error))
    shards.sort(key=lambda s: s.first_index)
    for before, after in zip(shards, shards[1:], strict=False):
        if after.first_index < before.stop_index:
            raise CorruptShardError(f"{after.path} overlaps {before.path}: indices "
                                    f"{after.first_index}..{before.stop_index - 1} are in both")
    return FolderScan(folder=folder, card=card, shards=shards, bad=bad)


def quarantine(path: Path) -> Path:
    """Rename a bad shard out of the dataset (``*.h5.bad``) so it is kept for inspection but never read."""
    target = path.with_name(path.name + BAD_SUFFIX)
    path.replace(target)
    return target
