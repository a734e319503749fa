"""Select reward functions by name, by ``package.module:ClassName``, or pass an object through.

>>> reward = make_reward("oracle")
>>> reward = make_reward("grasp2vec", checkpoint="checkpoints/grasp2vec", thresholded=True)
>>> reward = make_reward("my_package.rewards:MyReward", scale=2.0)

Built-in names are imported lazily, so choosing ``oracle`` never imports torch.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Sequence
from typing import Any

from common.protocols import RewardError, RewardFunction

BUILTIN_REWARDS: dict[str, str] = {
    "oracle": "rewards.ground_truth:OracleReward",
    "indiscriminate": "rewards.ground_truth:IndiscriminateReward",
    "single-object": "rewards.ground_truth:SingleObjectReward",
    "grasp2vec": "rewards.grasp2vec:Grasp2VecReward",
    "autoencoder": "rewards.autoencoder:AutoencoderReward",
}


def available_rewards() -> list[str]:
    """Names accepted by :func:`make_reward` (besides ``package.module:ClassName``)."""
    return sorted(BUILTIN_REWARDS)


def register_reward(name: str, target: str) -> None:
    """Make ``name`` select ``target`` (``package.module:ClassName``) in :func:`make_reward`."""
    if ":" in name or not name:
        raise RewardError(f"reward names must be non-empty and contain no ':', got {name!r}")
    _split_target(target)
    BUILTIN_REWARDS[name] = target


def make_reward(spec: str | RewardFunction, **kwargs: Any) -> RewardFunction:
    """Build a reward from a name, a ``package.module:ClassName`` path, or return a ready object.

    Args:
        spec: a built-in name (see :func:`available_rewards`), ``package.module:ClassName``, or an
            object that already follows :class:`common.protocols.RewardFunction`.
        **kwargs: keyword arguments for the class's constructor.

    Raises:
        RewardError: unknown name, unimportable module or class, bad keyword arguments, a class
            that does not follow the protocol, or a checkpoint that does not fit.
    """
    if not isinstance(spec, str):
        if kwargs:
            raise RewardError(f"keyword arguments {sorted(kwargs)} given with a ready reward object {spec!r}")
        return check_protocol(spec, repr(spec))
    target = BUILTIN_REWARDS.get(spec, spec)
    if ":" not in target:
        raise RewardError(f"unknown reward {spec!r}: choose one of {available_rewards()} "
                          "or give a class as 'package.module:ClassName'")
    cls = _import_class(target)
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as error:
        raise RewardError(f"reward {spec!r} ({target}) does not accept {sorted(kwargs)}: {error}") from error
    except ValueError:
        pass  # signature not introspectable (builtin); let the call itself complain
    return check_protocol(cls(**kwargs), target)


def check_protocol(reward: Any, label: str) -> RewardFunction:
    """Return ``reward`` if it follows :class:`RewardFunction`, else raise :class:`RewardError`."""
    missing = [name for name in ("__call__", "batch") if not callable(getattr(reward, name, None))]
    if inspect.isclass(reward) or missing:
        what = "is a class, not an instance" if inspect.isclass(reward) else f"lacks callable {missing}"
        raise RewardError(f"reward {label} does not follow common.protocols.RewardFunction "
                          f"(__call__(GraspContext) -> float, batch(list[GraspContext]) -> np.ndarray): it {what}")
    return reward


def parse_reward_kwargs(items: Sequence[str]) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` strings (VALUE as JSON when it parses, else as a string) for CLIs."""
    result: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise RewardError(f"reward argument must look like KEY=VALUE with KEY an identifier, got {item!r}")
        try:
            result[key] = json.loads(value)
        except json.JSONDecodeError:
            result[key] = value
    return result


def _split_target(target: str) -> tuple[str, str]:
    module, sep, name = target.partition(":")
    if not sep or not module or not name or ":" in name:
        raise RewardError(f"reward class must be given as 'package.module:ClassName', got {target!r}")
    return module, name


def _import_class(target: str) -> type:
    module_name, class_name = _split_target(target)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise RewardError(f"cannot import module {module_name!r} for reward {target!r}: {error}") from error
    cls = module
    for part in class_name.split("."):
        cls = getattr(cls, part, None)
        if cls is None:
            raise RewardError(f"module {module_name!r} has no attribute {class_name!r} (reward {target!r})")
    if not callable(cls):
        raise RewardError(f"reward {target!r} is not a class or factory: {type(cls).__name__}")
    return cls  # type: ignore[return-value]
