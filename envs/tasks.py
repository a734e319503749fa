"""The two grasp tasks as Gymnasium environments, built from the settings a task varies.

Training (:mod:`agents.train`), the benchmark (:mod:`benchmark.tasks`) and a ranker's candidate collection
(:mod:`agents.ranker_data`) each add their own wrappers (goal features, height maps, a policy's sensors) on top
of the one environment this builds.
"""

from __future__ import annotations

from common.protocols import RewardFunction
from envs.config import WorldSettings
from envs.goal_bank import GoalBank
from envs.grasp_env import KukaGraspEnv
from envs.instance_env import KukaInstanceGraspEnv
from envs.objects import ObjectSpec


def make_task_env(instance: bool, objects: ObjectSpec, settings: WorldSettings, goal_bank: GoalBank | None = None,
                  reward: RewardFunction | None = None, wrist_view: bool = False) -> KukaGraspEnv:
    """Any-object grasping (:class:`KukaGraspEnv`) or, with ``instance``, grasping the goal bank's object
    (:class:`KukaInstanceGraspEnv`), on the object set ``objects`` in the world ``settings`` describes.

    Args:
        instance: the instance task (goals from ``goal_bank``) rather than any-object grasping.
        objects: an object set's name, a folder of URDFs or a list of URDFs (:func:`envs.objects.resolve_objects`).
        settings: objects per bin, image size, step limit, descent, hold, grasps per episode.
        goal_bank: where the instance task's goal images come from (None: the env's own default bank).
        reward: what a step pays (None: the task's own success).
        wrist_view: add the wrist camera's image to the observation.
    """
    kwargs = dict(objects=objects, num_objects=settings.num_objects, image_size=settings.image_size,
                  max_steps=settings.max_steps, auto_descend=settings.auto_descend,
                  world_config=settings.world_config(), reward=reward, wrist_view=wrist_view,
                  max_grasps=settings.max_grasps)
    return KukaInstanceGraspEnv(goal_bank=goal_bank, **kwargs) if instance else KukaGraspEnv(**kwargs)
