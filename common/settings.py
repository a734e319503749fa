"""Settings dataclasses read back from cards and command lines."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def from_fields(cls: type[T], values: dict[str, Any], kind: str) -> T:
    """``cls(**values)`` for a dataclass ``cls``; a key that is not one of its fields is a ``ValueError``
    naming it and the known ones (``kind`` names the settings in the message)."""
    known = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown {kind} settings {unknown}; known: {known}")
    return cls(**values)
