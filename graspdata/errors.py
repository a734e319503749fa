"""Errors raised for datasets that cannot be read or written as asked. Each names the offending file."""

from __future__ import annotations


class DatasetError(ValueError):
    """Base class: something is wrong with a grasp dataset on disk (a kind of ``ValueError``)."""


class NotADatasetError(DatasetError):
    """The folder holds no dataset card, or a file is not a grasp shard."""


class LayoutVersionError(DatasetError):
    """A shard or card was written with a layout version this code does not read."""


class CorruptShardError(DatasetError):
    """A shard is truncated, fails its checksums, or is internally inconsistent."""


class ConfigMismatchError(DatasetError):
    """``--resume`` (or a reader) met a dataset made with a different configuration."""


class SensedBitFallbackWarning(UserWarning):
    """A dataset records no sensed grasp bit; readers derive it from the aperture, or from ``success``."""
