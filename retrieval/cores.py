"""How many cores this process may use: its CPU affinity, and its container's CPU quota."""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max …"


def usable_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may run on (affinity), fewer when its cgroup's quota allows
    less (a container started with ``--cpus 1`` on a large host: one)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_quota(cpu_max)
    return max(1, min(cores, quota)) if quota is not None else max(1, cores)


def cgroup_quota(cpu_max: Path = CGROUP_CPU_MAX) -> int | None:
    """The cores a cgroup v2 quota allows, rounded up (None: no quota, or not readable)."""
    try:
        quota, period = cpu_max.read_text(encoding="ascii").split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None
