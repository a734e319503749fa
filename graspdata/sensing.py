"""How the robot's sensed grasp bit compares with the simulator's ground truth, on collected data.

Training reads each record's ``grasp_sensed`` (the gripper's fingertips stayed apart after the lift);
evaluation reads ``success`` (an object's base ended above the lift line, no fault). This module
reads both, plus the ground truth's ``touching`` (objects in contact with the gripper after the lift),
and reports where they disagree: a confusion table over attempted, fault-free grasps; the lifted but
not sensed attempts split into thrown up (no lifted object touches the gripper) and held; the sensed
but not lifted ones split into held below the line and not touching; the share of Grasp2Vec triplets
whose selection changes (selected by ``grasp_sensed`` instead of ``success``); a histogram of the
measured apertures (label-free); and, given the closed aperture, how the confusion would move with
other margins (a sensitivity read-out for the record, not a way to pick the margin: that would fit
it on ground truth). :func:`lift_signals` and :func:`count_separation` ask a second question: whether
anything the robot senses tells a lift of two objects from a lift of one. Evaluation only: it opens the
ground-truth group.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from common.io import atomic_write_json, atomic_write_text
from common.stats import roc_auc
from graspdata.card import DatasetCard
from graspdata.folder import scan_folder
from graspdata.layout import APERTURE, RECORD_GROUP, TRUTH_GROUP, open_h5, read_grasp_sensed

HISTOGRAM_EDGES_MM = (35, 39, 40, 41, 42, 43, 44, 45, 46, 48, 50, 55, 60, 70, 100, 200)
SENSITIVITY_MARGINS_MM = (2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
SCENE_CHANGE_LEVEL = 30  # a scene pixel changed when one of its channels moved by more than this (0-255)


ShardColumns = Callable[[h5py.Group, h5py.Group], dict[str, np.ndarray]]


def _concatenated(roots: Sequence[str | Path], read: ShardColumns) -> dict[str, np.ndarray]:
    """``read(records, truth)`` of every shard of ``roots``, each column concatenated over the shards
    (a shard may return no columns); empty when no shard returned any."""
    parts: dict[str, list[np.ndarray]] = {}
    for root in roots:
        for info in scan_folder(root, report=lambda message: None).shards:
            with open_h5(info.path) as f:
                columns = read(f[RECORD_GROUP], f[TRUTH_GROUP])
            for name, values in columns.items():
                parts.setdefault(name, []).append(values)
    return {name: np.concatenate(values) for name, values in parts.items()}


def _apertures(records: h5py.Group) -> np.ndarray:
    """Every record's measured aperture after the lift (m), NaN where the shard did not record it."""
    n = len(records["success"])
    return records[APERTURE][:].astype(np.float64) if APERTURE in records else np.full(n, np.nan)


def _fault_free(records: h5py.Group) -> np.ndarray:
    return np.asarray(records["fault"].asstr()[:], dtype=object) == ""


