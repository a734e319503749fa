"""The fewest two-object endings any (threshold, foreign share) pair reaches in session 26's sweep (issue #14).

    PYTHONPATH=. python docs/results/val-s27/gate_floor.py > docs/results/val-s27/gate-floor.txt

Reads ``docs/results/val-s26/val-sweep.json`` (validation trials 0-199, a row that puts back every first lift) with
session 26's ``sweep_foreign.py``: for each count of "target with another" endings, the pair with the most successes.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("sweep26", HERE.parent / "val-s26" / "sweep_foreign.py")
sweep26 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sweep26)

part = json.loads((HERE.parent / "val-s26" / "val-sweep.json").read_text())
grid = sweep26.grid({objects: sweep26.trials(part, "regrasp-all-retry", objects) for objects in ("seen", "unseen")})
best: dict[int, dict] = {}
for point in grid:
    if point["another"] not in best or point["seen"] + point["unseen"] > best[point["another"]]["seen"] + \
            best[point["another"]]["unseen"]:
        best[point["another"]] = point
print("target with another (of 400) | successes (seen + unseen) | threshold | foreign share at most | lifts put back")
for another in sorted(best)[:8]:
    p = best[another]
    print(f"{another} | {p['seen']} + {p['unseen']} = {p['seen'] + p['unseen']} | {p['threshold']} | {p['share']} | "
          f"{p['put_back']}")
