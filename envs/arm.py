"""Kuka iiwa arm with PyBullet's 2-finger gripper, driven by Cartesian end-effector targets."""

from __future__ import annotations

import math

import numpy as np
from pybullet_utils.bullet_client import BulletClient

from envs.config import ArmConfig

ARM_SDF = "kuka_iiwa/kuka_with_gripper2.sdf"
END_EFFECTOR_LINK = 6
WRIST_JOINT = 7
LEFT_FINGER, RIGHT_FINGER = 8, 11
LEFT_TIP, RIGHT_TIP = 10, 13
NUM_ARM_JOINTS = 7
# The fingertips' midpoint hangs this far (m) from the wrist axis, perpendicular to the direction the fingers
# close in: at wrist angle psi it lies at the end effector's (x, y) + FINGER_OFFSET * (sin psi, cos psi).
# Nominal geometry of kuka_with_gripper2 with the gripper pointing straight down; where the arm tilts (the far
# side of the bin) the fingers land up to 3 cm further off (docs/envs.md, "Where the fingers close").
FINGER_OFFSET = 0.024
# Rest pose of PyBullet's Kuka example (arm joints, then gripper joints).
REST_POSE = (0.006418, 0.413184, -0.011401, -1.589317, 0.005379, 1.137684, -0.006539,
             0.000048, -0.299912, 0.0, -0.000043, 0.299960, 0.0, -0.000200)
IK_LOWER = (-0.967, -2.0, -2.96, 0.19, -2.96, -2.09, -3.05)
IK_UPPER = (0.967, 2.0, 2.96, 2.29, 2.96, 2.09, 3.05)
IK_RANGE = (5.8, 4.0, 5.8, 4.0, 5.8, 4.0, 6.0)
IK_REFINEMENTS = 4  # IK passes when teleporting the arm; each starts from the last solution
IK_REST = (0.0, 0.0, 0.0, 0.5 * math.pi, 0.0, -math.pi * 0.5 * 0.66, 0.0)


class KukaArm:
    """Loads the arm once and moves its end effector (link 6) by inverse kinematics.

    The gripper points straight down; ``yaw`` rotates the wrist about the vertical axis.
    """

    def __init__(self, client: BulletClient, base_position: tuple[float, float, float],
                 config: ArmConfig) -> None:
        self.client = client
        self.config = config
        self.body = client.loadSDF(ARM_SDF)[0]
        client.resetBasePositionAndOrientation(self.body, base_position, (0, 0, 0, 1))
        self.num_joints = client.getNumJoints(self.body)
        self._down = client.getQuaternionFromEuler((0.0, -math.pi, 0.0))
        self.target_position = np.zeros(3)
        self.yaw = 0.0
        self.finger_angle = config.finger_open

    def reset(self, position: np.ndarray, yaw: float = 0.0) -> None:
        """Place the arm at ``position`` instantly (no physics) with the gripper open."""
        for joint, angle in enumerate(REST_POSE):
            self.client.resetJointState(self.body, joint, angle)
        self.target_position = np.asarray(position, dtype=np.float64).copy()
        self.yaw = float(yaw)
        self.finger_angle = self.config.finger_open
        for _ in range(IK_REFINEMENTS):
            for joint, angle in enumerate(self._ik(self.target_position)):
                self.client.resetJointState(self.body, joint, angle)
        self.client.resetJointState(self.body, WRIST_JOINT, self.yaw)
        self.apply_targets()

    def set_target(self, position: np.ndarray, yaw: float) -> None:
        """Set the end-effector goal; motors track it during the following physics steps."""
        self.target_position = np.asarray(position, dtype=np.float64).copy()
        self.yaw = float(yaw)
        self.apply_targets()

    def set_fingers(self, angle: float) -> None:
        """Finger opening: ``config.finger_open`` is fully open, 0 is closed."""
        self.finger_angle = float(angle)
        self.apply_targets()

    def apply_targets(self) -> None:
        """Send the current end-effector and finger targets to the joint motors."""
        c, cfg, body = self.client, self.config, self.body
        joints = list(range(NUM_ARM_JOINTS))
        angles = self._ik(self.target_position)
        for joint in joints:
            c.setJointMotorControl2(body, joint, c.POSITION_CONTROL, targetPosition=angles[joint],
                                    force=cfg.max_force, positionGain=cfg.position_gain,
                                    maxVelocity=cfg.max_joint_velocity)
        c.setJointMotorControl2(body, WRIST_JOINT, c.POSITION_CONTROL, targetPosition=self.yaw,
                                force=cfg.max_force)
        c.setJointMotorControl2(body, LEFT_FINGER, c.POSITION_CONTROL,
                                targetPosition=-self.finger_angle, force=cfg.finger_force)
        c.setJointMotorControl2(body, RIGHT_FINGER, c.POSITION_CONTROL,
                                targetPosition=self.finger_angle, force=cfg.finger_force)
        for tip in (LEFT_TIP, RIGHT_TIP):
            c.setJointMotorControl2(body, tip, c.POSITION_CONTROL, targetPosition=0.0,
                                    force=cfg.finger_tip_force)

    def end_effector_position(self) -> np.ndarray:
        """Measured position of link 6, shape (3,)."""
        return np.asarray(self.client.getLinkState(self.body, END_EFFECTOR_LINK)[0])

    def end_effector_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Measured (position (3,), quaternion xyzw (4,)) of link 6."""
        state = self.client.getLinkState(self.body, END_EFFECTOR_LINK)
        return np.asarray(state[0]), np.asarray(state[1])

    def fingertips(self) -> tuple[np.ndarray, np.ndarray]:
        """Measured world positions (3,) of the left and right fingertip links."""
        left, right = self.client.getLinkStates(self.body, [LEFT_TIP, RIGHT_TIP])
        return np.asarray(left[0]), np.asarray(right[0])

    def grasp_point(self) -> np.ndarray:
        """Measured midpoint between the two fingertips, shape (3,)."""
        left, right = self.fingertips()
        return 0.5 * (left + right)

    def fingertip_distance(self) -> float:
        """Measured distance between the two fingertip links, metres (the gripper's aperture)."""
        left, right = self.fingertips()
        return float(np.linalg.norm(left - right))

    def gripper_state(self) -> np.ndarray:
        """Proprioception: end-effector xyz (m), wrist yaw (rad), finger opening (rad); shape (5,)."""
        position = self.end_effector_position()
        return np.array([*position, self.yaw, self.finger_angle], dtype=np.float32)

    def _ik(self, position: np.ndarray) -> list[float]:
        angles = self.client.calculateInverseKinematics(
            self.body, END_EFFECTOR_LINK, position.tolist(), self._down,
            IK_LOWER, IK_UPPER, IK_RANGE, IK_REST)
        return list(angles[:NUM_ARM_JOINTS])
