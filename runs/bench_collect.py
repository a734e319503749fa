"""Benchmark collection throughput: grasp attempts per hour, local processes and local Ray.

    python -m runs.bench_collect --grasps 400 --out runs/out/bench_collect
    python -m runs.bench_collect --heightmap --max-steps 12 --settings --profile 200 --out runs/out/bench_collect_hm

Collects ``--grasps`` attempts (default config: seen objects, 5 per bin, 64 px) with 1 and 2
worker processes and with 1 and 2 actors on a local Ray instance, each into a fresh dataset. For
every setting it reports the wall-clock rate (start-up included), the steady rate (first to last
episode) and the workers' CPU seconds per attempt, which does not depend on what else the machine
runs. Writes ``bench.json`` and ``bench.png`` into ``--out``; the load average is recorded because
other jobs sharing the cores slow the wall-clock rates.

``--profile N`` also times N attempts in this process by phase (:mod:`graspdata.profile`: settle, approach,
close-and-lift and hold physics, scene / wrist / height-map renders, the rest) into ``profile.json`` and
``profile.png``, with the attempts per hour the physics alone allows; ``--settings`` with no value skips the
throughput runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Any

from agents.collection import policy_factory
from common.io import atomic_write_text
from common.provenance import code_version, command_line, machine, now
from graspdata.collect import collect
from graspdata.config import CollectConfig
from graspdata.profile import plot_profile, profile_collection

SETTINGS = (("processes", 1), ("processes", 2), ("ray", 1), ("ray", 2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grasps", type=int, default=400, help="attempts per setting")
    parser.add_argument("--shard-size", type=int, default=50, help="attempts per shard")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/out/bench_collect"))
    parser.add_argument("--settings", nargs="*", default=[f"{b}:{w}" for b, w in SETTINGS],
                        help="backend:workers pairs, backend 'processes' or 'ray' (none: only --profile)")
    parser.add_argument("--heightmap", action="store_true", help="record the height map too (the patch policies' "
                        "observation)")
    parser.add_argument("--max-steps", type=int, default=CollectConfig().max_steps, help="actions per episode")
    parser.add_argument("--policy", default="random",
                        help="random, package.module:factory(env, seed), or a saved policy folder")
    parser.add_argument("--scene-each-step", action="store_true", help="render the scene image at every step")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also time N attempts by phase in this process (0: no profile)")
    return parser


def collect_config(args: argparse.Namespace, **fields: Any) -> CollectConfig:
    """The benchmarked collection settings (seen objects, the default bin)."""
    return CollectConfig(shard_size=args.shard_size, image_size=args.image_size, seed=args.seed,
                         heightmap=args.heightmap, max_steps=args.max_steps, policy=args.policy,
                         scene_each_step=args.scene_each_step, **fields)


def run_setting(backend: str, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    folder = args.out / f"data-{backend}-{workers}"
    shutil.rmtree(folder, ignore_errors=True)
    config = collect_config(args, grasps=args.grasps, workers=workers)
    load_before = os.getloadavg()
    result = collect(config, folder, ray_address="local" if backend == "ray" else None, show_progress=False,
                     make_policy=policy_factory(config.policy))
    shutil.rmtree(folder)
    cpu_per_attempt = result.worker_cpu_s / max(result.new_attempts, 1)
    return {"backend": backend, "workers": workers, "attempts": result.new_attempts, "successes": result.successes,
            "wall_s": round(result.wall_s, 2), "attempts_per_hour": round(result.attempts_per_hour),
            "steady_attempts_per_hour": round(result.steady_attempts_per_hour),
            "worker_cpu_s_per_attempt": round(cpu_per_attempt, 4),
            "cpu_bound_attempts_per_hour": round(3600.0 * workers / cpu_per_attempt) if cpu_per_attempt else None,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()]}


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = [f"{r['backend']}\n{r['workers']} worker{'s' if r['workers'] > 1 else ''}" for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.bar(x - 0.27, [r["attempts_per_hour"] for r in rows], 0.27, label="wall clock (start-up included)")
    ax.bar(x, [r["steady_attempts_per_hour"] for r in rows], 0.27, label="steady (first to last episode)")
    ax.bar(x + 0.27, [r["cpu_bound_attempts_per_hour"] or 0 for r in rows], 0.27, label="CPU-bound (idle cores)")
    ax.axhline(30_000, color="k", ls="--", lw=1, label="target 30k/h on 2 cores")
    ax.set_xticks(x, labels)
    ax.set_ylabel("grasp attempts / hour")
    loads = [r["load_average_before"][0] for r in rows]
    ax.set_title(f"{os.cpu_count()} CPU cores; 1-min load average before each run {min(loads):.1f}-{max(loads):.1f}",
                 fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows, started = [], now()
    for setting in args.settings:
        backend, _, workers = setting.partition(":")
        if backend not in ("processes", "ray") or not workers.isdigit():
            raise SystemExit(f"bench_collect: bad setting {setting!r}; expected processes:N or ray:N")
        rows.append(run_setting(backend, int(workers), args))
        print(json.dumps(rows[-1]), flush=True)
    result = {"started": started, "finished": now(), "machine": machine(), "code_version": code_version(),
              "command": command_line("runs.bench_collect", argv),
              "config": {"grasps": args.grasps, "shard_size": args.shard_size, "image_size": args.image_size,
                         "seed": args.seed, "objects": "seen", "num_objects": CollectConfig().num_objects,
                         "heightmap": args.heightmap, "max_steps": args.max_steps, "policy": args.policy,
                         "scene_each_step": args.scene_each_step},
              "results": rows}
    if rows:
        atomic_write_text(args.out / "bench.json", json.dumps(result, indent=2) + "\n")
        plot(rows, args.out / "bench.png")
        print(f"wrote {args.out / 'bench.json'} and {args.out / 'bench.png'}")
    if args.profile:
        profile = profile_collection(collect_config(args), args.profile, policy_factory(args.policy))
        result["profile"] = profile.to_dict()
        atomic_write_text(args.out / "profile.json", json.dumps({k: v for k, v in result.items() if k != "results"},
                                                                indent=2) + "\n")
        plot_profile(profile, args.out / "profile.png")
        print(json.dumps(result["profile"], indent=1))
        print(f"wrote {args.out / 'profile.json'} and {args.out / 'profile.png'}")
    return result


if __name__ == "__main__":
    main()
