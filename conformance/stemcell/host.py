"""The build host: running commands into a build log, the apt mirror, the build tools.

Build commands are root tools (debootstrap, losetup, mount); their output goes to one log file
so that a failure can quote its tail and point at the whole thing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from conformance.stemcell.errors import StemcellBuildError

DEFAULT_MIRROR = "http://deb.debian.org/debian"
MBR_BIN = Path("/usr/lib/syslinux/mbr/mbr.bin")

# What the build needs on the host -> the Debian package that provides it.
BUILD_TOOLS = {
    "debootstrap": "debootstrap",
    "extlinux": "extlinux",
    str(MBR_BIN): "syslinux-common",
    "qemu-img": "qemu-utils",
    "sfdisk": "fdisk",
    "mkfs.ext4": "e2fsprogs",
    "losetup": "mount",
}
APT_LOCK_WAIT = ["-o", "DPkg::Lock::Timeout=600"]


class Runner:
    """Runs build commands, appending their output to ``log_path``; raises on failure."""

    def __init__(self, log_path: Path, step: str = "setup"):
        self.log_path, self.step = log_path, step

    def run(
        self, cmd: Sequence[str], *, timeout: float = 900, env: dict | None = None, input: str | None = None
    ) -> str:
        started = time.monotonic()
        with open(self.log_path, "a") as log:
            log.write(f"\n$ {' '.join(cmd)}\n")
            log.flush()
            try:
                proc = subprocess.run(
                    list(cmd),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=timeout,
                    env={**os.environ, **(env or {})},
                    input=input if input is not None else "",
                )
            except subprocess.TimeoutExpired as exc:
                raise StemcellBuildError(
                    self.step, f"`{cmd[0]}` timed out after {timeout:g}s", str(self.log_path)
                ) from exc
            except FileNotFoundError as exc:
                raise StemcellBuildError(self.step, f"`{cmd[0]}` not found") from exc
            log.write(proc.stdout)
            log.write(f"[exit {proc.returncode} after {time.monotonic() - started:.1f}s]\n")
        if proc.returncode != 0:
            raise StemcellBuildError(
                self.step,
                f"`{' '.join(cmd[:3])}` exited {proc.returncode}",
                str(self.log_path),
                proc.stdout[-600:],
            )
        return proc.stdout


def apt_mirror(apt_dir: Path = Path("/etc/apt"), suite: str = "bookworm") -> str:
    """The Debian mirror this machine's apt uses for ``suite`` (one-line or deb822 sources)."""
    files = [apt_dir / "sources.list"] + sorted((apt_dir / "sources.list.d").glob("*.list"))
    for path in [f for f in files if f.is_file()]:
        for line in path.read_text().splitlines():
            uri = _one_line_uri(line, suite)
            if uri:
                return uri
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            uri = _deb822_uri(stanza, suite)
            if uri:
                return uri
    return DEFAULT_MIRROR


def _one_line_uri(line: str, suite: str) -> str | None:
    """`deb [opts] URI suite comps` -> URI when it serves ``suite``."""
    words = line.split("#", 1)[0].split()
    if not words or words[0] != "deb":
        return None
    words = words[1:]
    if words and words[0].startswith("["):
        while words and not words[0].endswith("]"):
            words = words[1:]
        words = words[1:]
    return words[0].rstrip("/") if len(words) >= 2 and words[1] == suite else None


def _deb822_uri(stanza: str, suite: str) -> str | None:
    fields: dict[str, str] = {}
    for line in stanza.splitlines():
        if ":" in line and not line.startswith((" ", "#")):
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
    if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
        return None
    if suite not in fields.get("suites", "").split():
        return None
    uris = fields.get("uris", "").split()
    return uris[0].rstrip("/") if uris else None


def missing_tools(which: Callable[[str], str | None] = shutil.which) -> list[str]:
    """Debian packages to install for the build tools that are not on this host."""
    missing = []
    for tool, package in BUILD_TOOLS.items():
        found = Path(tool).exists() if tool.startswith("/") else which(tool)
        if not found and package not in missing:
            missing.append(package)
    return missing


def ensure_tools(runner: Runner, progress: Callable[[str], object]) -> list[str]:
    """Install missing build tools with apt-get; returns what it installed."""
    packages = missing_tools()
    if packages:
        progress(f"  installing build tools with apt-get: {' '.join(packages)}")
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        runner.run(["apt-get", *APT_LOCK_WAIT, "update"], env=env)
        runner.run(
            ["apt-get", *APT_LOCK_WAIT, "install", "-y", "--no-install-recommends", *packages], env=env
        )
    return packages
