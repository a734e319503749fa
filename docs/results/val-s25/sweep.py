"""Threshold sweep for putting a lift back (session 25, rule-regrasp.md step 1).

    PYTHONPATH=. python docs/results/val-s25/sweep.py docs/results/val-s25/val-sweep.json docs/results/val-s25/sweep \
        regrasp-all regrasp-all-retry

Reads a runs.benchmark JSON of two-grasp tables whose rows put back every first lift (``--threshold inf``). Each
trial records the verifier's score of its first lift (``policy_report.lift_scores``), what that lift held
(``released_objects``, ground truth read only to score) and how the second grasp ended. A trial's outcome at
threshold t is the first lift's when its score >= t, else the second grasp's. Writes PREFIX.md, PREFIX.json and
PREFIX.png.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmark.budget import lift_ending  # noqa: E402

ENDS = ("success", "nothing", "wrong", "target+another")
# benchmark.budget's endings under the short labels this sweep's outputs were written with
LABELS = {"success": "success", "nothing lifted": "nothing", "wrong object": "wrong",
          "target + another": "target+another"}


def end(lifted: list[str], target: str) -> str:
    return LABELS[lift_ending(list(lifted), target)]


def trials(part: dict, row: str, objects: str) -> list[dict]:
    rows = []
    for t in part["trials"][f"{row}/{objects}/single/instance"]:
        scores, released = t["policy_report"]["lift_scores"], t["released_objects"]
        last = end(t["lifted_objects"], t["target"])
        if len(scores) != len(released):
            raise SystemExit(f"{row} seed {t['seed']}: {len(scores)} lifts scored but {len(released)} put back")
        first = end(released[0], t["target"]) if released else last
        rows.append({"seed": t["seed"], "score": scores[0] if scores else None, "first": first, "second": last})
    return rows


def at(pairs: list[dict], t: float) -> list[str]:
    return [p["first"] if p["score"] is None or p["score"] >= t else p["second"] for p in pairs]


def sweep(cells: dict[str, list[dict]]) -> list[dict]:
    scores = sorted({p["score"] for pairs in cells.values() for p in pairs if p["score"] is not None})
    out = []
    for t in [-np.inf, *scores, np.inf]:
        out.append({"threshold": t, **{k: at(v, t).count("success") for k, v in cells.items()},
                    "put_back": sum(p["score"] is not None and p["score"] < t for v in cells.values() for p in v)})
    return out


def save_figure(fig: plt.Figure, ax: plt.Axes, threshold: float, ylabel: str, title: str, prefix: str) -> None:
    """Mark the chosen threshold on a sweep's curves, label the axes and write PREFIX.png."""
    ax.axvline(threshold, color="k", lw=0.8)
    ax.set(xlabel="keep a lift when the Grasp2Vec reward >= threshold", ylabel=ylabel, title=title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(f"{prefix}.png", dpi=120)


def main() -> None:
    path, prefix, *rows = sys.argv[1:]
    part = json.loads(Path(path).read_text())
    results = {row: {o: trials(part, row, o) for o in ("seen", "unseen")} for row in rows}
    curves = {row: sweep(cells) for row, cells in results.items()}
    best = {row: max(curve, key=lambda r: (r["seen"] + r["unseen"], -r["threshold"])) for row, curve in curves.items()}
    winner = max(rows, key=lambda row: best[row]["seen"] + best[row]["unseen"])
    n = {o: len(results[rows[0]][o]) for o in ("seen", "unseen")}
    pct = lambda k, c: f"{100 * c / n[k]:.1f} %"  # noqa: E731
    lines = [f"Threshold sweep from `{path}`, {n['seen']} / {n['unseen']} trials seen / unseen; a lift is kept when "
             "the Grasp2Vec reward scores it at least the threshold.", "",
             "| second grasp | threshold | seen | unseen | pooled | lifts put back |", "|---|---|---|---|---|---|"]
    for row, curve in curves.items():
        marks = {-np.inf, np.inf, best[row]["threshold"]}
        for m in (0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95):
            marks.add(min((r["threshold"] for r in curve), key=lambda t, m=m: abs(t - m)))
        for r in curve:
            if r["threshold"] in marks:
                star = " **(best)**" if r is best[row] else ""
                pooled = 100 * (r["seen"] + r["unseen"]) / (n["seen"] + n["unseen"])
                lines.append(f"| {row} | {r['threshold']:.4f}{star} | {pct('seen', r['seen'])} | "
                             f"{pct('unseen', r['unseen'])} | {pooled:.1f} % | {r['put_back']} |")
    chosen = best[winner]
    lines += ["", f"Chosen: **{winner}** at threshold **{chosen['threshold']:.4f}**. Where the trials end there (% of "
              "trials), against keeping every first lift:", "",
              "| objects | grasp | success | nothing lifted | wrong object | target + another |",
              "|---|---|---|---|---|---|"]
    for objects, pairs in results[winner].items():
        for name, ends in (("first lift kept", at(pairs, -np.inf)), ("chosen", at(pairs, chosen["threshold"]))):
            lines.append(f"| {objects} | {name} | " + " | ".join(f"{100 * ends.count(k) / len(ends):.1f}" for k in ENDS)
                         + " |")
    text = "\n".join(lines) + "\n"
    Path(f"{prefix}.md").write_text(text)
    Path(f"{prefix}.json").write_text(json.dumps({"source": path, "winner": winner, "chosen": chosen,
                                                  "curves": curves, "trials": results}, indent=1, default=float))
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, (row, curve) in enumerate(curves.items()):
        finite = [r for r in curve if np.isfinite(r["threshold"])]
        for key, style in (("seen", "-"), ("unseen", "--")):
            ax.plot([r["threshold"] for r in finite], [100 * r[key] / n[key] for r in finite], style, color=f"C{i}",
                    label=f"{row}, {key}")
    for key, style in (("seen", "-"), ("unseen", "--")):
        ax.axhline(100 * curves[winner][0][key] / n[key], ls=style, lw=0.6, color="grey")
    save_figure(fig, ax, chosen["threshold"], "success (%)",
                "Putting a lift back, validation trials 0-199 (grey: keep every lift)", prefix)
    print(text)


if __name__ == "__main__":
    main()
