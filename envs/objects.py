"""Object sets: which URDFs may be dropped into the bin.

PyBullet ships 1,000 procedurally generated objects in ``pybullet_data/random_urdfs/NNN``.
Following PyBullet's own ``KukaDiverseObjectEnv``, folders whose number ends in 0 are the
**unseen** split (100 objects) and all others the **seen** split (900 objects). Users may pass
their own set: a folder (searched recursively for ``*.urdf``), a glob, or a list of URDF paths.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Union

import pybullet_data

ObjectSpec = Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]

SPLITS = ("seen", "unseen", "all")


def random_urdfs_dir() -> Path:
    """Folder holding PyBullet's procedurally generated objects."""
    return Path(pybullet_data.getDataPath()) / "random_urdfs"


def builtin_split(split: str) -> list[Path]:
    """URDF paths of a built-in split: ``seen`` (900), ``unseen`` (100) or ``all`` (1,000)."""
    if split not in SPLITS:
        raise ValueError(f"unknown object split {split!r}; expected one of {SPLITS}")
    root = random_urdfs_dir()
    paths = []
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or not folder.name.isdigit():
            continue
        unseen = folder.name.endswith("0")
        if split == "all" or (split == "unseen") == unseen:
            paths.append(folder / f"{folder.name}.urdf")
    return paths


def resolve_objects(spec: ObjectSpec) -> list[Path]:
    """Turn an object-set spec into a sorted, de-duplicated list of existing URDF paths.

    Args:
        spec: ``"seen"``, ``"unseen"``, ``"all"``, a folder, a glob pattern, or a list of paths.

    Raises:
        FileNotFoundError: a listed URDF does not exist (the message names it).
        ValueError: the spec matches no URDF at all.
    """
    if isinstance(spec, (str, os.PathLike)):
        text = os.fspath(spec)
        if text in SPLITS:
            return builtin_split(text)
        path = Path(text).expanduser()
        if path.is_dir():
            paths = sorted(path.rglob("*.urdf"))
            if not paths:
                raise ValueError(f"object folder {path} holds no .urdf files")
            return paths
        if glob.has_magic(text):
            paths = sorted(Path(p) for p in glob.glob(os.path.expanduser(text), recursive=True))
            paths = [p for p in paths if p.suffix == ".urdf"]
            if not paths:
                raise ValueError(f"object glob {text!r} matches no .urdf files")
            return paths
        items: Sequence[Union[str, os.PathLike]] = [text]
    else:
        items = list(spec)
    if not items:
        raise ValueError("object set is empty: pass 'seen', 'unseen', a folder, a glob or URDF paths")
    paths = []
    for item in items:
        path = Path(item).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"object URDF not found: {path}")
        if path.suffix != ".urdf":
            raise ValueError(f"object file is not a URDF: {path}")
        paths.append(path)
    return sorted(set(paths))


def object_name(urdf: os.PathLike | str) -> str:
    """Stable short name of an object: its URDF file stem (``"017"`` for random_urdfs/017)."""
    return Path(urdf).stem
