"""A second decision among a product's best grasps: a logistic ranker over label-free features of each candidate.

A product of pose Q-functions (:class:`agents.qtopt.product.PoseQProduct`) scores its best grasps nearly alike
(thousandths of a log-probability apart), so which one CEM returns is close to chance. :class:`RankedProduct`
takes the product's best pose and its next best at least ``avoid_radius`` from the ones before
(:class:`envs.grasp_pose.Avoid`), ``k`` in all, and carries out the one a :class:`LogisticRanker` scores highest.
The ranker reads only what the robot has (:func:`candidate_features`): the members' logits, whether the
candidate is the product's first, the goal heat where the fingers meet and the height profile along the line
they close on, the wrist angle and the place in the bin. It is fitted on the robot's own grasps among such
candidates, labelled by the Grasp2Vec reward (no simulator truth; an any-object product's by the gripper's own
sensed bit): ``python -m runs.fit_ranker``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from agents.qtopt.learner import OBSERVATION_KEYS
from agents.qtopt.product import PoseQProduct
from common.io import atomic_write_json, check_sha256, read_json_card
from common.protocols import PolicyCard
from envs.grasp_pose import AVOID_RADIUS, Avoid, PoseChooser, PosePolicy, PoseSpace
from envs.heightmap import HEIGHT_UNIT, GridGeometry, HeightmapConfig

PROFILE_ALONG = np.linspace(-0.08, 0.08, 17)  # metres along the closing line, centred where the fingers meet
PROFILE_ACROSS = np.array([-0.02, 0.0, 0.02])  # metres across it
PROFILE_SCALE = 0.05  # metres: heights are read in units of 5 cm


def feature_count(members: int) -> int:
    """Features per candidate for a product of ``members``: their logits, is-first, heat, two 17-point profiles,
    sin and cos of twice the yaw, x and y."""
    return members + 1 + 1 + 2 * len(PROFILE_ALONG) + 4


def closing_lines(candidates: np.ndarray, space: PoseSpace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each candidate's fingers meet (K, 2) in metres, the unit direction they close along (K, 2) and the unit
    direction across it (K, 2), for normalised poses (K, 3)."""
    candidates = np.asarray(candidates)
    fingers = space.finger_points(torch.as_tensor(candidates, dtype=torch.float64)).numpy()
    closing = np.array([[-np.cos(yaw), np.sin(yaw)] for yaw in candidates[:, 2] * np.pi / 2]).reshape(-1, 2)
    return fingers, closing, np.stack([closing[:, 1], -closing[:, 0]], -1)


def candidate_features(heightmap: np.ndarray, heatmap: np.ndarray | None, candidates: np.ndarray, logits: np.ndarray,
                       space: PoseSpace, geometry: GridGeometry) -> np.ndarray:
    """Label-free features (K, F) of a bin's candidate poses.

    Args:
        heightmap: the scan, (Hm, Wm, 4) uint8 (:meth:`envs.heightmap.Heightmap.encode`: millimetres, then colour).
        heatmap: the goal heatmap, (H, W, 1) uint8 over the pose space's box; None for any-object grasping (its
            heat reads 0).
        candidates: normalised poses (K, 3), the product's first first.
        logits: each member's logit of each candidate, (members, K).
        space: where poses lie; geometry: the scan's grid.

    Returns:
        float32 (K, :func:`feature_count`): the members' logits, whether it is the first, the goal heat where the
        fingers meet, the height profile along the closing line (the highest across ±2 cm, then the centre line,
        in units of 5 cm), sin and cos of twice the yaw, x and y (normalised).
    """
    heights = heightmap[..., 0] * HEIGHT_UNIT
    heat = np.zeros((1, 1)) if heatmap is None else heatmap[..., 0] / 255.0
    fingers, closing, side = closing_lines(candidates, space)
    pixels = np.clip(((space.project(torch.as_tensor(fingers)).numpy() + 1) / 2 * heat.shape[0]).astype(int), 0,
                     heat.shape[0] - 1)
    rows = []
    for k, candidate in enumerate(np.asarray(candidates)):
        yaw = candidate[2] * np.pi / 2
        points = fingers[k] + PROFILE_ALONG[:, None, None] * closing[k] + PROFILE_ACROSS[None, :, None] * side[k]
        r = np.clip(np.round((points[..., 1] - geometry.origin[1]) / geometry.resolution).astype(int), 0,
                    geometry.shape[0] - 1)
        c = np.clip(np.round((points[..., 0] - geometry.origin[0]) / geometry.resolution).astype(int), 0,
                    geometry.shape[1] - 1)
        profile = heights[r, c] / PROFILE_SCALE
        rows.append([*np.asarray(logits)[:, k], float(k == 0), heat[pixels[k, 1], pixels[k, 0]],
                     *profile.max(1), *profile[:, 1], np.sin(2 * yaw), np.cos(2 * yaw), candidate[0], candidate[1]])
    return np.asarray(rows, np.float32)