def _agreement_columns(records: h5py.Group, truth: h5py.Group) -> dict[str, np.ndarray]:
    """Per-record arrays of one shard: attempted, fault-free, success, sensed, aperture, lifted-any,
    touching-any, and whether every lifted object touches / some lifted object touches."""
    lifted = truth["lifted"][:].astype(bool)
    touching = truth["touching"][:].astype(bool) if "touching" in truth else None
    n = len(lifted)
    return {
        "attempted": records["grasp_attempted"][:].astype(bool),
        "fault_free": _fault_free(records),
        "success": records["success"][:].astype(bool),
        "sensed": read_grasp_sensed(records),
        "aperture": _apertures(records),
        "has_touching": np.full(n, touching is not None),
        "lifted_touching": np.any(lifted & touching, axis=1) if touching is not None else np.zeros(n, bool),
        "touching_any": np.any(touching, axis=1) if touching is not None else np.zeros(n, bool),
    }


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def sensing_agreement(roots: str | Path | Sequence[str | Path], closed_aperture: float | None = None
                      ) -> dict[str, Any]:
    """Sensed bit vs ground truth on the datasets ``roots`` (see the module docstring); JSON-ready.
    ``closed_aperture`` (m), when given, adds ``margin_sensitivity`` for :data:`SENSITIVITY_MARGINS_MM`.

    Raises:
        ValueError: the folders hold no shards or no attempted, fault-free grasp.
    """
    roots = [roots] if isinstance(roots, str | os.PathLike) else list(roots)
    c = _concatenated(roots, _agreement_columns)
    if not c:
        raise ValueError(f"{roots} hold no shards")
    valid = c["attempted"] & c["fault_free"]
    if not valid.any():
        raise ValueError(f"{roots} record no attempted, fault-free grasp")
    sensed, lifted = c["sensed"][valid], c["success"][valid]
    total = int(valid.sum())
    cells = {"sensed_and_lifted": int(np.sum(sensed & lifted)), "sensed_not_lifted": int(np.sum(sensed & ~lifted)),
             "lifted_not_sensed": int(np.sum(~sensed & lifted)), "neither": int(np.sum(~sensed & ~lifted))}
    result: dict[str, Any] = {
        "folders": [str(r) for r in roots],
        "records": len(c["attempted"]), "attempted": int(c["attempted"].sum()),
        "faulted": int(np.sum(c["attempted"] & ~c["fault_free"])), "attempted_fault_free": total,
        "confusion": cells, "confusion_share": {k: _share(v, total) for k, v in cells.items()},
        "agreement": _share(cells["sensed_and_lifted"] + cells["neither"], total),
        "sensed_rate": _share(int(sensed.sum()), total), "lifted_rate": _share(int(lifted.sum()), total),
    }
    if c["has_touching"][valid].all():
        touching, lifted_touching = c["touching_any"][valid], c["lifted_touching"][valid]
        missed, extra = ~sensed & lifted, sensed & ~lifted
        result["lifted_not_sensed_split"] = {
            "thrown_not_held": int(np.sum(missed & ~lifted_touching)),
            "held": int(np.sum(missed & lifted_touching))}
        result["sensed_not_lifted_split"] = {
            "touching_below_the_line": int(np.sum(extra & touching)),
            "not_touching": int(np.sum(extra & ~touching))}
    old, new = c["success"], c["sensed"]
    selected_old, selected_new = int(old.sum()), int(new.sum())
    dropped, added = int(np.sum(old & ~new)), int(np.sum(new & ~old))
    result["triplets"] = {
        "selected_by_success": selected_old, "selected_by_sensed": selected_new,
        "dropped": dropped, "added": added,
        "changed_share_of_success_selection": _share(dropped + added, selected_old),
        "changed_share_of_union": _share(dropped + added, int(np.sum(old | new))),
    }
    aperture = c["aperture"][valid]
    measured = np.isfinite(aperture)
    edges = np.asarray(HISTOGRAM_EDGES_MM, np.float64) / 1000.0
    histogram = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = measured & (aperture >= low) & (aperture < high)
        histogram.append({"from_mm": float(low * 1000), "to_mm": float(high * 1000), "attempts": int(inside.sum()),
                          "lifted": int(np.sum(inside & lifted))})
    result["aperture_histogram"] = histogram
    result["aperture_measured"] = int(measured.sum())
    if closed_aperture is not None:
        result["margin_sensitivity"] = []
        for margin_mm in SENSITIVITY_MARGINS_MM:
            bit = measured & (np.nan_to_num(aperture) > closed_aperture + margin_mm / 1000.0)
            result["margin_sensitivity"].append({
                "margin_mm": margin_mm, "sensed_not_lifted": int(np.sum(bit & ~lifted)),
                "lifted_not_sensed": int(np.sum(~bit & lifted)),
                "agreement": _share(int(np.sum(bit == lifted)), total)})
    return result


@dataclass(frozen=True)
class LiftSignals:
    """Every sensed, successful, fault-free lift of some folders: what the robot senses, and (ground truth,
    for evaluation) how many objects came up.

    Attributes:
        objects_lifted: (N,) int, objects above the line after the hold (ground truth).
        aperture: (N,) float, fingertip distance after the lift, m (NaN where not recorded).
        scene_change: (N,) int, pixels of the pre-grasp scene image that changed in the post-grasp one.
        outcome_images: (N, H, W, 3) uint8 wrist images after the lift, or None when not asked for.
    """

    objects_lifted: np.ndarray
    aperture: np.ndarray
    scene_change: np.ndarray
    outcome_images: np.ndarray | None = None


