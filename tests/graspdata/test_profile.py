"""graspdata.profile: a collector's CPU time split by phase, and the bound its physics sets."""

from __future__ import annotations

import pytest

from graspdata.config import CollectConfig
from graspdata.profile import PHYSICS, CollectionProfile, profile_collection


def test_the_phases_add_up_to_the_attempts_time_and_every_phase_ran() -> None:
    config = CollectConfig(num_objects=2, image_size=32, max_steps=10, seed=3, heightmap=True)
    profile = profile_collection(config, attempts=6)  # the random policy closes the gripper in some of them
    assert profile.attempts == 6 and profile.cpu_s_per_attempt > 0
    assert sum(profile.phases.values()) == pytest.approx(profile.cpu_s_per_attempt)
    for phase in (*PHYSICS, "scene renders", "wrist renders", "height-map scan"):
        assert profile.phases[phase] > 0, phase
    assert profile.attempts_per_hour(2, physics_only=True) > profile.attempts_per_hour(2)
    assert set(profile.to_dict()) >= {"physics_bound_attempts_per_hour_2_cores", "phases_s_per_attempt"}


def test_the_bound_is_read_from_the_physics_phases_only() -> None:
    phases = {"settle physics": 0.1, "approach physics": 0.1, "close and lift physics": 0.1, "hold physics": 0.2,
              "scene renders": 0.5}
    profile = CollectionProfile(10, 1.0, phases)
    assert profile.physics_s_per_attempt == pytest.approx(0.5)
    assert profile.attempts_per_hour(2) == pytest.approx(7200) and profile.attempts_per_hour(2, True) == 14400
    with pytest.raises(ValueError, match="at least 1"):
        profile_collection(CollectConfig(), attempts=0)


def test_the_profile_plot_is_written(tmp_path) -> None:
    from graspdata.profile import plot_profile

    plot_profile(CollectionProfile(10, 1.0, {"hold physics": 0.6, "scene renders": 0.4}), tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 0
