"""The guest root file system: debootstrap, then turn it into a small BOSH-like test stemcell.

Tuned for booting fast under TCG: a tiny initramfs with only the virtio disk drivers, the agent
before sshd, no timers or services that the suite does not need, one ed25519 host key made per VM.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from conformance.stemcell import recipe
from conformance.stemcell.host import Runner

ROOT_LABEL = "stemcellroot"
INITRAMFS_MODULES = ("virtio_pci", "virtio_blk", "virtio_scsi", "sd_mod", "ext4", "crc32c_generic")
MASKED_UNITS = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "systemd-networkd-wait-online.service",
)
TRIM = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "var/cache/apt",
    "var/lib/apt/lists",
    "var/log/apt",
    "var/cache/debconf/templates.dat-old",
)


def debootstrap(runner: Runner, target: Path, mirror: str) -> None:
    runner.run(
        [
            "debootstrap",
            "--variant=minbase",
            "--components=main",
            "--include=" + ",".join(recipe.PACKAGES),
            recipe.SUITE,
            str(target),
            mirror,
        ],
        timeout=1800,
    )


def kernel_version(target: Path) -> str:
    kernels = sorted(p.name.removeprefix("vmlinuz-") for p in (target / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise FileNotFoundError(f"no kernel in {target / 'boot'}")
    return kernels[-1]


def configure(runner: Runner, target: Path) -> None:
    """Everything after debootstrap, in the order a reader would check it."""
    _install_agent(target)
    _create_vcap(runner, target)
    _configure_ssh(target)
    _configure_boot(runner, target)
    _trim(target)


def _install_agent(target: Path) -> None:
    files = recipe.FILES_DIR
    _put(target / "usr/local/sbin/conformance-agent", files / "conformance-agent", 0o755)
    for unit in ("conformance-agent.service", "conformance-hostkey.service"):
        _put(target / "etc/systemd/system" / unit, files / unit)
        _enable(target, unit, "multi-user.target")
    _put(target / "etc/dhcp/dhclient-enter-hooks.d/conformance", files / "dhclient-enter-hook")
    for unit in MASKED_UNITS:
        _mask(target, unit)


def _create_vcap(runner: Runner, target: Path) -> None:
    """vcap as on BOSH stemcells: a login with passwordless sudo and no usable password."""
    chroot = ["chroot", str(target)]
    runner.run([*chroot, "useradd", "--create-home", "--shell", "/bin/bash", "--groups", "sudo", "vcap"])
    runner.run([*chroot, "usermod", "--password", "*", "vcap"])  # not locked: key login works
    runner.run([*chroot, "passwd", "--lock", "root"])
    sudoers = target / "etc/sudoers.d/vcap"
    sudoers.write_text("vcap ALL=(ALL) NOPASSWD:ALL\n")
    sudoers.chmod(0o440)
    (target / "var/vcap/bosh").mkdir(parents=True, exist_ok=True)


def _configure_ssh(target: Path) -> None:
    """Host keys are per VM (conformance-hostkey.service at first boot), never baked into the image."""
    for key in (target / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    _put(target / "etc/ssh/sshd_config.d/conformance.conf", recipe.FILES_DIR / "sshd-conformance.conf")


def _configure_boot(runner: Runner, target: Path) -> None:
    (target / "etc/fstab").write_text(f"LABEL={ROOT_LABEL} / ext4 defaults,noatime,errors=remount-ro 0 0\n")
    (target / "etc/hostname").write_text("stemcell\n")
    (target / "etc/hosts").write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n")
    conf = target / "etc/initramfs-tools"
    (conf / "conf.d/conformance").write_text("MODULES=list\nRESUME=none\n")
    (conf / "modules").write_text("\n".join(INITRAMFS_MODULES) + "\n")
    # The cdrom controller early (udev would load it seconds later): the config drive is on it;
    # and the NIC driver, so that the agent finds every NIC by MAC once it has read the drive.
    (target / "etc/modules-load.d/config-drive.conf").write_text("ata_piix\nsr_mod\nisofs\nvfat\nvirtio_net\n")
    runner.run(["chroot", str(target), "update-initramfs", "-u", "-k", kernel_version(target)])


def _trim(target: Path) -> None:
    for rel in TRIM:
        path = target / rel
        if path.is_dir():
            shutil.rmtree(path)
            path.mkdir()
        elif path.exists():
            path.unlink()
    (target / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    (target / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    machine_id = target / "etc/machine-id"
    machine_id.write_text("")  # systemd makes one per VM at first boot


def _put(dest: Path, source: Path, mode: int = 0o644) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)
    dest.chmod(mode)


def _enable(target: Path, unit: str, wanted_by: str) -> None:
    wants = target / "etc/systemd/system" / f"{wanted_by}.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / unit
    if not link.is_symlink():
        os.symlink(f"/etc/systemd/system/{unit}", link)


def _mask(target: Path, unit: str) -> None:
    link = target / "etc/systemd/system" / unit
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink("/dev/null", link)