def lift_signals(roots: str | Path | Sequence[str | Path], with_outcomes: bool = False) -> LiftSignals:
    """:class:`LiftSignals` of the folders ``roots``; ``with_outcomes`` also keeps the outcome images.

    Raises:
        ValueError: the folders hold no such lift.
    """
    roots = [roots] if isinstance(roots, str | os.PathLike) else list(roots)

    def read(records: h5py.Group, truth: h5py.Group) -> dict[str, np.ndarray]:
        keep = np.flatnonzero(records["success"][:].astype(bool) & read_grasp_sensed(records)
                              & _fault_free(records))
        if not len(keep):
            return {}
        pre, post = records["pre_image"][keep].astype(np.int16), records["post_image"][keep].astype(np.int16)
        columns = {"objects_lifted": truth["lifted"][:][keep].sum(axis=1).astype(np.int64),
                   "aperture": _apertures(records)[keep],
                   "scene_change": (np.abs(pre - post).max(axis=-1) > SCENE_CHANGE_LEVEL).sum(axis=(1, 2))}
        if with_outcomes:
            columns["outcome_images"] = records["outcome_image"][keep]
        return columns

    joined = _concatenated(roots, read)
    if not joined:
        raise ValueError(f"{roots} hold no sensed, successful, fault-free lift")
    return LiftSignals(**joined)


def count_separation(signals: LiftSignals, outcome_score: Callable[[np.ndarray], np.ndarray] | None = None,
                     outcome_name: str = "outcome score") -> dict[str, Any]:
    """How well each sensed signal tells lifts of two or more objects from lifts of one: ROC-AUC (0.5 = no
    better than chance; below 0.5, the signal runs the other way) and each group's median. ``outcome_score``
    (outcome images (B, H, W, 3) → (B,)) adds a signal read from the wrist images, named ``outcome_name``."""
    several = signals.objects_lifted >= 2
    if several.all() or not several.any():
        raise ValueError(f"count_separation needs lifts of one and of several objects, got {int(several.sum())} "
                         f"of {len(several)} with several")
    named = {"aperture (m)": signals.aperture, "scene pixels changed": signals.scene_change.astype(np.float64)}
    if outcome_score is not None:
        if signals.outcome_images is None:
            raise ValueError("an outcome score needs lift_signals(..., with_outcomes=True)")
        named[outcome_name] = np.asarray(outcome_score(signals.outcome_images), np.float64)
    result: dict[str, Any] = {"lifts": len(several), "several": int(several.sum()), "signals": {}}
    for name, values in named.items():
        measured = np.isfinite(values)
        if not (several & measured).any() or not (~several & measured).any():
            continue
        result["signals"][name] = {
            "roc_auc": round(roc_auc(values[measured], several[measured]), 4), "measured": int(measured.sum()),
            "median_one": float(np.median(values[measured & ~several])),
            "median_several": float(np.median(values[measured & several]))}
    return result


def describe_collection(root: str | Path) -> dict[str, Any]:
    """Seed, size, policy, objects and collection runs (wall time, machine) from a folder's card."""
    card = DatasetCard.load(root)
    keys = ("objects", "num_objects", "image_size", "max_steps", "policy", "seed", "grasps", "workers")
    return {"folder": str(root), **{k: card.config.get(k) for k in keys}, "layout_version": card.layout_version,
            "runs": [{k: run.get(k) for k in ("started", "wall_s", "workers", "worker_cpu_s", "machine")}
                     for run in card.runs]}


