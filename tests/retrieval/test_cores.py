"""The cores a build may use: affinity and a container's CPU quota."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.cores import cgroup_quota, usable_cores


@pytest.mark.parametrize(
    ("cpu_max", "cores"),
    [("max 100000\n", None), ("100000 100000\n", 1), ("150000 100000", 2), ("garbled", None)],
)
def test_a_cgroup_quota_is_read_in_whole_cores(
    tmp_path: Path, cpu_max: str, cores: int | None
) -> None:
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max)
    assert cgroup_quota(path) == cores


def test_a_quota_caps_the_usable_cores(tmp_path: Path) -> None:
    path = tmp_path / "cpu.max"
    path.write_text("100000 100000")
    assert usable_cores(path) == 1
    assert usable_cores(tmp_path / "missing") >= 1  # no cgroup file: the affinity alone
