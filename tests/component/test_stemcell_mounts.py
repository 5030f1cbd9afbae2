"""Loop devices and mounts of a stemcell build are released on failure, and what a killed build
left behind is released and removed by the next one: shown with real loop devices and mounts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance.stemcell import build
from conformance.stemcell.host import Runner
from conformance.stemcell.mounts import loop_device, loops_under, mounted, mounts_under

pytestmark = [
    pytest.mark.component,
    pytest.mark.skipif(os.geteuid() != 0, reason="loop devices and mounts need root"),
    pytest.mark.skipif(not shutil.which("mkfs.ext4"), reason="needs mkfs.ext4 (e2fsprogs)"),
]

MIB = 2**20


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    """A 16 MiB disk file whose ext4 file system starts 1 MiB in, as in the stemcell's disk."""
    image = tmp_path / "disk.raw"
    with open(image, "wb") as f:
        f.truncate(16 * MIB)
    subprocess.run(["mkfs.ext4", "-q", "-E", f"offset={MIB}", str(image), "15M"], check=True)
    return image


def test_context_managers_release_on_failure(tmp_path, disk):
    runner = Runner(tmp_path / "build.log")

    with pytest.raises(RuntimeError, match="step failed"):
        with loop_device(runner, disk, MIB, 15 * MIB) as device, mounted(runner, device, tmp_path / "mnt"):
            assert mounts_under(tmp_path) == [str(tmp_path / "mnt")]
            raise RuntimeError("step failed")

    assert mounts_under(tmp_path) == [], "mount left behind"
    assert loops_under(tmp_path) == [], "loop device left behind"


def test_next_build_sweeps_a_killed_build(tmp_path, disk):
    work = tmp_path / ".build-killed"
    (work / "mnt").mkdir(parents=True)
    shutil.move(disk, work / "root.raw")
    device = subprocess.run(
        ["losetup", "--find", "--show", "--offset", str(MIB), str(work / "root.raw")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run(["mount", device, str(work / "mnt")], check=True)
    seen: list[str] = []

    build._sweep_killed_builds(tmp_path, seen.append)

    assert not work.exists(), "remains of the killed build"
    assert mounts_under(tmp_path) == [] and loops_under(tmp_path) == []
    assert seen == [f"removing the remains of an interrupted build: {work}"]
