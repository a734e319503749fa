"""Resuming a killed benchmark run: each finished chunk of trials is appended to a JSONL file, and a rerun
with the same file skips the chunks it holds.

The first line names what the trials depend on (the config without the worker count, the rows and their
checkpoints, the git commit); a file written for anything else is refused rather than mixed in. Chunks
start from a fresh simulation (:func:`benchmark.runner.run_chunk`), so a resumed run gives the trials an
uninterrupted one would. Edits that are not committed between the kill and the rerun are not detected.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from benchmark.tasks import TrialResult
from common.io import append_line, read_whole_lines

FORMAT = "runs.benchmark partial results v1"
ChunkKey = tuple[str, int, int]  # (cell key, first trial, stop)


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for key in sorted(set(old) | set(new))
                for d in _differences(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} in the file, {new!r} now"]


class PartialLog:
    """The finished chunks of one benchmark run, in ``path`` (JSON lines).

    Args:
        path: the JSONL file (created on the first chunk; runs.benchmark keeps it under ``runs/out/``).
        identity: what the trials depend on, as JSON-compatible data; the file's header must equal it.
    """

    def __init__(self, path: Path, identity: dict[str, Any]) -> None:
        self.path = Path(path)
        self.identity = json.loads(json.dumps(identity))  # as it reads back
        self._started = False

    def load(self) -> dict[ChunkKey, list[TrialResult]]:
        """The chunks already finished (none for a new file).

        Raises:
            ValueError: the file was written for another config, row set or commit (the message names the
                differences and the file).
        """
        lines = read_whole_lines(self.path)
        self._started = bool(lines)
        if not lines:
            return {}
        try:
            header = json.loads(lines[0])
            records = [json.loads(line) for line in lines[1:]]
        except json.JSONDecodeError as error:
            raise ValueError(f"{self.path} is not a benchmark partial-results file ({error}); delete it to start "
                             "over") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError(f"{self.path} is not a benchmark partial-results file; delete it to start over")
        differences = _differences(header["identity"], self.identity)
        if differences:
            raise ValueError(f"{self.path} holds trials of another run ({'; '.join(differences)}); delete it to start "
                             "over or pass another partial file")
        return {(r["cell"], r["first"], r["stop"]): [TrialResult(**t) for t in r["trials"]] for r in records}

    def append(self, key: ChunkKey, results: list[TrialResult]) -> None:
        """Record one finished chunk (the header first, when :meth:`load` found no file)."""
        if not self._started:
            append_line(self.path, json.dumps({"format": FORMAT, "identity": self.identity}))
            self._started = True
        cell, first, stop = key
        append_line(self.path, json.dumps({"cell": cell, "first": first, "stop": stop,
                                           "trials": [dataclasses.asdict(r) for r in results]}))

    def remove(self) -> None:
        """Delete the file (the run finished and its results are written)."""
        self.path.unlink(missing_ok=True)
