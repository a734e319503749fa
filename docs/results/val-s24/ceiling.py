"""Session 24 check of session 22's ceiling: is "the candidate with the best mean over its 7 executions, 85.9 %"
a winner's curse (chosen and scored on the same executions)? Chosen on some executions, scored on another.

    python docs/results/val-s24/ceiling.py docs/results/val-s22/perturb-block8-seen.json \\
        docs/results/val-s22/perturb-block9-seen.json > docs/results/val-s24/ceiling.txt
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

outcomes = np.stack([np.asarray(row["outcomes"], float) for path in sys.argv[1:]
                     for row in json.loads(Path(path).read_text())["bins"]])  # (bins, 4 candidates, 7 executions)
bins, _, executions = outcomes.shape
rows = np.arange(bins)
print(f"{bins} bins; execution 0 is each candidate as chosen, 1-6 are offsets of 2 mm or 2 degrees")
print(f"the product's first, as chosen: {outcomes[:, 0, 0].mean():.3f}")
print(f"best mean over all 7, scored on the same 7 (session 22): {outcomes.mean(2).max(1).mean():.3f}")
held = [outcomes[rows, np.delete(outcomes, j, axis=2).mean(2).argmax(1), j].mean() for j in range(executions)]
print(f"best mean over 6, scored on the 7th (leave one out, mean over the 7): {np.mean(held):.3f}")
by_offsets = outcomes[:, :, 1:].mean(2).argmax(1)
print(f"best mean over the 6 offsets, scored as chosen: {outcomes[rows, by_offsets, 0].mean():.3f}")
