"""(threshold, foreign share) sweep for putting a lift back (session 26, rule-foreign.md step 1).

    PYTHONPATH=. python docs/results/val-s26/sweep_foreign.py docs/results/val-s26/val-sweep.json \
        docs/results/val-s26/sweep regrasp-all-retry

Reads a runs.benchmark JSON of a two-grasp table whose row puts back every first lift, with a verifier that explains
its scores (``policy_report.lift_details``: ``score`` and ``foreign_share``). A trial's outcome at (t, s) is the first
lift's when its score >= t and its foreign share <= s, else the second grasp's. Writes PREFIX.md, PREFIX.json and
PREFIX.png.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

_spec = importlib.util.spec_from_file_location("sweep25", Path(__file__).parents[1] / "val-s25" / "sweep.py")
sweep25 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sweep25)
ENDS = sweep25.ENDS


def trials(part: dict, row: str, objects: str) -> list[dict]:
    """Session 25's trials, with each first lift's foreign share (None when no lift was scored)."""
    rows = sweep25.trials(part, row, objects)
    for pair, t in zip(rows, part["trials"][f"{row}/{objects}/single/instance"], strict=True):
        details = t["policy_report"].get("lift_details", [])
        pair["share"] = details[0]["foreign_share"] if details else None
    return rows


def at(pairs: list[dict], t: float, s: float) -> list[str]:
    keep = lambda p: p["score"] is None or (p["score"] >= t and p["share"] <= s)  # noqa: E731
    return [p["first"] if keep(p) else p["second"] for p in pairs]


def grid(cells: dict[str, list[dict]]) -> list[dict]:
    pairs = [p for v in cells.values() for p in v if p["score"] is not None]
    scores = sorted({p["score"] for p in pairs})
    shares = sorted({p["share"] for p in pairs} | {1.0})
    out = []
    for t in [-np.inf, *scores, np.inf]:
        for s in shares:
            ends = {k: at(v, t, s) for k, v in cells.items()}
            out.append({"threshold": t, "share": s, **{k: e.count("success") for k, e in ends.items()},
                        "another": sum(e.count("target+another") for e in ends.values()),
                        "put_back": sum(p["score"] < t or p["share"] > s for p in pairs)})
    return out


def main() -> None:
    path, prefix, row = sys.argv[1:]
    part = json.loads(Path(path).read_text())
    cells = {o: trials(part, row, o) for o in ("seen", "unseen")}
    curve = grid(cells)
    best = max(curve, key=lambda r: (r["seen"] + r["unseen"], -r["another"], r["share"], -r["threshold"]))
    ungated = max((r for r in curve if r["share"] == 1.0),
                  key=lambda r: (r["seen"] + r["unseen"], -r["another"], -r["threshold"]))
    n = {o: len(v) for o, v in cells.items()}
    pct = lambda o, c: f"{100 * c / n[o]:.1f} %"  # noqa: E731
    lines = [f"(threshold, foreign share) sweep from `{path}`, row `{row}`, {n['seen']} / {n['unseen']} trials seen / "
             "unseen; a first lift is kept when the Grasp2Vec reward scores it at least the threshold and its foreign "
             "share is at most the limit.", "",
             "| rule | threshold | foreign share at most | seen | unseen | pooled | target + another (trials) | "
             "lifts put back |", "|---|---|---|---|---|---|---|---|"]
    for name, r in (("keep every first lift", curve[0] | {"share": 1.0}), ("best without the gate", ungated),
                    ("**best**", best)):
        r = next(x for x in curve if x["threshold"] == r["threshold"] and x["share"] == r["share"])
        pooled = 100 * (r["seen"] + r["unseen"]) / (n["seen"] + n["unseen"])
        lines.append(f"| {name} | {r['threshold']:.4f} | {r['share']:.4f} | {pct('seen', r['seen'])} | "
                     f"{pct('unseen', r['unseen'])} | {pooled:.1f} % | {r['another']} | {r['put_back']} |")
    lines += ["", "Where the trials end (% of trials):", "",
              "| objects | rule | success | nothing lifted | wrong object | target + another |",
              "|---|---|---|---|---|---|"]
    for objects, pairs in cells.items():
        for name, r in (("best without the gate", ungated), ("best", best)):
            ends = at(pairs, r["threshold"], r["share"])
            lines.append(f"| {objects} | {name} | " + " | ".join(f"{100 * ends.count(k) / len(ends):.1f}" for k in ENDS)
                         + " |")
    text = "\n".join(lines) + "\n"
    Path(f"{prefix}.md").write_text(text)
    Path(f"{prefix}.json").write_text(json.dumps({"source": path, "row": row, "best": best, "best_ungated": ungated,
                                                  "trials": cells}, indent=1, default=float))
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, s in enumerate(sorted({0.5, 0.6, 0.7, 0.8, best["share"], 1.0})):
        near = min({r["share"] for r in curve}, key=lambda x, s=s: abs(x - s))
        line = [r for r in curve if r["share"] == near and np.isfinite(r["threshold"])]
        ax.plot([r["threshold"] for r in line], [100 * (r["seen"] + r["unseen"]) / sum(n.values()) for r in line],
                color=f"C{i}", lw=1.0, label=f"foreign share <= {near:.3f}")
    sweep25.save_figure(fig, ax, best["threshold"], "success, seen + unseen (%)",
                        "Putting a lift back: threshold and foreign-share gate, validation 0-199", prefix)
    print(text)


if __name__ == "__main__":
    main()
