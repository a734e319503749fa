"""Where a number came from: machine, command line, code version and time, recorded beside every figure."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's model name with its family, model number and widest vector unit, e.g. ``AMD EPYC (family 25,
    model 17, avx512)`` (``/proc/cpuinfo``; else what ``platform`` knows). Virtual machines often give only a
    generic name ("AMD EPYC") for CPUs of different generations, and runs on another generation or vector unit may
    round floating point differently, so near-tie decisions can differ between them."""
    cpu = platform.processor() or platform.machine()
    try:
        with open(cpuinfo) as file:
            first = file.read().split("\n\n", 1)[0]  # the first processor's block
    except OSError:
        return cpu
    fields = {key.strip(): value.strip() for key, value in (line.split(":", 1) for line in first.splitlines()
                                                             if ":" in line)}
    cpu = fields.get("model name", cpu)
    if "cpu family" in fields and "model" in fields:
        flags = set(fields.get("flags", "").split())
        vector = next((name for name in ("avx512f", "avx2", "avx", "sse2") if name in flags), "no avx")
        cpu += f" (family {fields['cpu family']}, model {fields['model']}, {vector.removesuffix('f')})"
    return cpu


def machine_description() -> str:
    """Host, CPU model, core count and 1-minute load average (other users' jobs slow timings down)."""
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{platform.node()} {cpu_model()}, {os.cpu_count()} cores{load}"


def machine() -> dict[str, Any]:
    """Where a run happened, as fields: host name, platform, Python, CPU count and CPU model."""
    return {"host": platform.node(), "platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "cpu": cpu_model()}


def recorded_cpu_model(record: dict[str, Any]) -> str | None:
    """The CPU model a :func:`machine` record (with ``description``) names: its ``cpu`` field, or for records
    written before it, the model read back from ``description`` (``HOST MODEL, N cores...``); None if neither."""
    if record.get("cpu"):
        return str(record["cpu"])
    description, host = str(record.get("description", "")), str(record.get("host", ""))
    model, sep, _ = description.rpartition(" cores")[0].rpartition(", ")
    if not sep:
        return None
    return model[len(host) + 1:] if host and model.startswith(host + " ") else model


def command_line(module: str, argv: list[str] | None) -> str:
    """``python -m MODULE ARGS`` as it was run (``argv`` None means ``sys.argv[1:]``)."""
    return " ".join(["python", "-m", module, *(sys.argv[1:] if argv is None else argv)])


def now() -> str:
    """UTC time, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def code_version() -> dict[str, Any]:
    """Git commit of this checkout and whether it had uncommitted changes (``"unknown"`` outside git)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True,
                              timeout=10).stdout.strip()
    try:
        return {"git_commit": git("rev-parse", "HEAD"),
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": "unknown", "dirty": None}
