"""Build a grasp dataset from folders of image triplets (e.g. recorded on a real arm).

Expected input, one folder per grasp (any names; sorted order becomes the dataset order)::

    SOURCE/
      grasp_0001/
        pre.png        scene before the grasp (PNG or JPEG: .png, .jpg, .jpeg)
        post.jpg       scene after the grasp, the grasped object gone
        outcome.png    the gripper's view of what it holds
        meta.json      optional: {"success": true, "object": "red_mug"}

Images are centre-cropped to a square and resized to ``image_size`` (Lanczos). Grasps are
successes unless ``meta.json`` says ``"success": false``; that bit is the recording robot's own
judgement (e.g. its gripper closure), so it is stored as both ``success`` and the training label
``grasp_sensed``. An ``"object"`` name goes to the
ground-truth group (for evaluation only). The result reads exactly like simulated data, minus the
episodes (imported records have no observations or actions).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from common.io import atomic_write_bytes
from common.provenance import code_version
from graspdata.card import DatasetCard, names_digest, shard_entry
from graspdata.errors import DatasetError, NotADatasetError
from graspdata.layout import encode_shard, shard_name
from graspdata.records import GraspRecord, GroundTruth

SOURCE = "import"
ROLES = ("pre", "post", "outcome")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
META_NAME = "meta.json"
KEY_BITS = 63


def find_triplet_folders(source: Path) -> list[Path]:
    """Sub-folders of ``source`` that hold a triplet, sorted; raises if one is incomplete or none exist."""
    if not source.is_dir():
        raise NotADatasetError(f"{source}: no such folder of image triplets")
    folders = []
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        present = {role for role in ROLES if _find_image(folder, role) is not None}
        if not present:
            continue
        if present != set(ROLES):
            missing = sorted(set(ROLES) - present)
            raise DatasetError(f"{folder}: triplet incomplete, no {' or '.join(missing)} image "
                               f"(expected {', '.join(r + '.png' for r in ROLES)}; .jpg/.jpeg also work)")
        folders.append(folder)
    if not folders:
        raise NotADatasetError(f"{source}: no triplet folders (each needs pre, post and outcome images)")
    return folders


def _find_image(folder: Path, role: str) -> Path | None:
    found = [folder / f"{role}{suffix}" for suffix in IMAGE_SUFFIXES if (folder / f"{role}{suffix}").is_file()]
    if len(found) > 1:
        raise DatasetError(f"{folder}: several {role} images ({', '.join(p.name for p in found)}); keep one")
    return found[0] if found else None


def load_image(path: Path, size: int) -> np.ndarray:
    """Image file → (size, size, 3) uint8 RGB, centre-cropped to a square first."""
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except (OSError, UnidentifiedImageError) as error:
        raise DatasetError(f"{path}: not a readable image: {error}") from None
    width, height = rgb.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = rgb.crop((left, top, left + side, top + side))
    return np.asarray(square.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / META_NAME
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DatasetError(f"{path}: unreadable: {error}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("success", True), bool):
        raise DatasetError(f"{path}: expected an object like {{\"success\": true, \"object\": \"name\"}}")
    return meta


def triplet_key(relative: str) -> int:
    """Stable 63-bit key of a triplet folder (its path relative to the source), for the split hash."""
    return int.from_bytes(hashlib.sha256(relative.encode()).digest()[:8], "big") & ((1 << KEY_BITS) - 1)


def _record(index: int, folder: Path, source: Path, size: int) -> GraspRecord:
    meta = _read_meta(folder)
    images = {role: load_image(_find_image(folder, role), size) for role in ROLES}
    success = bool(meta.get("success", True))
    truth = None
    if "object" in meta:
        truth = GroundTruth(objects=(str(meta["object"]),), urdfs=("",), lifted=np.array([success]),
                            object_poses=np.zeros((1, 7), np.float32))
    return GraspRecord(index=index, key=triplet_key(folder.relative_to(source).as_posix()), seed=-1,
                       pre_image=images["pre"], post_image=images["post"], outcome_image=images["outcome"],
                       grasp_attempted=True, success=success, grasp_sensed=success, truth=truth)


def import_triplets(source: str | Path, out: str | Path, image_size: int = 64, shard_size: int = 500,
                    progress: Callable[[int], None] | None = None) -> DatasetCard:
    """Convert triplet folders under ``source`` into a dataset folder ``out`` (which must not exist).

    The dataset is built in ``out`` + ``.partial`` and renamed when complete.

    Raises:
        FileExistsError: ``out`` exists.
        NotADatasetError, DatasetError: the source layout is wrong (the message names the folder or file).
    """
    source, out = Path(source).resolve(), Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists; choose a new folder for the imported dataset")
    if not 16 <= image_size <= 512:
        raise ValueError(f"image_size must be in 16..512 pixels, got {image_size}")
    if shard_size < 1:
        raise ValueError(f"shard_size must be at least 1, got {shard_size}")
    folders = find_triplet_folders(source)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    names: set[str] = set()
    card = DatasetCard(source=SOURCE, image_size=image_size, object_set={}, config={
        "source_folder": str(source), "image_size": image_size, "shard_size": shard_size,
        "resize": "centre crop to square, Lanczos resize"},
        seeds={"split_key": "graspdata.importer.triplet_key(folder relative to source)"}, code_version=code_version())
    for first in range(0, len(folders), shard_size):
        stop = min(first + shard_size, len(folders))
        records = [_record(i, folders[i], source, image_size) for i in range(first, stop)]
        names.update(r.truth.objects[0] for r in records if r.truth is not None)
        path = partial / shard_name(first, stop)
        atomic_write_bytes(path, encode_shard(records, SOURCE))
        card.shards.append(shard_entry(path))
        if progress is not None:
            progress(len(records))
    card.object_set = {"spec": f"import:{source.name}", "count": len(names), "names": sorted(names),
                       "names_sha256": names_digest(sorted(names))}
    card.save(partial)
    partial.rename(out)
    return card
