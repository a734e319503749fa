"""A custom object set made of PyBullet primitive shapes (boxes, cylinders, spheres) as URDF files.

    python -c "from envs.primitives import write_primitive_objects; write_primitive_objects('envs/assets/primitives')"

Shapes, sizes and colours are drawn from ``seed``; sizes span ``size_range_m`` (box sides, cylinder
diameter and length, sphere diameter, in metres), the span of the built-in random objects that the
gripper lifts. The folder is an object set like any other: ``--objects envs/assets/primitives``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.io import atomic_write_text

SHAPES = ("box", "cylinder", "sphere")


@dataclass(frozen=True)
class PrimitiveSpec:
    """One object: ``shape`` (box, cylinder or sphere), ``size_m`` (box (x, y, z) sides; cylinder
    (diameter, length); sphere (diameter,)), ``rgba`` colour and ``mass_kg``."""

    name: str
    shape: str
    size_m: tuple[float, ...]
    rgba: tuple[float, float, float, float]
    mass_kg: float = 0.1

    def geometry(self) -> str:
        if self.shape == "box":
            return '<box size="{:.4f} {:.4f} {:.4f}"/>'.format(*self.size_m)
        if self.shape == "cylinder":
            return f'<cylinder radius="{self.size_m[0] / 2:.4f}" length="{self.size_m[1]:.4f}"/>'
        if self.shape == "sphere":
            return f'<sphere radius="{self.size_m[0] / 2:.4f}"/>'
        raise ValueError(f"unknown shape {self.shape!r}; expected one of {SHAPES}")

    def urdf(self) -> str:
        """The URDF text: one link, the same primitive for visual and collision, contact as the built-in objects."""
        geometry = self.geometry()
        inertia = 1e-4
        return f"""<?xml version="1.0"?>
<robot name="{self.name}">
  <link name="{self.name}">
    <contact>
      <lateral_friction value="1.0"/>
      <rolling_friction value="0.0"/>
      <contact_cfm value="0.0"/>
      <contact_erp value="1.0"/>
    </contact>
    <inertial>
      <origin rpy="0 0 0" xyz="0 0 0"/>
      <mass value="{self.mass_kg}"/>
      <inertia ixx="{inertia}" ixy="0" ixz="0" iyy="{inertia}" iyz="0" izz="{inertia}"/>
    </inertial>
    <visual>
      <origin rpy="0 0 0" xyz="0 0 0"/>
      <geometry>{geometry}</geometry>
      <material name="{self.name}_colour">
        <color rgba="{' '.join(f'{c:.3f}' for c in self.rgba)}"/>
      </material>
    </visual>
    <collision>
      <origin rpy="0 0 0" xyz="0 0 0"/>
      <geometry>{geometry}</geometry>
    </collision>
  </link>
</robot>
"""


def primitive_specs(count: int = 24, seed: int = 0, size_range_m: tuple[float, float] = (0.02, 0.05)
                    ) -> list[PrimitiveSpec]:
    """``count`` objects cycling through the shapes, sizes uniform in ``size_range_m``, saturated colours."""
    if count < 1:
        raise ValueError(f"count must be positive, got {count}")
    rng = np.random.default_rng(seed)
    low, high = size_range_m
    specs = []
    for index in range(count):
        shape = SHAPES[index % len(SHAPES)]
        dims = {"box": 3, "cylinder": 2, "sphere": 1}[shape]
        size = tuple(float(v) for v in rng.uniform(low, high, dims).round(4))
        hue = rng.uniform(0, 1)
        rgba = (*(float(c) for c in _hue_to_rgb(hue)), 1.0)
        specs.append(PrimitiveSpec(name=f"prim{index:03d}_{shape}", shape=shape, size_m=size, rgba=rgba))
    return specs


def _hue_to_rgb(hue: float) -> np.ndarray:
    """A saturated colour (r, g, b in [0.15, 0.9]) of ``hue`` in [0, 1)."""
    channel = np.abs((hue * 6 + np.array([0.0, 4.0, 2.0])) % 6 - 3) - 1
    return 0.15 + 0.75 * np.clip(channel, 0, 1)


def write_primitive_objects(folder: str | Path, count: int = 24, seed: int = 0) -> list[Path]:
    """Write ``count`` primitive-shape URDFs (one sub-folder each, like ``random_urdfs``) into ``folder``."""
    folder = Path(folder)
    paths = []
    for spec in primitive_specs(count, seed):
        path = folder / spec.name / f"{spec.name}.urdf"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, spec.urdf())
        paths.append(path)
    return paths
