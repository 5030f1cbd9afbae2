"""What the test stemcell's recipe promises about its boot, read from the files it writes into a
root file system: the bootloader does not wait, the kernel command line, per-VM ed25519 host keys
made at first boot and none shipped, the units a test VM does without, the agent early and before
sshd, and the programs the suite's guest probes run."""

from __future__ import annotations

import configparser
import os
from pathlib import Path

import pytest

from conformance.stemcell import disk, initramfs, recipe, rootfs

pytestmark = pytest.mark.unit

FILES = recipe.FILES_DIR


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string((FILES / name).read_text())
    return parser


def test_extlinux_boots_the_default_at_once():
    conf = disk.extlinux_conf("6.1.0-0-cloud-amd64").splitlines()

    assert "PROMPT 0" in conf, "no boot prompt"
    assert int(next(line.split()[1] for line in conf if line.startswith("TIMEOUT"))) <= 1, "0.1 s at most"
    assert "  INITRD /boot/initrd.img-6.1.0-0-cloud-amd64" in conf


def test_kernel_command_line():
    args = disk.KERNEL_ARGS.split()

    assert [a for a in args if a.startswith("console=")][-1] == "console=ttyS0,115200n8", "serial is /dev/console"
    assert {"quiet", "rw", "fsck.mode=skip", "net.ifnames=0", f"root=LABEL={rootfs.ROOT_LABEL}"} <= set(args)
    assert f"rootflags={rootfs.ROOT_FLAGS}" in args, "the initramfs mounts root with fstab's options"
    assert not {"splash", "ro"} & set(args)


def test_sshd_uses_one_ed25519_host_key_and_no_dns():
    lines = [line.split() for line in (FILES / "sshd-conformance.conf").read_text().splitlines()
             if line and not line.startswith("#")]  # fmt: skip

    assert [words for words in lines if words[0] == "HostKey"] == [["HostKey", "/etc/ssh/ssh_host_ed25519_key"]]
    assert ["UseDNS", "no"] in lines and ["PasswordAuthentication", "no"] in lines


def test_the_host_key_is_made_at_first_boot_before_sshd():
    unit = _unit("conformance-hostkey.service")

    assert unit["Service"]["ExecStart"].split()[:4] == ["/usr/bin/ssh-keygen", "-q", "-t", "ed25519"]
    assert unit["Service"]["ExecStart"].endswith("-f /etc/ssh/ssh_host_ed25519_key")
    assert unit["Unit"]["ConditionPathExists"] == "!/etc/ssh/ssh_host_ed25519_key", "first boot only"
    assert "ssh.service" in unit["Unit"]["Before"].split()
    assert unit["Unit"]["DefaultDependencies"] == "no", "early, beside the agent"


@pytest.fixture
def guest_root(tmp_path: Path) -> Path:
    """A root file system as debootstrap leaves it, as far as the recipe's steps look."""
    ssh = tmp_path / "etc/ssh"
    ssh.mkdir(parents=True)
    for name in ("ssh_host_rsa_key", "ssh_host_rsa_key.pub", "ssh_host_ecdsa_key", "ssh_host_ed25519_key"):
        (ssh / name).write_text("a key made when openssh-server was installed\n")
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    (tmp_path / "etc/systemd/system/getty@tty1.service").write_text("a real unit file\n")
    return tmp_path


def test_no_host_key_is_shipped(guest_root):
    rootfs._configure_ssh(guest_root)

    assert sorted(p.name for p in (guest_root / "etc/ssh").glob("ssh_host_*")) == [], "keys from the build"
    assert (guest_root / "etc/ssh/sshd_config.d/conformance.conf").read_bytes() == (
        FILES / "sshd-conformance.conf"
    ).read_bytes()


def test_sshd_starts_without_its_config_test_and_the_journal_is_volatile(guest_root):
    rootfs._configure_ssh(guest_root)

    drop_in = (guest_root / "etc/systemd/system/ssh.service.d/conformance.conf").read_text()
    assert "\nExecStartPre=\n" in drop_in, "sshd -t cleared"
    assert "Storage=volatile" in (guest_root / "etc/systemd/journald.conf.d/conformance.conf").read_text()
    trigger = (guest_root / "etc/systemd/system/systemd-udev-trigger.service.d/conformance.conf").read_text()
    assert "--subsystem-match=pci --subsystem-match=block --subsystem-match=net --subsystem-match=input" in trigger


