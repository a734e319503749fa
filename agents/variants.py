"""Policy variants: a trained pose QT-Opt checkpoint with other acting settings, for comparison on
validation seeds without retraining (the weights are copied unchanged).

:func:`derive_policy` copies a checkpoint folder and overrides fields of its learner config that only
change how poses are chosen (CEM, robust scoring, heatmap proposals); ``derivation.json`` records the
source, its weights' SHA-256 and the overrides. The command is ``python -m runs.derive_policy``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from agents.qtopt.learner import META, WEIGHTS, PoseQTOptConfig
from common.io import atomic_write_json, file_sha256
from common.protocols import PolicyCard

ACTING_FIELDS = ("robust_translation", "robust_yaw", "heatmap_proposals", "cem")


def parse_override(item: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with a JSON value (``robust_yaw=0.2``, ``cem={"iterations": 4}``)."""
    key, sep, value = item.partition("=")
    if not sep:
        raise ValueError(f"expected KEY=VALUE, got {item!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        raise ValueError(f"{item!r}: the value must be JSON (a number, true/false, or an object)") from None


def derive_policy(source: str | Path, out: str | Path, overrides: dict[str, Any], command: str = "") -> Path:
    """Copy the pose QT-Opt checkpoint ``source`` to ``out`` with ``overrides`` of its acting settings.

    Raises:
        ValueError: ``source`` is not a pose QT-Opt checkpoint, or an override names a field that is not
            an acting setting (training settings would not match the weights), or its value is invalid.
        FileExistsError: ``out`` exists.
    """
    source, out = Path(source), Path(out)
    if PolicyCard.load(source).algo != "qtopt-pose" or not (source / META).is_file():
        raise ValueError(f"{source} is not a pose QT-Opt checkpoint (policy.json algo qtopt-pose and {META})")
    unknown = sorted(set(overrides) - set(ACTING_FIELDS))
    if unknown:
        raise ValueError(f"{unknown} are not acting settings; derive_policy changes only {ACTING_FIELDS}")
    if out.exists():
        raise FileExistsError(f"{out} exists: choose another folder")
    meta = json.loads((source / META).read_text())
    config = {**meta["config"], **overrides}
    if isinstance(overrides.get("cem"), dict):
        config["cem"] = {**meta["config"]["cem"], **overrides["cem"]}
    PoseQTOptConfig.from_dict(config)  # validates the result
    shutil.copytree(source, out)
    atomic_write_json(out / META, {**meta, "config": config})
    atomic_write_json(out / "derivation.json", {
        "source": str(source), "weights_sha256": file_sha256(source / WEIGHTS), "overrides": overrides,
        "command": command})
    return out
