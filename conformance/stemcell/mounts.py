"""Loop devices and mounts that are always undone: on success, on failure, and after a kill.

The kernel here has no device-mapper, so a partition is reached with `losetup -o <offset>`.
Context managers undo what they did in ``finally``; ``release_under`` sweeps what a killed
build left behind (mounts below a directory, loop devices backed by files below it) so that
the directory can be deleted without descending into a mounted file system.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conformance.stemcell.host import Runner


@contextmanager
def loop_device(runner: Runner, image: Path, offset: int, size: int) -> Iterator[str]:
    """Attach ``size`` bytes of ``image`` from ``offset`` as a loop device."""
    device = runner.run(
        ["losetup", "--find", "--show", "--offset", str(offset), "--sizelimit", str(size), str(image)]
    ).strip()
    try:
        yield device
    finally:
        _quiet(["losetup", "--detach", device])


@contextmanager
def mounted(runner: Runner, device: str, mountpoint: Path) -> Iterator[Path]:
    mountpoint.mkdir(parents=True, exist_ok=True)
    runner.run(["mount", device, str(mountpoint)])
    try:
        yield mountpoint
    finally:
        _quiet(["sync"])
        if _quiet(["umount", str(mountpoint)]) != 0:
            _quiet(["umount", "--lazy", str(mountpoint)])


def mounts_under(directory: Path) -> list[str]:
    """Mount points at or below ``directory``, deepest first."""
    root = str(directory.resolve())
    found = []
    for line in Path("/proc/mounts").read_text().splitlines():
        point = line.split()[1].replace("\\040", " ")
        if point == root or point.startswith(root + "/"):
            found.append(point)
    return sorted(found, key=len, reverse=True)


def loops_under(directory: Path) -> list[str]:
    """Loop devices whose backing file lies below ``directory``."""
    root = str(directory.resolve()) + "/"
    out = subprocess.run(
        ["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return [
        name
        for name, _, back in (line.partition(" ") for line in out.splitlines())
        if back.strip().startswith(root)
    ]


def release_under(directory: Path) -> list[str]:
    """Unmount and detach everything a build below ``directory`` left; returns what it still
    could not release (the caller must then not delete the directory)."""
    for point in mounts_under(directory):
        if _quiet(["umount", point]) != 0:
            _quiet(["umount", "--lazy", point])
    for device in loops_under(directory):
        _quiet(["losetup", "--detach", device])
    return mounts_under(directory) + loops_under(directory)


def _quiet(cmd: list[str]) -> int:
    return subprocess.run(cmd, capture_output=True, check=False).returncode