def _masked(path: Path) -> bool:
    return path.is_symlink() and os.readlink(path) == "/dev/null"


def test_units_generators_and_nologin_are_masked(guest_root):
    rootfs._install_agent(guest_root)

    system = guest_root / "etc/systemd/system"
    assert all(_masked(system / unit) for unit in rootfs.MASKED_UNITS), "every masked unit -> /dev/null"
    assert {"getty@tty1.service", "getty-static.service", "apt-daily.timer", "systemd-networkd-wait-online.service",
            "e2scrub_all.timer", "systemd-journal-flush.service"} <= set(rootfs.MASKED_UNITS)  # fmt: skip
    assert all(_masked(guest_root / "etc/systemd/system-generators" / g) for g in rootfs.MASKED_GENERATORS)
    assert "systemd-fstab-generator" not in rootfs.MASKED_GENERATORS
    assert _masked(guest_root / "etc/tmpfiles.d/systemd-nologin.conf"), "no 'System is booting up' refusal"
    assert not {"acpid.service", "acpid.path", "ssh.service"} & set(rootfs.MASKED_UNITS), (
        "the power button (soft reboot) and sshd stay"
    )


def test_the_power_button_powers_off(guest_root):
    rootfs._install_agent(guest_root)

    event = dict(line.split("=", 1) for line in (guest_root / "etc/acpi/events/powerbtn").read_text().splitlines()
                 if "=" in line and not line.startswith("#"))  # fmt: skip
    assert event == {"event": "button[ /]power", "action": "/sbin/poweroff"}
    assert "acpid" in recipe.PACKAGES
    assert {"button", "evdev"} <= set(initramfs.MODULES), "the button's driver and its event device"


def test_agent_and_host_key_units_are_enabled(guest_root):
    rootfs._install_agent(guest_root)

    wants = guest_root / "etc/systemd/system/multi-user.target.wants"
    assert {os.readlink(wants / u) for u in ("conformance-agent.service", "conformance-hostkey.service")} == {
        "/etc/systemd/system/conformance-agent.service",
        "/etc/systemd/system/conformance-hostkey.service",
    }


def test_the_agent_runs_early_and_before_sshd():
    unit = _unit("conformance-agent.service")["Unit"]

    assert unit["DefaultDependencies"] == "no"
    assert "ssh.service" in unit["Before"].split()
    assert not {"basic.target", "sysinit.target", "systemd-udev-trigger.service"} & set(unit["After"].split()), (
        "the agent does not wait for udev or the end of sysinit"
    )


# What the suite runs in the guest (conformance/guest/*.py, the component tests) -> its package.
PROBE_PACKAGES = {
    "ip": "iproute2",
    "lsblk, blkid, mount, umount, findmnt": "util-linux",
    "mkfs.ext4": "e2fsprogs",
    "ping": "iputils-ping",
    "sudo -n": "sudo",
    "sshd": "openssh-server",
    "jq (the agent)": "jq",
    "dhclient (the agent)": "isc-dhcp-client",
    "busybox (the initramfs)": "busybox-static",
}


@pytest.mark.parametrize("programs", sorted(PROBE_PACKAGES))
def test_the_programs_the_suite_runs_stay_in_the_image(programs):
    assert PROBE_PACKAGES[programs] in recipe.PACKAGES, programs


def test_sshd_sessions_run_no_motd_scripts(guest_root):
    pam = guest_root / "etc/pam.d/sshd"
    pam.parent.mkdir(parents=True)
    pam.write_text("@include common-auth\nsession    optional     pam_motd.so  motd=/run/motd.dynamic\n"
                   "session    optional     pam_motd.so noupdate\nsession    required     pam_limits.so\n")

    rootfs._configure_ssh(guest_root)

    active = [line for line in pam.read_text().splitlines() if not line.startswith("#")]
    assert active == ["@include common-auth", "session    required     pam_limits.so"]
