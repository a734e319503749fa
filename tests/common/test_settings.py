"""common.settings: settings dataclasses built from a card's or a command line's fields."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from common.settings import from_fields


@dataclass(frozen=True)
class Speed:
    metres: float = 1.0
    seconds: float = 2.0


def test_known_fields_build_the_settings_and_unknown_ones_are_named() -> None:
    assert from_fields(Speed, {"seconds": 4.0}, "speed") == Speed(1.0, 4.0)
    with pytest.raises(ValueError, match=r"unknown speed settings \['meters'\]; known: \['metres', 'seconds'\]"):
        from_fields(Speed, {"meters": 3.0}, "speed")
