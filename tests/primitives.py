"""Object URDFs whose collision shapes are primitives (no meshes), written on the fly for tests."""

from __future__ import annotations

from pathlib import Path

SHAPES = {
    "block": '<box size="0.05 0.03 0.04"/>',
    "can": '<cylinder radius="0.015" length="0.05"/>',
    "ball": '<sphere radius="0.02"/>',
}


def write_primitive_objects(folder: Path) -> Path:
    """Write one URDF per shape in ``SHAPES`` to ``folder`` (a box, a cylinder, a sphere); return ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, geometry in SHAPES.items():
        (folder / f"{name}.urdf").write_text(f"""<?xml version="1.0"?>
<robot name="{name}">
  <link name="base">
    <inertial><mass value="0.1"/><inertia ixx="1e-4" ixy="0" ixz="0" iyy="1e-4" iyz="0" izz="1e-4"/></inertial>
    <visual><geometry>{geometry}</geometry></visual>
    <collision><geometry>{geometry}</geometry></collision>
  </link>
</robot>
""")
    return folder