def sensing_markdown(report: dict[str, Any]) -> str:
    """A short Markdown page of :func:`sensing_agreement`'s result plus the report's provenance keys."""
    a, cells = report["agreement"], report["agreement"]["confusion"]
    share = a["confusion_share"]
    lines = [
        "# Sensed grasp bit vs ground truth (issue #14)",
        "",
        f"Data: `{', '.join(a['folders'])}` — {a['records']} attempts, {a['attempted_fault_free']} attempted and "
        f"fault-free ({a['faulted']} faulted). Sensed bit: aperture after the lift > closed-on-nothing aperture "
        f"({report['closed_aperture_m']:.5f} m, measured in mid-air) + margin ({report['margin_m']:.3f} m).",
        "",
        "| | lifted (ground truth) | not lifted |",
        "|---|---:|---:|",
        f"| **sensed** | {cells['sensed_and_lifted']} ({share['sensed_and_lifted']:.2%}) | "
        f"{cells['sensed_not_lifted']} ({share['sensed_not_lifted']:.2%}) |",
        f"| **not sensed** | {cells['lifted_not_sensed']} ({share['lifted_not_sensed']:.2%}) | "
        f"{cells['neither']} ({share['neither']:.2%}) |",
        "",
        f"Agreement {a['agreement']:.2%}; sensed rate {a['sensed_rate']:.2%}, lifted rate {a['lifted_rate']:.2%}.",
    ]
    if "lifted_not_sensed_split" in a:
        missed, extra = a["lifted_not_sensed_split"], a["sensed_not_lifted_split"]
        lines += ["",
                  f"- Lifted but not sensed: {missed['thrown_not_held']} thrown above the line without touching "
                  f"the gripper after the lift, {missed['held']} touching it (held).",
                  f"- Sensed but not lifted: {extra['touching_below_the_line']} with an object touching the "
                  f"gripper below the line, {extra['not_touching']} touching nothing."]
    t = a["triplets"]
    lines += ["", "## Grasp2Vec triplets", "",
              f"Selected by `success`: {t['selected_by_success']}; by `grasp_sensed`: {t['selected_by_sensed']} "
              f"({t['dropped']} dropped, {t['added']} added): the selection of "
              f"{t['changed_share_of_success_selection']:.2%} of the success-selected triplets changes "
              f"({t['changed_share_of_union']:.2%} of the union).",
              "", "## Measured aperture after the lift (attempted, fault-free; label-free)", "",
              "| aperture (mm) | attempts | of them lifted |", "|---|---:|---:|"]
    lines += [f"| {h['from_mm']:.0f}–{h['to_mm']:.0f} | {h['attempts']} | {h['lifted']} |"
              for h in a["aperture_histogram"] if h["attempts"]]
    if "margin_sensitivity" in a:
        lines += ["", "## Other margins (read-out only; the default is not fitted on ground truth)", "",
                  "| margin (mm) | sensed, not lifted | lifted, not sensed | agreement |", "|---:|---:|---:|---:|"]
        lines += [f"| {m['margin_mm']:g} | {m['sensed_not_lifted']} | {m['lifted_not_sensed']} | {m['agreement']:.2%} |"
                  for m in a["margin_sensitivity"]]
    if "count_separation" in report:
        counts = report["count_separation"]
        lines += ["", "## Does the robot sense how many objects it lifted?", "",
                  f"{counts['lifts']} sensed, successful lifts, {counts['several']} of them of two or more objects "
                  "(ground truth). ROC-AUC of each sensed signal for \"several\" against \"one\" (0.5: chance):", "",
                  "| signal | ROC-AUC | median, one object | median, several | lifts measured |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {name} | {v['roc_auc']:.3f} | {v['median_one']:.4g} | {v['median_several']:.4g} | "
                  f"{v['measured']} |" for name, v in counts["signals"].items()]
    lines += ["", "## Provenance", ""]
    lines += [f"- {key}: `{report[key]}`" for key in ("collect_command", "report_command", "machine", "load_average")
              if report.get(key)]
    collection = report.get("collection", {})
    lines += [f"- collection: seed {collection.get('seed')}, {collection.get('grasps')} attempts, policy "
              f"`{collection.get('policy')}`, objects `{collection.get('objects')}`, runs "
              f"{[(r.get('wall_s'), r.get('workers')) for r in collection.get('runs', [])]} (wall s, workers)"]
    lines += [f"- note: {note}" for note in report.get("notes", [])]
    return "\n".join(lines) + "\n"


def write_sensing_report(report: dict[str, Any], json_path: str | Path, markdown_path: str | Path) -> None:
    """Write the report as JSON and as Markdown (atomically)."""
    atomic_write_json(json_path, report)
    atomic_write_text(markdown_path, sensing_markdown(report))
