"""Session 24 probe: would a ranker that knew the scene's geometry exactly do better? Simulator features of each
candidate grasp, which no policy may read, beside the shipped ranker's: a ceiling for what any view of the scene
could tell the ranker. Offline on the 3,000 collected bins (each reset again from its seed).

For each candidate, a close top-down render (closeup.py's camera, with PyBullet's segmentation) gives every surface
point's object; in the grasp's frame (u along the closing direction from where the fingers meet, v across it) the
features are: how many objects, and how much of the target, lie in the fingers' sweep (|u| under half the open
aperture, |v| under 1 cm); the target's extent along u there and its centre's offset in u and v; the highest point
of the target and of any other object in the sweep; the distance from the fingers' meeting point to the target; and
the target's size (its bounding box) and mass.

    PYTHONPATH=. python docs/results/val-s24/privileged.py render runs/out/ranker/block8 runs/out/s24/priv-block8.npz
    # and blocks 9, 32, 33 (two at a time, about 5 minutes in all)
    PYTHONPATH=. python docs/results/val-s24/privileged.py fit docs/results/val-s24/privileged-cv.json \\
        runs/out/ranker/block8:runs/out/s24/priv-block8.npz ...        # privileged-cv.txt
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from closeup import PRODUCT, close_camera

from agents.qtopt.ranking import candidate_features, closing_lines, held_out_scores, load_product, scan_geometry
from agents.ranker_data import CANDIDATES_FILE, candidate_env, read_candidates, reward_labels
from rewards.registry import make_reward

SWEEP_ACROSS = 0.01  # m either side of the closing line the fingers sweep
NAMES = ("objects in sweep", "target points in sweep", "other points in sweep", "target extent along closing",
         "target offset along closing", "target offset across", "target top in sweep", "others' top in sweep",
         "distance to target", "target size x", "target size y", "target size z", "target mass")


def surface_points(env: object, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (N, 3), heights above the tray floor, and their body ids (N,) seen by closeup.py's camera over
    ``point``."""
    points, _, bodies = close_camera(env, point).surface_points(segmentation=True)
    points[:, 2] -= env.unwrapped.world.config.layout.tray_floor_z
    return points, bodies & ((1 << 24) - 1)


def grasp_features(points: np.ndarray, ids: np.ndarray, fingers: np.ndarray, closing: np.ndarray,
                   side: np.ndarray, target: int, half_open: float, size: np.ndarray, mass: float,
                   objects: set[int]) -> np.ndarray:
    rel = points[:, :2] - fingers
    u, v = rel @ closing, rel @ side
    sweep = (np.abs(u) < half_open) & (np.abs(v) < SWEEP_ACROSS)
    is_object = np.isin(ids, list(objects))
    in_target, in_other = sweep & (ids == target), sweep & is_object & (ids != target)
    present = [b for b in objects if (sweep & (ids == b)).sum() >= 5]
    on_target = ids == target
    extent = float(np.ptp(u[in_target])) if in_target.any() else 0.0
    du = float(u[in_target].mean()) if in_target.any() else half_open
    dv = float(v[on_target].mean()) if on_target.any() else 0.05
    distance = float(np.hypot(u[on_target], v[on_target]).min()) if on_target.any() else 0.1
    return np.array([len(present), in_target.mean() * 100, in_other.mean() * 100, extent / 0.05, du / 0.05,
                     dv / 0.05, points[in_target, 2].max() / 0.05 if in_target.any() else 0.0,
                     points[in_other, 2].max() / 0.05 if in_other.any() else 0.0, distance / 0.05,
                     *(size / 0.05), mass], np.float32)


