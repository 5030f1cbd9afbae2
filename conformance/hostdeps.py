"""What this machine needs from Debian, by purpose: the one package plan of the project.

Each group names the packages its install step installs and, separately, the programs and files
the project's code runs or reads. ``check`` looks only for the latter, so a package dropped from a
plan shows up as the program that went missing, on a fresh root (tests/freshroot) as on a runner.

    runner      what `conformance run` itself shells out to (ping from the runner, ip route), and
                ssh-keygen, which signs and verifies result bundles (conformance bundle, report verify)
    component   the project's component tier: qemu, config-drive tools, sshd, chromium, jq
    stemcell    the test stemcell build (conformance/stemcell/host.py)
    localcloud  the local OpenStack (conformance/localcloud/packages.py and its daemons)

It gathers the stemcell's and the local cloud's plans, so it sits above both and below the command
line (`conformance host`); the dpkg query they share is conformance.core.host.missing_packages.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from conformance.core.errors import UsageError
from conformance.core.host import missing_packages

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


def apt_install(packages: tuple[str, ...], progress: Callable[[str], object]) -> list[str]:
    """apt-get install what is missing of ``packages`` (no recommends, no prompts); returns it.
    A failing apt-get raises localcloud.procs.CommandFailed with its output's tail."""
    from conformance.localcloud.procs import Runner

    todo = missing_packages(packages)
    if not todo:
        return []
    if os.geteuid() != 0:
        raise UsageError(f"missing Debian packages {' '.join(todo)}: run as root to install them")
    progress(f"apt-get install {' '.join(todo)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    lock = ["-o", f"DPkg::Lock::Timeout={APT_LOCK_TIMEOUT}"]
    runner = Runner(None)
    runner.run(["apt-get", *lock, "update", "-q"], env=env)
    runner.run(["apt-get", *lock, "install", "-y", "-q", "--no-install-recommends", *todo], env=env)
    return todo


def _stemcell() -> Group:
    from conformance.stemcell import host

    def install(progress):
        import tempfile

        with tempfile.NamedTemporaryFile("w", prefix="cfm-host-stemcell-", suffix=".log", delete=False) as log:
            done = host.ensure_tools(host.Runner(Path(log.name), "build tools"), progress)
        Path(log.name).unlink()  # kept (and named in the error) only when apt-get failed
        return done

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


RUNNER = Group(
    "runner", "`conformance run` on the test runner (virsh: the libvirt witness; ssh-keygen: signed bundles)",
    packages=("iputils-ping", "iproute2", "libvirt-clients", "openssh-client"),
    needs=("ping", "ip", "virsh", "ssh-keygen"),
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
