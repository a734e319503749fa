"""Memory soak benchmark: a world's resident memory must stay flat over many episodes.

Runs each setting for ``--episodes`` episodes in this process (one environment at a time), samples
VmRSS every ``--sample-every`` episodes, writes ``bench_memory.json`` and ``bench_memory.png``
to ``--out`` and exits with status 1 if any setting grew by more than ``--threshold`` between the
warm-up episode and the end (the largest sample counts).

Settings: ``grasp-20`` is ``KukaGrasp-v0`` on the first 20 objects of the seen split; ``grasp-seen``
is ``KukaGrasp-v0`` on the whole seen split (900 objects), the object churn of
``KukaInstanceGrasp-v0`` without its goal bank; ``instance-seen`` is ``KukaInstanceGrasp-v0`` on the
seen split (slow: it grasps every new target alone once to make its goal image).

    python -m runs.bench_memory [--settings grasp-20 grasp-seen] [--episodes 1000] [--out runs/out/bench_memory]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from common.io import atomic_write_text
from common.provenance import code_version, command_line, machine_description
from envs.soak import SoakConfig, SoakResult, soak

SETTINGS = {
    "grasp-20": {"env_id": "KukaGrasp-v0", "objects": "seen", "object_limit": 20},
    "grasp-seen": {"env_id": "KukaGrasp-v0", "objects": "seen"},
    "instance-seen": {"env_id": "KukaInstanceGrasp-v0", "objects": "seen"},
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = SoakConfig()
    parser.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=["grasp-20", "grasp-seen"])
    parser.add_argument("--episodes", type=int, default=defaults.episodes)
    parser.add_argument("--sample-every", type=int, default=defaults.sample_every, help="episodes between samples")
    parser.add_argument("--warmup", type=int, default=defaults.warmup, help="episode whose RSS is the baseline")
    parser.add_argument("--num-objects", type=int, default=defaults.num_objects)
    parser.add_argument("--image-size", type=int, default=defaults.image_size, help="pixels")
    parser.add_argument("--max-steps", type=int, default=defaults.max_steps)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threshold", type=float, default=defaults.threshold, help="allowed growth, a fraction")
    parser.add_argument("--out", type=Path, default=Path("runs/out/bench_memory"))
    return parser


def plot(rows: dict[str, dict[str, Any]], threshold: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    for name, row in rows.items():
        line, = ax.plot(row["episodes"], row["rss_mib"], marker=".", label=f"{name} ({row['max_growth']:+.1%})")
        ax.axhline(row["start_rss_mib"] * (1 + threshold), color=line.get_color(), ls=":", lw=1)
    ax.axvline(next(iter(rows.values()))["config"]["warmup"], color="k", ls="--", lw=1, label="warm-up episode")
    ax.set_xlabel("episodes")
    ax.set_ylabel("resident memory (VmRSS), MiB")
    ax.set_title(f"one world per setting; dotted: +{threshold:.0%} over the warm-up sample", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summary(config: SoakConfig, result: SoakResult) -> dict[str, Any]:
    return {"config": dataclasses.asdict(config), "episodes": result.episodes, "rss_mib": result.rss_mib,
            "bodies": result.bodies, "start_rss_mib": result.start_rss_mib, "end_rss_mib": result.end_rss_mib,
            "end_growth": result.end_growth, "max_growth": result.max_growth, "wall_s": result.wall_s,
            "passed": result.max_growth <= config.threshold}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rows = {}
    for name in args.settings:
        config = SoakConfig(**SETTINGS[name], num_objects=args.num_objects, image_size=args.image_size,
                            max_steps=args.max_steps, episodes=args.episodes, sample_every=args.sample_every,
                            warmup=args.warmup, seed=args.seed, threshold=args.threshold)
        with tqdm(total=config.episodes, desc=name, unit="episode") as bar:
            result = soak(config, on_episode=lambda _: bar.update())
        rows[name] = summary(config, result)
        print(f"{name}: {result.start_rss_mib:.1f} MiB at episode {config.warmup} -> {result.end_rss_mib:.1f} MiB "
              f"at episode {result.episodes[-1]} (max growth {result.max_growth:+.1%}, {result.wall_s:.0f} s)")
    report = {"command": command_line("runs.bench_memory", argv), "seed": args.seed, "threshold": args.threshold,
              "machine": machine_description(), "code": code_version(), "settings": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "bench_memory.json", json.dumps(report, indent=1))
    plot(rows, args.threshold, args.out / "bench_memory.png")
    failed = [name for name, row in rows.items() if not row["passed"]]
    if failed:
        print(f"memory grew by more than {args.threshold:.0%} in: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
