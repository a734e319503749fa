"""QT-Opt over grasp poses: one decision per episode, chosen by the cross-entropy method.

The action is *where to grasp* — a normalised pose ``u = (x, y, yaw)`` in [-1, 1]^3
(:class:`envs.grasp_pose.PoseSpace`) — chosen from the episode's first observation by
maximising Q(s, g, u) with CEM; :class:`envs.grasp_pose.PoseFollower` then carries it out with
the environment's motor actions. With one decision per episode the Bellman target is the reward
itself (no bootstrapping, so no target networks): Q is trained with binary cross-entropy towards
the reward in [0, 1], the probability that grasping there earns it. Exploration: with probability
``epsilon`` a uniformly random pose, otherwise the CEM pose plus Gaussian noise of ``noise``.

Two views of the scene (``PoseQTOptConfig.view``): ``scene`` reads the scene camera image through
:class:`agents.qtopt.network.PoseQNetwork`; ``patch`` reads a grasp-aligned patch of the top-down height
map per candidate through :class:`agents.qtopt.patch_network.PatchQNetwork`.

Observation keys read: ``image`` (H, W, 3) uint8 (scene view), ``heightmap`` (Hm, Wm, 4) uint8 (patch view,
:class:`envs.heightmap_observation.HeightmapObservation`) and, for goal tasks, ``heatmap`` (H, W, 1) uint8
(:class:`agents.core.goal_features.GoalObservationWrapper`); ``gripper`` (5,) is read by the follower.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from safetensors.torch import load_file, save

from agents.core.cem import CEMConfig, SeededSearch, cem_maximize
from agents.qtopt.network import PoseMaps, PoseNetworkConfig, PoseQNetwork
from agents.qtopt.patch_network import SYMMETRIES, PatchNetworkConfig, PatchQNetwork
from common.io import atomic_write_bytes, atomic_write_text
from envs.config import ArmConfig, CameraConfig, LayoutConfig, WorldConfig
from envs.grasp_pose import ApproachConfig, Avoid, PoseChooser, PosePolicy, PoseSpace, avoiding
from envs.heightmap import GridGeometry, HeightmapConfig, decode_heightmaps
from envs.heightmap_observation import HEIGHTMAP_KEY

WEIGHTS, META, OPTIMIZER = "pose_qtopt.safetensors", "pose_qtopt.json", "pose_optimizer.pt"
OBSERVATION_KEYS = ("image", "heatmap", HEIGHTMAP_KEY)  # what a pose Q-network may read (by view and task)


@dataclass(frozen=True)
class PoseQTOptConfig:
    """Learner settings (defaults: the ones the shipped checkpoints were trained with)."""

    network: PoseNetworkConfig = field(default_factory=PoseNetworkConfig)
    cem: CEMConfig = field(default_factory=lambda: CEMConfig(iterations=3, population=128, elites=8))
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 64
    epsilon: float = 0.2  # share of exploration episodes grasping at a uniformly random pose
    noise: float = 0.1  # std of the Gaussian noise added to the CEM pose otherwise (normalised units)
    # Goal tasks: the first CEM round is the population's best by heatmap value among this many
    # times as many uniform draws (0: uniform, as QT-Opt); Q still ranks every round.
    heatmap_proposals: int = 0
    # Robust scoring (cf. Dex-Net's grasp robustness): CEM ranks a pose by the mean success probability
    # of the pose and its neighbours robust_translation metres away along x and y and robust_yaw
    # radians away in wrist yaw, so it prefers grasps that still work when carried out a little off.
    # 0 and 0: the pose alone, as trained and as the shipped checkpoints were chosen.
    robust_translation: float = 0.0
    robust_yaw: float = 0.0
    # What the Q-network sees: "scene" (the scene image, `network`) or "patch" (a grasp-aligned patch of the
    # top-down height map per candidate, `patch`, on the grid `heightmap` describes).
    view: str = "scene"
    patch: PatchNetworkConfig = field(default_factory=PatchNetworkConfig)
    heightmap: HeightmapConfig = field(default_factory=HeightmapConfig)
    # Patch view: train on each sample's patch under a random one of the grasp's symmetries
    # (agents.qtopt.patch_network.symmetric_patches), and, an acting setting, let CEM rank a pose by the mean
    # logit over all of them. False and False: as the shipped checkpoints before session 12.
    augment_symmetries: bool = False
    symmetric_scoring: bool = False
    # An acting setting: how the follower carries the chosen pose out (envs.grasp_pose.ApproachConfig); the
    # default descends while turning, as every collector and shipped checkpoint did.
    approach: ApproachConfig = field(default_factory=ApproachConfig)

    def __post_init__(self) -> None:
        if self.robust_translation < 0 or self.robust_yaw < 0:
            raise ValueError(f"robust_translation and robust_yaw must be >= 0, got {self.robust_translation}, "
                             f"{self.robust_yaw}")
        if self.view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {self.view!r}")
        if self.view == "patch" and self.heatmap_proposals:
            raise ValueError("heatmap_proposals reads the scene-image heatmap: it needs view 'scene'")
        if self.view != "patch" and (self.augment_symmetries or self.symmetric_scoring):
            raise ValueError("augment_symmetries and symmetric_scoring transform height-map patches: they need "
                             "view 'patch'")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PoseQTOptConfig:
        """Inverse of ``dataclasses.asdict`` (cards written before the patch view get its defaults)."""
        data = dict(data)
        network = data.pop("network")
        network = PoseNetworkConfig(**{**network, "channels": tuple(network["channels"])})
        patch = data.pop("patch", None)
        patch = PatchNetworkConfig(**{**patch, "channels": tuple(patch["channels"])}) if patch else PatchNetworkConfig()
        heightmap = HeightmapConfig(**data.pop("heightmap", {}))
        approach = ApproachConfig.from_dict(data.pop("approach", {}))
        return cls(network=network, cem=CEMConfig(**data.pop("cem")), patch=patch, heightmap=heightmap,
                   approach=approach, **data)


VIEWS = ("scene", "patch")


def _world_to_dict(world: WorldConfig) -> dict[str, Any]:
    return {"layout": dataclasses.asdict(world.layout), "camera": dataclasses.asdict(world.camera),
            "arm": dataclasses.asdict(world.arm)}


def _world_from_dict(data: dict[str, Any]) -> WorldConfig:
    def build(cls: type, values: dict[str, Any]) -> Any:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    return WorldConfig(layout=build(LayoutConfig, data["layout"]), camera=build(CameraConfig, data["camera"]),
                       arm=build(ArmConfig, data["arm"]))


def network_input(images: np.ndarray | torch.Tensor, heatmaps: np.ndarray | torch.Tensor | None) -> torch.Tensor:
    """uint8 images (B, H, W, 3) [+ heatmaps (B, H, W, 1)] → float (B, C, H, W) in [0, 1]."""
    x = torch.as_tensor(np.ascontiguousarray(images))
    if heatmaps is not None:
        x = torch.cat([x, torch.as_tensor(np.ascontiguousarray(heatmaps))], dim=-1)
    return x.permute(0, 3, 1, 2).float() / 255.0


class PoseQTOpt(SeededSearch, PoseChooser):
    """The learner and, through :meth:`reset` / :meth:`act`, an :class:`common.protocols.Policy`.

    Args:
        goal_task: whether the observation carries a ``heatmap`` (goal-conditioned grasping).
        world: the world the poses live in (layout bounds, scene camera, arm speed limits).
        config: learner settings.
        seed: seeds the network initialisation, CEM and exploration.
    """

    def __init__(self, goal_task: bool, world: WorldConfig | None = None,
                 config: PoseQTOptConfig = PoseQTOptConfig(), seed: int = 0) -> None:
        torch.manual_seed(seed)
        world = world or WorldConfig()
        self.goal_task, self.world, self.config = goal_task, world, config
        self.space = PoseSpace(world)
        self.q: PoseQNetwork | PatchQNetwork
        if config.view == "patch":
            geometry = GridGeometry.of(world.layout, config.heightmap)
            self.q = PatchQNetwork(goal_task, geometry, config.patch)
            centres = torch.as_tensor(geometry.cell_centres(), dtype=torch.float32)
            self._heat_on_grid = self.space.project(centres)[None]  # (1, Hm, Wm, 2): where each cell lies in the image
        else:
            self.q = PoseQNetwork(4 if goal_task else 3, config.network)
        self.optimizer = torch.optim.AdamW(self.q.parameters(), lr=config.learning_rate,
                                           weight_decay=config.weight_decay)
        self.init_streams(seed)
        self.updates = 0
        self.exploring = False
        self.policy = PosePolicy(self.choose, world, config.approach)
        self._offsets = self.robust_offsets()  # fixed by the config: computed once, read by every CEM round

    # ------------------------------------------------------------------------------------ acting
    def inputs(self, observations: dict[str, np.ndarray]) -> torch.Tensor:
        """Batched observations (B leading) → network input (B, C, H, W): the scene image [+ heatmap], or
        for the patch view the decoded height map [+ the heatmap carried onto its grid]."""
        if self.goal_task and "heatmap" not in observations:
            raise KeyError("a goal-task PoseQTOpt needs observation key 'heatmap' (wrap the env with "
                           "agents.core.goal_features.GoalObservationWrapper)")
        if self.config.view == "scene":
            return network_input(observations["image"], observations["heatmap"] if self.goal_task else None)
        if HEIGHTMAP_KEY not in observations:
            raise KeyError(f"a patch-view PoseQTOpt needs observation key {HEIGHTMAP_KEY!r} (wrap the env with "
                           "envs.heightmap_observation.HeightmapObservation)")
        maps = decode_heightmaps(observations[HEIGHTMAP_KEY], self.config.patch.height_scale)
        if not self.goal_task:
            return maps
        heat = torch.as_tensor(np.ascontiguousarray(observations["heatmap"])).permute(0, 3, 1, 2).float() / 255.0
        grid = self._heat_on_grid.expand(len(maps), -1, -1, -1)
        return torch.cat([maps, F.grid_sample(heat, grid, mode="bilinear", align_corners=False)], dim=1)

    def score(self, maps: PoseMaps | torch.Tensor, poses: torch.Tensor, symmetry: torch.Tensor | None = None,
              average: bool = False) -> torch.Tensor:
        """Success logits (B, N) of normalised poses (B, N, 3) on what ``self.q.feature_map`` returned.
        Patch view only: ``symmetry`` (B, N) and ``average`` as :meth:`PatchQNetwork.score` takes them."""
        if isinstance(self.q, PatchQNetwork):
            return self.q.score(maps, self.space.to_pose_tensor(poses), symmetry=symmetry, average=average)
        return self.q.score(maps, self.read_points(poses), poses)

    def q_values(self, inputs: torch.Tensor, poses: torch.Tensor,
                 symmetry: torch.Tensor | None = None) -> torch.Tensor:
        """Success logits (B, N) of poses (B, N, 3) for network inputs from :meth:`inputs`."""
        return self.score(self.q.feature_map(inputs), poses, symmetry)

    def read_points(self, poses: torch.Tensor) -> torch.Tensor:
        """Where in the image the network reads each pose (B, N, 3): (B, N, P, 2), see ``PoseNetworkConfig.reach``."""
        return self.space.read_points(poses, self.config.network.reach)

    @torch.no_grad()
    def best_poses(self, inputs: torch.Tensor, avoid: Avoid | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """CEM-argmax of Q: (poses (B, 3), logits (B,)); poses near those ``avoid`` names are left out
        (:func:`envs.grasp_pose.avoiding`)."""
        features = self.q.eval().feature_map(inputs)

        def score(candidates: torch.Tensor) -> torch.Tensor:
            return self.candidate_scores(features, candidates)

        return cem_maximize(avoiding(score, avoid, self.space), len(inputs), 3, self.config.cem, self.generator,
                            initial=self.heatmap_proposals(inputs))

    def candidate_scores(self, features: PoseMaps | torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """What CEM maximises for poses (B, N, 3): their success logits, or with robust scoring the logit
        of the mean success probability of each pose and its neighbours (:meth:`robust_offsets`)."""
        offsets, average = self._offsets, self.config.symmetric_scoring
        if offsets is None:
            return self.score(features, candidates, average=average)
        batch, count, _ = candidates.shape
        near = (candidates[:, :, None, :] + offsets).reshape(batch, count * len(offsets), 3)
        near = torch.cat([near[..., :2].clamp(-1.0, 1.0), (near[..., 2:] + 1.0) % 2.0 - 1.0], dim=-1)
        logits = self.score(features, near, average=average).reshape(batch, count, len(offsets))
        return torch.logit(torch.sigmoid(logits).mean(dim=-1).clamp(1e-6, 1 - 1e-6))

    def robust_offsets(self) -> torch.Tensor | None:
        """Normalised offsets (K, 3) of a pose's neighbours for robust scoring (the pose itself first),
        or None when robust scoring is off."""
        translation, yaw = self.config.robust_translation, self.config.robust_yaw
        if translation == 0 and yaw == 0:
            return None
        scale = 2.0 / (self.space.high - self.space.low)  # metres and radians → normalised units
        rows = [np.zeros(3)]
        for axis, size in ((0, translation), (1, translation), (2, yaw)):
            if size > 0:
                for sign in (1.0, -1.0):
                    row = np.zeros(3)
                    row[axis] = sign * size * scale[axis]
                    rows.append(row)
        return torch.tensor(np.stack(rows), dtype=torch.float32)

    def heatmap_proposals(self, inputs: torch.Tensor) -> torch.Tensor | None:
        """First-round CEM candidates (B, population, 3) where the goal's heatmap (input channel 3)
        is highest among ``heatmap_proposals`` × population uniform poses; None when off."""
        draws = self.config.heatmap_proposals * self.config.cem.population
        if not (self.goal_task and draws):
            return None
        cem = self.config.cem
        poses = cem.low + (cem.high - cem.low) * torch.rand(len(inputs), draws, 3, generator=self.generator)
        heat = self.space.read_at_poses(inputs[:, 3:4], poses)[:, 0]
        best = heat.topk(cem.population, dim=1).indices
        return poses[torch.arange(len(inputs))[:, None], best]

    def choose(self, observation: dict[str, np.ndarray], avoid: Avoid | None = None) -> np.ndarray:
        """Normalised pose (3,) for one observation: greedy, or exploring when ``self.exploring``; greedy poses
        near those ``avoid`` names are left out."""
        if self.exploring and self.rng.random() < self.config.epsilon:
            return self.rng.uniform(-1.0, 1.0, 3)
        batch = {k: np.asarray(v)[None] for k, v in observation.items() if k in OBSERVATION_KEYS}
        pose = self.best_poses(self.inputs(batch), avoid)[0][0].numpy().astype(np.float64)
        if self.exploring:
            pose = np.clip(pose + self.rng.normal(0.0, self.config.noise, 3), -1.0, 1.0)
        return pose

    # ---------------------------------------------------------------------------------- learning
    def update(self, inputs: torch.Tensor, poses: torch.Tensor, rewards: torch.Tensor) -> dict[str, float]:
        """One gradient step of BCE(Q(s, u), r) on a batch: inputs (B, C, H, W), poses (B, 3), rewards (B,)
        (each patch under a random symmetry with ``augment_symmetries``)."""
        self.q.train()
        symmetry = None
        if self.config.augment_symmetries:
            symmetry = torch.randint(SYMMETRIES, (len(poses), 1), generator=self.generator)
        logits = self.q_values(inputs, poses[:, None, :], symmetry)[:, 0]
        loss = F.binary_cross_entropy_with_logits(logits, rewards.clamp(0.0, 1.0))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.updates += 1
        return {"loss": loss.item(), "q_mean": torch.sigmoid(logits.detach()).mean().item()}

    # ------------------------------------------------------------------------------ checkpointing
    def save(self, directory: str | Path, extra: dict[str, Any] | None = None) -> None:
        """Write the weights (safetensors), optimizer (tensors only) and a JSON card, each atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(directory / WEIGHTS, save({k: v.contiguous() for k, v in self.q.state_dict().items()}))
        optimizer = io.BytesIO()
        torch.save(self.optimizer.state_dict(), optimizer)
        atomic_write_bytes(directory / OPTIMIZER, optimizer.getvalue())
        meta = {"goal_task": self.goal_task, "config": dataclasses.asdict(self.config),
                "world": _world_to_dict(self.world), "updates": self.updates,
                "generator_state": self.generator.get_state().tolist(), "rng_state": self.rng.bit_generator.state,
                "extra": extra or {}}
        atomic_write_text(directory / META, json.dumps(meta, indent=1))

    @classmethod
    def load(cls, directory: str | Path) -> tuple[PoseQTOpt, dict[str, Any]]:
        """Rebuild a learner saved by :meth:`save`; returns (learner, extra). Nothing is unpickled."""
        directory = Path(directory)
        if not (directory / META).is_file():
            raise FileNotFoundError(f"{directory / META} not found: not a pose QT-Opt checkpoint folder")
        meta = json.loads((directory / META).read_text())
        try:
            config = PoseQTOptConfig.from_dict(meta["config"])
        except (TypeError, ValueError, KeyError) as error:
            raise ValueError(f"{directory / META}: not a learner configuration this code reads ({error})") from error
        agent = cls(meta["goal_task"], _world_from_dict(meta["world"]), config)
        try:
            agent.q.load_state_dict(load_file(str(directory / WEIGHTS)))
        except (RuntimeError, KeyError) as error:
            raise ValueError(f"{directory / WEIGHTS} does not fit the network its {META} describes: {error}") from error
        if (directory / OPTIMIZER).is_file():
            agent.optimizer.load_state_dict(torch.load(directory / OPTIMIZER, weights_only=True))
        agent.updates = int(meta["updates"])
        agent.generator.set_state(torch.tensor(meta["generator_state"], dtype=torch.uint8))
        agent.rng.bit_generator.state = meta["rng_state"]
        return agent, meta["extra"]


def check_shared_world(learners: Sequence[PoseQTOpt]) -> None:
    """Raise ``ValueError`` unless every learner was trained in the first one's bin layout and scene camera,
    so that a normalised pose means the same grasp to all of them."""
    first = learners[0].world
    for index, learner in enumerate(learners[1:], start=1):
        if learner.world.layout != first.layout or learner.world.camera != first.camera:
            raise ValueError(f"Q-function {index} and Q-function 0 were trained in different bin layouts or cameras: "
                             "a normalised pose would mean different grasps to them")
