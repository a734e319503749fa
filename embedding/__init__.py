"""Grasp2Vec: scene and outcome encoders, n-pairs loss, goal heatmaps, training, evaluation, checkpoints.

Modules: ``model`` (encoders), ``losses``, ``heatmap``, ``augment``, ``checkpoint``, ``train``,
``metrics``, ``evaluate`` / ``heldout`` (held-out evaluation), ``figures``; ``dataset`` holds the
triplet dataset I/O.
"""
