"""Where a number came from: machine and command line, recorded beside every figure."""

from __future__ import annotations

import os
import platform
import sys


def machine_description() -> str:
    """Host, CPU model, core count and 1-minute load average (other users' jobs slow timings down)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as file:
            cpu = next((line.split(":", 1)[1].strip() for line in file if line.startswith("model name")), cpu)
    except OSError:
        pass
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{platform.node()} {cpu}, {os.cpu_count()} cores{load}"


def command_line(module: str, argv: list[str] | None) -> str:
    """``python -m MODULE ARGS`` as it was run (``argv`` None means ``sys.argv[1:]``)."""
    return " ".join(["python", "-m", module, *(sys.argv[1:] if argv is None else argv)])
