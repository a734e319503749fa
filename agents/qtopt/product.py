"""A product of pose Q-functions: CEM over the weighted sum of their log success probabilities.

Each member is a trained :class:`agents.qtopt.learner.PoseQTOpt` (scene or patch view, goal task or not).
The product ranks a normalised grasp pose ``u`` by

    score(u) = Σ_i w_i · log σ(Q_i(s, u))

the log of ``Π_i p_i(u)^w_i``: a pose must look good to every member. The use it is built for: a goal
network that knows *which* object to grasp (the Grasp2Vec reward) times an indiscriminate network that
knows which grasps *hold* (it learned from many more lifts of every object), so the goal network's pose
is re-ranked by grasp quality without retraining either. Nothing is learned here; the members' weights
are read unchanged. Robust scoring, when a member's config asks for it, applies to that member's term.

``ProductConfig.goal_heat`` adds one term that is not a network: ``w_h · log min(1, h(u) / τ)``, where ``h(u)``
is the goal's Grasp2Vec heatmap (the observation's ``heatmap``, min-max scaled per scene) read where the pose's
fingertips meet (:meth:`envs.grasp_pose.PoseSpace.finger_points`, 2.4 cm beside the pose's (x, y)) and ``τ`` is
``goal_heat_level``. It is the localization itself voting for the target, beside the
goal network that learned from it: with τ = 1 towards the heatmap's peak, with τ < 1 only against poses
colder than τ (a gate: anywhere warm enough is on the target).

``ProductConfig.focus`` (a collection setting, :mod:`agents.core.focus`) searches only near one object, drawn
at random from the height map each episode: data on every object, not only the easiest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from agents.core.cem import CEMConfig, SeededSearch, cem_maximize
from agents.core.focus import FocusConfig, FocusedSearch
from agents.qtopt.learner import OBSERVATION_KEYS, WEIGHTS, PoseQTOpt, check_shared_world
from common.io import check_sha256, read_json_card
from envs.grasp_pose import ApproachConfig, Avoid, PoseChooser, PosePolicy, avoiding
from envs.heightmap_observation import HEIGHTMAP_KEY

# A product checkpoint folder: this card, plus each member's pose QT-Opt checkpoint under members/
PRODUCT_META = "pose_product.json"
# the goal heat term reads h(u) = (heat + 1) / 256 for a uint8 heat: the scene's coldest cell costs log(1/256)
HEAT_LEVELS = 256.0


@dataclass(frozen=True)
class ProductConfig:
    """How the members' scores are combined and searched.

    Attributes:
        weights: one exponent ``w_i`` > 0 per member (the product is ``Π p_i^w_i``).
        cem: the search over poses (the same for all members: one set of candidates is scored by each).
        seed: seeds CEM's sampling.
        approach: how the follower carries the chosen pose out (default: descend while turning).
        goal_heat: weight ``w_h`` >= 0 of the goal heatmap term ``w_h · log min(1, h(u) / τ)`` (0: no such
            term; > 0 needs the observation's ``heatmap``, which goal members ask the environment for).
        goal_heat_level: ``τ`` in (0, 1]: poses at least this warm (1 = the scene's hottest cell) cost nothing.
        focus: search near one object drawn from the height map per decision (off by default; needs a
            patch-view member, whose height map the environment then provides).
    """

    weights: tuple[float, ...]
    cem: CEMConfig = field(default_factory=lambda: CEMConfig(iterations=3, population=128, elites=8))
    seed: int = 0
    approach: ApproachConfig = field(default_factory=ApproachConfig)
    goal_heat: float = 0.0
    goal_heat_level: float = 1.0
    focus: FocusConfig = field(default_factory=FocusConfig)

    def __post_init__(self) -> None:
        if not self.weights or any(not np.isfinite(w) or w <= 0 for w in self.weights):
            raise ValueError(f"weights must be one or more finite numbers > 0, got {list(self.weights)}")
        if not np.isfinite(self.goal_heat) or self.goal_heat < 0:
            raise ValueError(f"goal_heat must be a finite number >= 0, got {self.goal_heat}")
        if not 0 < self.goal_heat_level <= 1:
            raise ValueError(f"goal_heat_level must be in (0, 1], got {self.goal_heat_level}")


class PoseQProduct(SeededSearch, PoseChooser):
    """A :class:`common.protocols.Policy` choosing the pose that maximises the members' weighted product.

    Args:
        members: trained pose QT-Opt learners of one world (the same bin layout and scene camera, so a
            normalised pose means the same grasp to each).
        config: weights (one per member), CEM settings and seed.

    Raises:
        ValueError: the weights do not match the members, or the members' worlds place poses differently.
    """

    def __init__(self, members: Sequence[PoseQTOpt], config: ProductConfig) -> None:
        if len(members) != len(config.weights):
            raise ValueError(f"{len(members)} members but {len(config.weights)} weights")
        check_shared_world(members)
        first = members[0].world
        self.members, self.config = list(members), config
        self.init_streams(config.seed)
        self.policy = PosePolicy(self.choose, first, config.approach)
        self.focus: FocusedSearch | None = None
        if config.focus.enabled:
            patch = next((m for m in self.members if m.config.view == "patch"), None)
            if patch is None:
                raise ValueError("focus draws its point from the height map, but no member reads one (add a "
                                 "patch-view member)")
            self.focus = FocusedSearch(patch.space, patch.q.geometry, config.focus)

    @torch.no_grad()
    def feature_maps(self, observations: dict[str, np.ndarray]) -> list[object]:
        """Each member's feature map of batched observations (B leading), for :meth:`candidate_scores`."""
        return [member.q.eval().feature_map(member.inputs(observations)) for member in self.members]

    @torch.no_grad()
    def best_poses(self, observations: dict[str, np.ndarray], avoid: Avoid | None = None,
                   features: Sequence[object] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """CEM-argmax of the product for batched observations (B leading): (poses (B, 3), scores (B,)),
        scores being the weighted sums of log probabilities; poses near those ``avoid`` names are left out
        (:func:`envs.grasp_pose.avoiding`). ``features``: :meth:`feature_maps` of these observations, when a caller
        searches them more than once."""
        features = self.feature_maps(observations) if features is None else features
        batch = len(next(iter(observations.values())))
        heat = self.goal_heat_maps(observations)
        focus = self.focus
        centres = None if focus is None else focus.draw(observations[HEIGHTMAP_KEY], self.rng)

        def poses(searched: torch.Tensor) -> torch.Tensor:  # CEM's box is the bin, or the square around a centre
            return searched if focus is None else focus.poses(searched, centres)

        scored = avoiding(lambda candidates: self.candidate_scores(features, candidates, heat), avoid,
                          self.members[0].space)

        def score(candidates: torch.Tensor) -> torch.Tensor:
            return scored(poses(candidates))

        best, scores = cem_maximize(score, batch, 3, self.config.cem, self.generator)
        return poses(best[:, None, :])[:, 0], scores

    def goal_heat_maps(self, observations: dict[str, np.ndarray]) -> torch.Tensor | None:
        """The goal heatmaps as (B, 1, H, W) floats min(1, h / τ), h in (0, 1], when the goal heat term is on,
        else None.

        Raises:
            KeyError: the term is on and the observations carry no ``heatmap``.
        """
        if self.config.goal_heat == 0:
            return None
        if "heatmap" not in observations:
            raise KeyError("a product with goal_heat > 0 needs observation key 'heatmap' (a goal member asks the "
                           "environment for it; agents.core.goal_features.GoalObservationWrapper adds it)")
        heat = torch.as_tensor(np.ascontiguousarray(observations["heatmap"])).permute(0, 3, 1, 2).float()
        return ((heat + 1.0) / HEAT_LEVELS / self.config.goal_heat_level).clamp(max=1.0)

    def candidate_scores(self, features: Sequence[object], candidates: torch.Tensor,
                         heat: torch.Tensor | None = None) -> torch.Tensor:
        """What CEM maximises for poses (B, N, 3): the weighted sum of the members' log success probabilities,
        one feature map per member, plus ``goal_heat · log`` of ``heat`` (from :meth:`goal_heat_maps`) at the
        fingertips when it is given."""
        total = torch.zeros(candidates.shape[:2])
        for member, member_features, weight in zip(self.members, features, self.config.weights, strict=True):
            total = total + weight * F.logsigmoid(member.candidate_scores(member_features, candidates))
        if heat is not None:
            read = self.members[0].space.read_at_fingers(heat, candidates)[:, 0]
            total = total + self.config.goal_heat * torch.log(read)
        return total

    def choose(self, observation: dict[str, np.ndarray], avoid: Avoid | None = None) -> np.ndarray:
        """Normalised pose (3,) for one observation, none near those ``avoid`` names."""
        batch = {k: np.asarray(v)[None] for k, v in observation.items() if k in OBSERVATION_KEYS}
        return self.best_poses(batch, avoid)[0][0].numpy().astype(np.float64)

    @classmethod
    def load(cls, directory: str | Path) -> PoseQProduct:
        """Rebuild a product from its folder (``pose_product.json`` and the members it names); nothing is
        unpickled.

        Raises:
            FileNotFoundError: the card or a member folder is missing.
            ValueError: the card is malformed, or a member's weights are not the ones the card recorded.
        """
        directory = Path(directory)
        path = directory / PRODUCT_META
        meta: dict[str, Any] = read_json_card(path, "pose Q product")
        try:
            entries = meta["members"]
            config = ProductConfig(weights=tuple(float(m["weight"]) for m in entries), cem=CEMConfig(**meta["cem"]),
                                   seed=int(meta["seed"]), approach=ApproachConfig.from_dict(meta.get("approach", {})),
                                   goal_heat=float(meta.get("goal_heat", 0.0)),
                                   goal_heat_level=float(meta.get("goal_heat_level", 1.0)),
                                   focus=FocusConfig.from_dict(meta.get("focus", {})))
        except (KeyError, TypeError) as error:
            raise ValueError(f"{path}: not a pose Q product card ({error!r})") from None
        members = []
        for entry in entries:
            folder = directory / entry["folder"]
            check_sha256(folder / WEIGHTS, entry["weights_sha256"], path, "combine the policies again")
            members.append(PoseQTOpt.load(folder)[0])
        return cls(members, config)
