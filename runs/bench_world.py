"""Speed and fidelity benchmark of the simulated world.

Speed: the same work as PyBullet's ``KukaDiverseObjectEnv`` benchmark — 5 objects, 64 px, and
per episode a reset, 7 random moves and a grasp attempt — in 1 and N processes.
Fidelity: the scripted policies run on identical scenes with the default physics and with
``PhysicsConfig.scaled(4)`` (4× the sub-steps per action, close and lift); a sound default
keeps the success rates close and its successes mostly successes in the slow setting too.

    python -m runs.bench_world [--episodes 100] [--workers 1 2] [--fidelity 200] [--out runs/out/bench_world]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import envs  # noqa: F401  (registers the environments)
from common.io import atomic_write_text
from common.provenance import code_version, command_line, machine
from envs.speed import HIFI_FACTOR, fidelity, speed


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=100, help="episodes per process")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--num-objects", type=int, default=5)
    parser.add_argument("--fidelity", type=int, default=0, help="scenes for the fidelity check (0: skip)")
    parser.add_argument("--out", type=Path, default=Path("runs/out/bench_world"))
    args = parser.parse_args(argv)
    result: dict = {"command": command_line("runs.bench_world", argv),
                    "machine": machine(), "code": code_version(), "speed": []}
    for workers in args.workers:
        row = speed(args.episodes, workers, args.image_size, args.num_objects)
        result["speed"].append(row)
        print(f"{workers} process(es): {row['episodes_per_s']:.2f} episodes/s wall "
              f"(load {row['load_average_1min']:.1f}); "
              f"per process, in CPU time: {row['cpu_episodes_per_s_per_process']:.2f} episodes/s, "
              f"{row['cpu_resets_per_s']:.1f} resets/s, {row['cpu_steps_per_s']:.1f} steps/s, "
              f"{row['cpu_ms_per_render']:.1f} ms/render")
    if args.fidelity:
        result["fidelity"] = fidelity(args.fidelity)
        for name, row in result["fidelity"].items():
            print(f"{name}: success {row['success_default']:.3f} default vs {row['success_scaled']:.3f} "
                  f"with {HIFI_FACTOR}x sub-steps; P(scaled success | default success) = "
                  f"{row['scaled_success_given_default_success']:.3f} over {row['trials']} scenes")
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "bench_world.json", json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
