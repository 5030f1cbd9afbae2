"""What the test stemcell is made of, the cache key derived from it, and its stemcell.MF.

Everything that changes the image's content feeds the cache key: the package list, the Debian
suite, the disk size, BUILD_VERSION, the guest files (agent, units) and the source of the modules
that shape the root file system and the disk. The key becomes part of the stemcell version, so a
changed input yields a new file name and an unchanged one finds the cached tarball at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

BUILD_VERSION = 1
SUITE = "bookworm"
DISK_MIB = 1024
NAME = "bosh-openstack-kvm-conformance-debian-bookworm-go_agent"
OPERATING_SYSTEM = "debian-bookworm"
FILE_PREFIX = "conformance-debian-"

# The guest: a kernel, systemd, sshd, acpid (so that the ACPI power button gives a fast soft
# reboot; lighter at boot than D-Bus with logind, which did it before), the agent's tools (jq,
# iproute2, dhclient, blkid/mount), what disk tests use, ping (VM-to-VM reachability is checked
# from inside the guest, as a BOSH job would see it), and the static busybox that our initramfs
# runs (initramfs.py).
PACKAGES = (
    "linux-image-cloud-amd64",
    "systemd-sysv",
    "udev",
    "acpid",
    "openssh-server",
    "sudo",
    "iproute2",
    "isc-dhcp-client",
    "jq",
    "kmod",
    "procps",
    "e2fsprogs",
    "fdisk",
    "util-linux",
    "iputils-ping",
    "busybox-static",
)

FILES_DIR = Path(__file__).with_name("files")
_SHAPING_MODULES = ("recipe.py", "rootfs.py", "initramfs.py", "disk.py", "tarball.py")


def recipe_files() -> list[Path]:
    """The files whose content defines the image: guest files and the shaping modules."""
    here = Path(__file__).parent
    return sorted(FILES_DIR.iterdir()) + [here / name for name in _SHAPING_MODULES]


def cache_key(
    packages: Iterable[str] = PACKAGES,
    files: Iterable[Path] | None = None,
    *,
    suite: str = SUITE,
    disk_mib: int = DISK_MIB,
    build_version: int = BUILD_VERSION,
) -> str:
    """A sha256 over every input of the build; equal inputs give an equal key."""
    digest = hashlib.sha256()
    digest.update(f"build={build_version}\nsuite={suite}\ndisk={disk_mib}\n".encode())
    digest.update(("packages=" + ",".join(sorted(packages)) + "\n").encode())
    for path in recipe_files() if files is None else sorted(files):
        digest.update(f"file={path.name}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def stemcell_version(key: str, build_version: int = BUILD_VERSION) -> str:
    """`<build version>.0-<first 12 hex of the key>`: ordered by build, unique per content."""
    return f"{build_version}.0-{key[:12]}"


def tarball_name(version: str) -> str:
    return f"{FILE_PREFIX}{version}.tgz"


def manifest(version: str, image_sha1: str, disk_mib: int = DISK_MIB) -> dict:
    """The stemcell.MF of a real OpenStack KVM stemcell, told honestly: Debian, not Ubuntu."""
    return {
        "name": NAME,
        "version": version,
        "bosh_protocol": 1,
        "api_version": 2,
        "sha1": image_sha1,
        "operating_system": OPERATING_SYSTEM,
        "stemcell_formats": ["openstack-qcow2"],
        "cloud_properties": {
            "name": NAME,
            "version": version,
            "infrastructure": "openstack",
            "hypervisor": "kvm",
            "disk": disk_mib,
            "disk_format": "qcow2",
            "container_format": "bare",
            "os_type": "linux",
            "os_distro": "debian",
            "architecture": "x86_64",
            "auto_disk_config": True,
        },
    }
