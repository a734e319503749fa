"""File I/O: atomic writes (a hidden temporary name in the same folder, fsync, then rename) and hashes.

A reader (or a run killed with ``kill -9``) therefore sees either the old file or the complete new
one, never a partial file. Leftover temporaries start with ``.`` and end in ``.tmp``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TEMP_SUFFIX = ".tmp"


def temp_name(path: Path) -> Path:
    """Hidden temporary name for ``path`` (unique per process)."""
    return path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A hidden temporary path beside ``path`` with the same suffix (for writers that take a file name:
    ``np.savez``, ``savefig``, ``torch.save``, ``safetensors``); when the block ends without error the
    file is fsynced and renamed over ``path``, otherwise removed. Parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_name(path)
    temp = temp.with_name(temp.name + path.suffix)
    try:
        yield temp
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def staged_folder(path: str | os.PathLike, replace: bool = False) -> Iterator[Path]:
    """A hidden empty folder beside ``path`` to build a folder in; when the block ends without error it
    is renamed to ``path`` (an existing ``path`` is removed first when ``replace``), otherwise deleted.
    A reader sees the old folder or the complete new one."""
    import shutil

    path = Path(path)
    staging = temp_name(path)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
        if replace:
            shutil.rmtree(path, ignore_errors=True)
        staging.replace(path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that it appears whole or not at all (parent folders are created)."""
    with atomic_path(path) as temp:
        temp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, data: Any, indent: int = 1) -> None:
    """JSON version of :func:`atomic_write_text`."""
    atomic_write_text(path, json.dumps(data, indent=indent))


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB blocks.

    Raises:
        FileNotFoundError: ``path`` is not a file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist or is not a file")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: str | os.PathLike, expected: str, card: str | os.PathLike, remedy: str = "") -> None:
    """Refuse a file other than the one a card recorded (SHA-256 ``expected``).

    Raises:
        FileNotFoundError: ``path`` is missing (the message names the card that names it).
        ValueError: its hash differs; the message names both hashes, the card and ``remedy``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{card} names {path.name}, but {path} is missing")
    found = file_sha256(path)
    if found != expected:
        raise ValueError(f"{path}'s weights ({found[:12]}) are not the ones {card} recorded ({expected[:12]})"
                         + (f": {remedy}" if remedy else ""))


def read_json_card(path: str | os.PathLike, what: str) -> Any:
    """The JSON of a checkpoint folder's card.

    Raises:
        FileNotFoundError: no such file (``what`` names the folder kind the card makes).
        ValueError: the file is not JSON.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a {what} folder")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a {what} card ({error!r})") from None


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete temporaries left by killed writers in ``folder``; return what was removed."""
    removed = []
    for path in Path(folder).glob(f".*{TEMP_SUFFIX}*"):
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike):
    """Hold an exclusive lock on ``folder`` (a ``.lock`` file) so two writers never share it.

    Raises:
        BlockingIOError: another process holds the lock.
    """
    import fcntl

    path = Path(folder) / ".lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BlockingIOError(f"{folder} is being written by another process (lock {path})") from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def append_line(path: str | os.PathLike, line: str) -> None:
    """Append ``line`` plus a newline to ``path`` in one ``write`` and fsync it, so a killed writer leaves at
    most a torn last line, which :func:`read_whole_lines` drops. Parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_whole_lines(path: str | os.PathLike) -> list[str]:
    """The newline-terminated lines of ``path`` (none if it is missing); a torn last line left by a killed
    :func:`append_line` is cut off the file, so the next append starts on a line of its own."""
    path = Path(path)
    if not path.is_file():
        return []
    data = path.read_bytes()
    whole = data[:data.rfind(b"\n") + 1]
    if len(whole) < len(data):
        os.truncate(path, len(whole))
    return whole.decode("utf-8").splitlines()