@dataclass(frozen=True)
class LogisticRanker:
    """L2-regularised logistic regression on standardised candidate features: logit = ((x - mean) / std) · w + b."""

    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    bias: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, l2: float = 0.1) -> LogisticRanker:
        """Fit on features (N, K, F) and labels (N, K) in {0, 1} (L-BFGS, 400 iterations).

        Raises:
            ValueError: shapes that do not match, or labels that are all one value.
        """
        if x.ndim != 3 or y.shape != x.shape[:2]:
            raise ValueError(f"features must be (N, K, F) and labels (N, K), got {x.shape} and {y.shape}")
        if len(np.unique(y)) < 2:
            raise ValueError("the labels are all one value: a ranker needs both rewarded and unrewarded grasps")
        mean, std = x.reshape(-1, x.shape[-1]).mean(0), x.reshape(-1, x.shape[-1]).std(0) + 1e-6
        inputs, targets = torch.as_tensor((x - mean) / std), torch.as_tensor(y, dtype=torch.float32)
        w = torch.zeros(x.shape[-1], requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.LBFGS([w, b], max_iter=400)

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(inputs @ w + b, targets) + l2 * (w ** 2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        return cls(mean, std, w.detach().numpy(), b.detach().numpy())

    @property
    def features(self) -> int:
        return int(self.weights.shape[0])

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Logits (..., K) of candidates' features (..., K, F)."""
        if x.shape[-1] != self.features:
            raise ValueError(f"the ranker reads {self.features} features per candidate, got {x.shape[-1]}")
        return ((x - self.mean) / self.std) @ self.weights + self.bias

    def save(self, path: str | Path) -> None:
        """Write the four arrays to ``path`` (safetensors)."""
        save_file({k: np.ascontiguousarray(v) for k, v in self.__dict__.items()}, str(path))

    @classmethod
    def load(cls, path: str | Path) -> LogisticRanker:
        """Read a :meth:`save`'d ranker (no unpickling). Raises ``ValueError`` when arrays are missing."""
        arrays = load_file(str(path))
        missing = [k for k in ("mean", "std", "weights", "bias") if k not in arrays]
        if missing:
            raise ValueError(f"{path} is not a ranker: no {', '.join(missing)}")
        return cls(arrays["mean"], arrays["std"], arrays["weights"], arrays["bias"])


def held_out_scores(x: np.ndarray, labels: np.ndarray, l2: float = 0.1, folds: int = 5) -> np.ndarray:
    """Scores (N, K) of every bin's candidates by a ranker fitted on the other folds of bins (features (N, K, F),
    labels (N, K)); the folds are a fixed permutation of the bins (seed 0), cut into ``min(folds, N)`` parts.

    Raises:
        ValueError: a training fold's labels are all one value (:meth:`LogisticRanker.fit`).
    """
    order = np.random.default_rng(0).permutation(len(x))
    scores = np.zeros(labels.shape)
    for fold in np.array_split(order, min(folds, len(x))):
        train = np.setdiff1d(order, fold)
        scores[fold] = LogisticRanker.fit(x[train], labels[train], l2).scores(x[fold])
    return scores


@dataclass(frozen=True)
class RankingConfig:
    """How many of the product's best grasps are ranked, and how far apart they must lie.

    Attributes:
        candidates: grasps ranked per episode (the product's best, then its next best away from those before).
        avoid_radius: metres between candidates' grasp points (at any yaw; :class:`envs.grasp_pose.Avoid`).
    """

    candidates: int = 4
    avoid_radius: float = AVOID_RADIUS

    def __post_init__(self) -> None:
        if self.candidates < 1 or not self.avoid_radius >= 0:
            raise ValueError(f"invalid ranking {self}: at least 1 candidate and avoid_radius >= 0")


def product_candidates(product: PoseQProduct, observation: dict[str, Any], config: RankingConfig,
                       given_up: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The product's best pose and its next best at least ``config.avoid_radius`` from the ones before and from the
    normalised poses ``given_up`` (K', 3) (grasps already tried this episode): (poses (K, 3) normalised, the
    product's score of each (K,), each member's logit of each (members, K))."""
    batch = {key: np.asarray(v)[None] for key, v in observation.items() if key in OBSERVATION_KEYS}
    features = product.feature_maps(batch)  # one pass of each member's network serves all the searches
    candidates: list[np.ndarray] = []
    scores: list[float] = []
    tried = [] if given_up is None else list(np.asarray(given_up, np.float64).reshape(-1, 3))
    for _ in range(config.candidates):
        avoid = Avoid(np.stack(tried + candidates), config.avoid_radius) if tried or candidates else None
        best, score = product.best_poses(batch, avoid, features)
        candidates.append(best[0].numpy().astype(np.float64))
        scores.append(float(score[0]))
    with torch.no_grad():
        poses = torch.as_tensor(np.stack(candidates), dtype=torch.float32)[None]
        logits = [m.candidate_scores(f, poses)[0].numpy() for m, f in zip(product.members, features, strict=True)]
    return np.stack(candidates), np.asarray(scores), np.stack(logits)


def scan_geometry(product: PoseQProduct) -> GridGeometry:
    """The grid of the height map the product's members read (the default scan when none reads one)."""
    reader = next((m for m in product.members if m.config.view == "patch"), None)
    return reader.q.geometry if reader is not None else GridGeometry.of(product.members[0].world.layout,
                                                                        HeightmapConfig())


class RankedProduct(PoseChooser):
    """A :class:`common.protocols.Policy`: the product's ``k`` best grasps, the ranker's best carried out.

    Args:
        product: the product whose candidates are ranked (it needs the ``heightmap`` observation, and reads the
            goal's ``heatmap`` when there is one: any-object products have none).
        ranker: a ranker fitted on this product's members (its feature count must match).
        config: how many candidates, how far apart.

    Raises:
        ValueError: the ranker reads another number of features than this product gives.
    """

    def __init__(self, product: PoseQProduct, ranker: LogisticRanker, config: RankingConfig) -> None:
        expected = feature_count(len(product.members))
        if ranker.features != expected:
            raise ValueError(f"the ranker reads {ranker.features} features, a product of {len(product.members)} "
                             f"members gives {expected}: it was fitted on another product")
        self.product, self.ranker, self.config = product, ranker, config
        self.space = product.policy.space
        self.geometry = scan_geometry(product)
        self.policy = PosePolicy(self.choose, product.members[0].world, product.config.approach)
        self.report: dict[str, Any] = {}

    def choose(self, observation: dict[str, np.ndarray], given_up: np.ndarray | None = None) -> np.ndarray:
        """The normalised pose (3,) of the highest-ranked candidate, none within ``config.avoid_radius`` of the
        normalised poses ``given_up`` (K, 3).

        Raises:
            KeyError: the observation lacks ``heightmap`` (``heatmap``, the goal's, is read when there is one).
        """
        if "heightmap" not in observation:
            raise KeyError("a ranked product reads observation key 'heightmap' (its members' cards ask the "
                           "environment for it)")
        heatmap = observation.get("heatmap")
        candidates, _, logits = product_candidates(self.product, observation, self.config, given_up)
        x = candidate_features(np.asarray(observation["heightmap"]), None if heatmap is None else np.asarray(heatmap),
                               candidates, logits, self.space, self.geometry)
        scores = self.ranker.scores(x)
        chosen = int(scores.argmax())
        self.report = {"scores": np.round(scores, 4).tolist(), "chosen": chosen}
        return candidates[chosen]

    def trial_report(self) -> dict[str, Any]:
        """The ranker's scores of the episode's candidates and which was carried out."""
        return dict(self.report)


RANKED_META = "ranked.json"  # the card of a ranked-product checkpoint folder
RANKER_FILE = "ranker.safetensors"
BASE_FOLDER = "base"  # the product's checkpoint, copied
RANKED_ALGO = "qtopt-ranked"


def save_ranked_meta(folder: Path, config: RankingConfig, meta: dict[str, Any]) -> None:
    """Write the folder's card: the ranking settings and what the caller records (sources, hashes, command)."""
    atomic_write_json(folder / RANKED_META, {"candidates": config.candidates, "avoid_radius": config.avoid_radius,
                                             **meta})


def load_product(folder: str | Path) -> tuple[PoseQProduct, PolicyCard]:
    """A product checkpoint and its card; ``ValueError`` naming the folder when it holds another kind of policy."""
    from agents.loading import load_policy

    policy, card = load_policy(folder)
    if not isinstance(policy, PoseQProduct):
        raise ValueError(f"{folder} holds a {card.algo} policy; a ranker ranks a product's candidates "
                         "(runs.combine_policies makes one)")
    return policy, card


def load_ranked(directory: str | Path) -> RankedProduct:
    """Rebuild from a checkpoint folder: its product from ``directory/base``, its ranker; nothing is unpickled.

    Raises:
        FileNotFoundError: the card, the product or the ranker is missing.
        ValueError: the card is malformed, ``base`` is not a product, or the ranker's weights are not the ones the
            card recorded.
    """
    directory = Path(directory)
    meta = read_json_card(directory / RANKED_META, "ranked-product policy")
    try:
        config = RankingConfig(int(meta["candidates"]), float(meta["avoid_radius"]))
        sha = meta["ranker_sha256"]
    except (KeyError, TypeError) as error:
        raise ValueError(f"{directory / RANKED_META}: not a ranked-product card ({error!r})") from None
    check_sha256(directory / RANKER_FILE, sha, directory / RANKED_META)
    product, _ = load_product(directory / BASE_FOLDER)
    return RankedProduct(product, LogisticRanker.load(directory / RANKER_FILE), config)
