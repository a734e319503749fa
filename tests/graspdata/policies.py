"""Policy factories that misbehave on purpose, importable by spawned workers and Ray actors."""

from __future__ import annotations

import os
from pathlib import Path

from envs.scripted import PrivilegedGraspPolicy, RandomGraspPolicy

CRASH_MARKER = "GRASPDATA_TEST_CRASH_MARKER"


def crash_once(env, seed: int) -> RandomGraspPolicy:
    """Kill the worker process (no Python cleanup) the first time any worker calls it."""
    marker = Path(os.environ[CRASH_MARKER])
    try:  # O_EXCL: exactly one of several racing workers creates the marker and crashes
        descriptor = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return RandomGraspPolicy(env.unwrapped.config, seed=seed)
    os.write(descriptor, f"worker {os.getpid()} crashed here\n".encode())
    os.close(descriptor)
    os._exit(7)


def always_raise(env, seed: int) -> RandomGraspPolicy:
    raise RuntimeError("this policy fails on purpose")


def privileged(env, seed: int) -> PrivilegedGraspPolicy:
    """The ground-truth grasp (most attempts lift something): for tests that need lifts, not for data."""
    return PrivilegedGraspPolicy(env)
