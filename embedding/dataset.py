"""Grasp dataset readers for learning and evaluation (implemented in :mod:`graspdata`).

- :class:`TripletDataset`: successful grasps as ``{"pre", "post", "outcome"}`` (H, W, 3) uint8.
- :class:`OutcomePairDataset`: two outcome images of one object (``--regrasp-same`` data), ``{"first", "second"}``.
- :class:`EpisodeDataset`: every simulated episode with observations, actions and rewards.
- :class:`EvaluationGrasps`: EVALUATION ONLY, single-object grasps with the object's name and mask.
- :class:`MultiObjectGrasps`: EVALUATION ONLY, grasps that lifted several objects, with their names.

All take ``(roots, split="train"|"val"|"all", val_fraction, seed, object_set, skip_bad)``; the same
``seed`` and ``val_fraction`` give the same split in all of them. See ``docs/datasets.md``.
"""

from graspdata.ground_truth import EvaluationGrasps, MultiObjectGrasps
from graspdata.reader import EpisodeDataset, OutcomePairDataset, TripletDataset

__all__ = ["EpisodeDataset", "EvaluationGrasps", "MultiObjectGrasps", "OutcomePairDataset", "TripletDataset"]
