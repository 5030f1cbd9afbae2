"""What this machine needs from Debian, by purpose: the one package plan of the project.

Each group names the packages its install step installs and, separately, the programs and files
the project's code runs or reads. ``check`` looks only for the latter, so a package dropped from a
plan shows up as the program that went missing, on a fresh root (tests/freshroot) as on a runner.

    runner      what `conformance run` itself shells out to (ping from the runner, ip route)
    component   the project's component tier: qemu, config-drive tools, sshd, chromium, jq
    stemcell    the test stemcell build (conformance/stemcell/host.py)
    localcloud  the local OpenStack (conformance/localcloud/packages.py and its daemons)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

APT_LOCK_TIMEOUT = 900  # another apt-get (or an earlier step) may hold the dpkg lock


@dataclass(frozen=True)
class Group:
    name: str
    why: str
    packages: tuple[str, ...]
    needs: tuple[str, ...]  # command names (looked up on PATH) or absolute paths
    install: Callable[[Callable[[str], object]], list[str]] | None = None  # own install step

    def missing(self, which: Callable[[str], str | None] = shutil.which, root: Path = Path("/")) -> list[str]:
        """What this group's code needs and cannot find (under ``root`` for absolute paths)."""
        gone = []
        for need in self.needs:
            if need.startswith("/"):
                found = (root / need.lstrip("/")).exists()
            else:
                found = which(need) is not None
            if not found:
                gone.append(need)
        return gone


def installed(packages: tuple[str, ...] | list[str]) -> set[str]:
    """The packages among ``packages`` that dpkg has in state 'ok installed'."""
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Status}\n", *packages],
                          capture_output=True, text=True)  # fmt: skip
    return {line.split()[0] for line in proc.stdout.splitlines() if line.endswith(" ok installed")}


def apt_install(packages: tuple[str, ...], progress: Callable[[str], object]) -> list[str]:
    """apt-get install what is missing of ``packages`` (no recommends, no prompts); returns it."""
    have = installed(packages)
    todo = [p for p in packages if p not in have]
    if not todo:
        return []
    if os.geteuid() != 0:
        raise PermissionError(f"missing Debian packages {' '.join(todo)}: run as root to install them")
    progress(f"apt-get install {' '.join(todo)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    lock = ["-o", f"DPkg::Lock::Timeout={APT_LOCK_TIMEOUT}"]
    for argv in (["apt-get", *lock, "update", "-q"],
                 ["apt-get", *lock, "install", "-y", "-q", "--no-install-recommends", *todo]):  # fmt: skip
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=1800)  # fmt: skip
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"`{' '.join(argv)}` exited {proc.returncode}:\n{tail}")
    return todo


def _stemcell() -> Group:
    from conformance.stemcell import host

    def install(progress):
        return host.ensure_tools(_QuietRunner(), progress)

    return Group("stemcell", "the test stemcell build", tuple(dict.fromkeys(host.BUILD_TOOLS.values())),
                 tuple(host.BUILD_TOOLS), install)


def _localcloud() -> Group:
    from conformance.localcloud import packages, services

    def install(progress):
        import tempfile

        from conformance.localcloud.procs import Runner

        progress("local cloud packages (as `conformance local-cloud up --only packages`)")
        with tempfile.TemporaryDirectory(prefix="cfm-debs-") as work:
            return packages.install(Runner(None), Path(work))

    return Group("localcloud", "the local OpenStack", packages.PACKAGES,
                 tuple(dict.fromkeys([*services.required_files(), *packages.COMMANDS])), install)


class _QuietRunner:
    """The stemcell host's Runner contract without a build log (install only)."""

    def run(self, cmd, *, timeout: float = 1800, env: dict | None = None, input: str | None = None) -> str:
        proc = subprocess.run(list(cmd), env=dict(os.environ, **(env or {})), capture_output=True, text=True,
                              timeout=timeout, input=input, stdin=None if input else subprocess.DEVNULL)  # fmt: skip
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"`{' '.join(cmd)}` exited {proc.returncode}:\n{tail}")
        return proc.stdout


RUNNER = Group(
    "runner", "`conformance run` on the test runner",
    packages=("iputils-ping", "iproute2"),
    needs=("ping", "ip"),
)  # fmt: skip
COMPONENT = Group(
    "component", "the project's component tier",
    packages=("qemu-system-x86", "qemu-utils", "genisoimage", "dosfstools", "mtools", "jq", "openssh-client",
              "openssh-server", "iputils-ping", "iproute2", "chromium", "e2fsprogs"),
    needs=("qemu-system-x86_64", "qemu-img", "genisoimage", "mkfs.vfat", "mcopy", "jq", "/usr/sbin/sshd",
           "ssh-keygen", "ping", "ip", "chromium", "mkfs.ext4"),
)  # fmt: skip


def groups() -> dict[str, Group]:
    return {g.name: g for g in (RUNNER, COMPONENT, _stemcell(), _localcloud())}


def install(names: list[str], progress: Callable[[str], object] = print) -> list[str]:
    """Install the groups in the order given; returns every package installed."""
    done: list[str] = []
    table = groups()
    for name in names:
        group = table[name]
        done += group.install(progress) if group.install else apt_install(group.packages, progress)
    return done
