"""Simulated grasping world and its Gymnasium environments.

Importing this package registers ``KukaGrasp-v0`` and ``KukaInstanceGrasp-v0``.
"""

from gymnasium.envs.registration import register

from envs.config import ArmConfig, CameraConfig, LayoutConfig, PhysicsConfig, WorldConfig
from envs.objects import builtin_split, object_name, resolve_objects
from envs.world import GraspOutcome, GraspWorld, UnloadableObjectError

register(id="KukaGrasp-v0", entry_point="envs.grasp_env:KukaGraspEnv")
register(id="KukaInstanceGrasp-v0", entry_point="envs.instance_env:KukaInstanceGraspEnv")

__all__ = [
    "ArmConfig", "CameraConfig", "GraspOutcome", "GraspWorld", "LayoutConfig", "PhysicsConfig",
    "UnloadableObjectError", "WorldConfig", "builtin_split", "object_name", "resolve_objects",
]