def render(folder: str, out: str) -> None:
    product, card = load_product(PRODUCT)
    settings = json.loads((Path(folder) / CANDIDATES_FILE).read_text())["settings"]
    env = candidate_env(card, settings["objects"], settings["goal_seed"])
    space, features, start = product.policy.space, [], time.time()
    for n, (row, _) in enumerate(read_candidates([folder])):
        if n % settings["policy_every"] == 0:
            env.unwrapped.world.rebuild()
        _, info = env.reset(seed=row["seed"])
        world, target = env.unwrapped.world, int(info["ground_truth"]["target_id"])
        client = world.client
        half_open = world.arm.fingertip_distance() / 2
        low, high = client.getAABB(target)
        size, mass = np.subtract(high, low), float(client.getDynamicsInfo(target, -1)[0])
        fingers, closing, side = closing_lines(np.asarray(row["candidates"]), space)
        bin_features = []
        for k in range(len(fingers)):
            points, ids = surface_points(env, fingers[k])
            bin_features.append(grasp_features(points, ids, fingers[k], closing[k], side[k], target, half_open, size,
                                               mass, set(world.objects)))
        features.append(np.stack(bin_features))
        if n % 200 == 0:
            print(f"{folder}: bin {n}, {time.time() - start:.0f} s", flush=True)
    env.close()
    np.savez_compressed(out, features=np.stack(features))


def fit(out: str, pairs: list[str]) -> None:
    """5-fold cross-validation (permutation seed 0, as closeup.py) of the logistic ranker on its own features, on
    the privileged ones alone, and on both; and of a small MLP on both."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "val-s23"))
    from patchnet import fit_scores

    product, _ = load_product(PRODUCT)
    space, geometry = product.policy.space, scan_geometry(product)
    reward = make_reward("grasp2vec", thresholded=True)
    x, z, y, success = [], [], [], []
    for pair in pairs:
        folder, privileged = pair.split(":")
        extra = np.load(privileged)["features"]
        for n, (row, arrays) in enumerate(read_candidates([folder])):
            x.append(candidate_features(arrays["heightmap"], arrays["heatmap"], np.asarray(row["candidates"]),
                                        np.asarray(row["logits"]), space, geometry))
            z.append(extra[n])
            y.append(reward_labels(arrays["goal"], arrays["outcome_images"], reward))
            success.append([o["success"] for o in row["outcomes"]])
    x, z, y = np.stack(x), np.stack(z).astype(np.float32), np.asarray(y, np.float32)
    success = np.asarray(success, np.float32)
    z = (z - z.reshape(-1, z.shape[-1]).mean(0)) / (z.reshape(-1, z.shape[-1]).std(0) + 1e-6)
    both = np.concatenate([x, z], -1)
    rows = np.arange(len(x))
    torch.set_num_threads(2)
    folds = np.array_split(np.random.default_rng(0).permutation(len(x)), 5)
    mlp = np.zeros(len(x), int)
    for i, held in enumerate(folds):
        train = np.concatenate([f for j, f in enumerate(folds) if j != i])
        empty = np.zeros((*x.shape[:2], 4, 8, 8), np.float32)
        mlp[held] = fit_scores(both, empty, y, train, held, 30, use_patch=False).argmax(1)
    result = {"bins": len(x), "first": float(success[:, 0].mean()), "hindsight": float(success.max(1).mean()),
              "features": list(NAMES), "pairs": pairs}
    for name, features in (("shipped features", x), ("privileged alone", z), ("shipped + privileged", both)):
        for label, target in (("reward", y), ("simulator success", success)):
            picks = held_out_scores(features, target, 0.1, 5).argmax(1)
            result[f"logistic, {name}, {label} labels"] = float(success[rows, picks].mean())
    result["MLP, shipped + privileged, reward labels"] = float(success[rows, mlp].mean())
    for key, value in result.items():
        if isinstance(value, float):
            print(f"{key}: {value:.3f}")
    Path(out).write_text(json.dumps({**result, "command": " ".join(sys.argv)}, indent=1))


if __name__ == "__main__":
    if sys.argv[1] == "render":
        render(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "fit":
        fit(sys.argv[2], sys.argv[3:])
