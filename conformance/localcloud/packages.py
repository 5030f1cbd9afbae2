"""Debian 12's own packages for the cloud, installed so that no install starts a service.

Two details matter on this machine kind (see notes/local-cloud.md):
- ``/usr/sbin/policy-rc.d`` (exit 101) keeps postinst scripts from starting daemons: we start
  them ourselves, detached, with our own pid files.
- nova-compute-qemu in bookworm-security depends on the ``qemu-system`` metapackage, which pulls in
  every emulator arch; libvirtd then probes them all at start (about 55 s). A local stand-in
  ``qemu-system`` package that depends on qemu-system-x86 only satisfies it (the equivs technique).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conformance.core.host import missing_packages
from conformance.localcloud.procs import Runner

PACKAGES = (
    # infrastructure
    "mariadb-server", "python3-pymysql", "rabbitmq-server", "memcached", "python3-memcache",
    # OpenStack Zed services
    "keystone", "glance-api", "placement-api", "python3-openstackclient",
    "nova-api", "nova-conductor", "nova-scheduler", "nova-compute-qemu",
    "neutron-server", "neutron-linuxbridge-agent", "neutron-dhcp-agent", "neutron-l3-agent",
    "neutron-metadata-agent", "cinder-api", "cinder-scheduler", "cinder-volume",
    # hypervisor: x86 TCG only, librbd block driver for Ceph volumes
    "qemu-system-x86", "qemu-block-extra", "qemu-utils", "genisoimage",
    "libvirt-daemon-system", "libvirt-clients",
    # networking
    "iptables", "ipset", "dnsmasq-base", "dnsmasq-utils", "iproute2", "bridge-utils", "conntrack",
    # single-node Ceph for Cinder
    "ceph-mon", "ceph-osd", "ceph-common", "python3-rbd", "python3-rados", "uuid-runtime",
)  # fmt: skip

# The commands the bring-up and teardown steps run, and those Neutron's agents run for us (dnsmasq for
# DHCP, haproxy for the metadata proxy, conntrack and iptables for security groups): each must come
# with PACKAGES (hostdeps.check looks for them on a fresh root).
COMMANDS = (
    "ip", "bridge", "iptables", "iptables-save", "iptables-restore", "ipset", "conntrack", "dnsmasq", "haproxy",
    "mysql", "mariadb-install-db", "rabbitmqctl", "keystone-manage", "glance-manage", "placement-manage",
    "nova-manage", "neutron-db-manage", "cinder-manage", "virsh", "qemu-img", "qemu-system-x86_64",
    "ceph", "ceph-authtool", "monmaptool", "rbd", "openstack", "uuidgen", "dpkg-deb", "apt-mark",
)  # fmt: skip

POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
POLICY_RC_D_TEXT = "#!/bin/sh\n# cpi-conformance local cloud: package installs start no service\nexit 101\n"
STANDIN = "qemu-system"
APT_LOCK_TIMEOUT = 600  # another engineer's apt-get may hold the dpkg lock
APT_GET = (  # every install of the step: no prompts, no recommends, keep our config files
    "apt-get", "-y", "-q", "--no-install-recommends", "-o", f"DPkg::Lock::Timeout={APT_LOCK_TIMEOUT}",
    "-o", "Dpkg::Options::=--force-confmiss", "-o", "Dpkg::Options::=--force-confold",
)  # fmt: skip


def missing(packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """The local cloud's packages not installed yet (one dpkg-query call: fast on a warm `up`)."""
    return missing_packages(packages)


def ensure_policy_rc_d() -> None:
    """Any policy-rc.d that exits 101 will do; install ours only when none is there."""
    if POLICY_RC_D.exists():
        return
    POLICY_RC_D.write_text(POLICY_RC_D_TEXT)
    os.chmod(POLICY_RC_D, 0o755)


def standin_control(version: str, arch: str) -> str:
    """Same name, version and arch as the candidate: apt then sees it as installed and current."""
    return (
        f"Package: {STANDIN}\nVersion: {version}\nArchitecture: {arch}\n"
        "Maintainer: cpi-conformance <noreply@localhost>\nDepends: qemu-system-x86\n"
        "Section: metapackages\nPriority: optional\n"
        "Description: stand-in for qemu-system: x86 emulation only (cpi-conformance local cloud)\n"
    )


def candidate_version(runner: Runner, package: str) -> str:
    out = runner.run(["apt-cache", "policy", package]).stdout
    for line in out.splitlines():
        if line.strip().startswith("Candidate:"):
            return line.split(":", 1)[1].strip()
    raise ValueError(f"apt-cache policy {package}: no candidate")


def standin_installed() -> bool:
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Status}|${Maintainer}", STANDIN],
                          capture_output=True, text=True)  # fmt: skip
    status, _, maintainer = proc.stdout.partition("|")
    return status.endswith(" ok installed") and maintainer.startswith("cpi-conformance")


def ensure_standin(runner: Runner, workdir: Path) -> None:
    """Build and install the stand-in, held so that no later apt run swaps in the real one.

    Only once qemu-system-x86 is installed: dpkg then finds its Depends met. Installed before it
    (with --force-depends) and held, it left apt broken on a fresh machine: every later
    ``apt-get install`` refused with "Unmet dependencies", even ``-f`` while the hold stood.
    """
    if standin_installed():
        return
    version = candidate_version(runner, STANDIN)
    arch = runner.run(["dpkg", "--print-architecture"]).stdout.strip()
    root = workdir / "qemu-system-standin"
    (root / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (root / "DEBIAN" / "control").write_text(standin_control(version, arch))
    deb = workdir / "qemu-system-standin.deb"
    runner.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)])
    runner.run(["dpkg", "-i", str(deb)])
    runner.run(["apt-mark", "hold", STANDIN])


def repair_broken_standin(runner: Runner, env: dict[str, str]) -> bool:
    """Undo what an earlier version of this step left: the held stand-in without qemu-system-x86.

    apt refuses every install in that state; without the hold, ``apt-get -f install`` completes
    the stand-in's dependency. Returns True when it repaired something.
    """
    if not standin_installed() or "qemu-system-x86" not in missing(("qemu-system-x86",)):
        return False
    runner.run(["apt-mark", "unhold", STANDIN])
    runner.run([*APT_GET, "-f", "install"], env=env)
    runner.run(["apt-mark", "hold", STANDIN])
    return True


def install(runner: Runner, workdir: Path) -> list[str]:
    """apt-get install what is missing; returns the packages it installed (empty: nothing to do).

    Order: qemu-system-x86 first, then the stand-in for the qemu-system metapackage (its one
    dependency is met by then), then the rest (nova-compute-qemu finds qemu-system installed).
    """
    todo = missing()
    if not todo:
        return []
    ensure_policy_rc_d()
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    runner.run(["apt-get", "-o", f"DPkg::Lock::Timeout={APT_LOCK_TIMEOUT}", "update", "-q"], env=env)
    repair_broken_standin(runner, env)
    if "qemu-system-x86" in missing(("qemu-system-x86",)):
        runner.run([*APT_GET, "install", "qemu-system-x86"], env=env)
    ensure_standin(runner, workdir)
    rest = missing()
    if rest:
        runner.run([*APT_GET, "install", *rest], env=env)
    return todo
