"""Grasping policies: scripted (random, privileged), QT-Opt and SAC share :class:`agents.base.Policy`."""
