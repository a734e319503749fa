"""Copy a trained policy into ``checkpoints/policies/NAME``: weights and cards only, with its provenance.

``python -m runs.ship_policy --run runs/out/policy/RUN --name qtopt-grasp2vec``

Copies from the run folder the files a policy needs to act (``checkpoint/``: safetensors, the
algorithm's JSON card and ``policy.json``) — not replay data, critics or optimizer state — plus the
run's ``config.json`` (exact training command, settings, machine), ``eval.json`` and ``curves.png``,
and writes a ``README.md`` that states them. The benchmark loads the result like any run folder.
SAC runs ship their exported actor (``sac_actor.*``, :func:`agents.sac.save_actor`), never SB3's zip;
a run from before the export existed has it made here from ``sac.zip`` (SB3's loader reads that zip).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agents.shipping import ship


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runs.ship_policy", description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a runs.train_policy --out folder")
    parser.add_argument("--name", required=True, help="folder name under --root (the benchmark row's name)")
    parser.add_argument("--root", type=Path, default=Path("checkpoints/policies"))
    args = parser.parse_args(argv)
    target = ship(args.run, args.name, args.root)
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    print(f"shipped {args.run} → {target} ({size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
