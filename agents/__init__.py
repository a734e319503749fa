"""Grasping policies: scripted (random, privileged), QT-Opt and SAC share :class:`common.protocols.Policy`."""
