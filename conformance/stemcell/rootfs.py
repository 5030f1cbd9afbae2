"""The guest root file system: debootstrap, then turn it into a small BOSH-like test stemcell.

Tuned for booting fast under TCG (docs/stemcell.md has the figures): our own tiny initramfs
(initramfs.py: busybox and the virtio, cdrom and NIC modules, no udev), the agent early and before
sshd, no timers, mounts, gettys or services that the suite does not need, a volatile journal, sshd
without its config test, one ed25519 host key made per VM at first boot and none in the image.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from conformance.stemcell import initramfs, recipe
from conformance.stemcell.host import Runner

ROOT_LABEL = "stemcellroot"
# fstab's options for the root, which the initramfs mounts read-write with them at once (disk.py's
# kernel command line): no remount by systemd, and systemd writes the VM's machine-id in place.
ROOT_FLAGS = "noatime,errors=remount-ro"
# Units a test VM does without: each is a process (or a mount) on the one emulated vCPU at boot.
# acpid turns the ACPI power button into a clean shutdown (soft reboot); there is no D-Bus, so
# no logind either (no pam_systemd: nothing registers sessions with it).
MASKED_UNITS = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "systemd-networkd-wait-online.service",
    "getty@tty1.service",  # no one logs in on a console: SSH with a key only
    "serial-getty@ttyS0.service",
    "getty-static.service",  # Debian's gettys on tty2-6 for a system without D-Bus and logind
    "dev-hugepages.mount",
    "dev-mqueue.mount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "sys-kernel-config.mount",
    "sys-fs-fuse-connections.mount",
    "proc-sys-fs-binfmt_misc.automount",
    "kmod-static-nodes.service",
    "modprobe@configfs.service",
    "modprobe@dm_mod.service",
    "modprobe@drm.service",
    "modprobe@efi_pstore.service",
    "modprobe@fuse.service",
    "modprobe@loop.service",
    "systemd-journal-flush.service",  # the journal is volatile (journald.conf.d below)
    "systemd-update-utmp.service",
    "systemd-update-utmp-runlevel.service",
    "systemd-pstore.service",
    "systemd-binfmt.service",
    "systemd-sysusers.service",  # the packages made their users at build time
    "systemd-remount-fs.service",  # the initramfs mounts the root read-write with fstab's options
    "systemd-random-seed.service",  # the 6.1 kernel seeds its own RNG early (crng init at boot)
    "systemd-user-sessions.service",  # only removes /run/nologin, which is never made (below)
    "systemd-modules-load.service",  # nothing to load: the initramfs loaded the drivers
    "systemd-tmpfiles-setup-dev.service",  # static /dev nodes of modules (kmod-static-nodes: masked)
    "systemd-logind.service",  # needs D-Bus, which the image does not have
)
# systemd runs every generator at start, one process each; only fstab's and debug's (systemd.mask=
# on the kernel command line) stay. No init.d scripts, rc.local, crypt/verity/integrity devices,
# GPT auto-mounts, resume, gettys or offline updates in this guest.
MASKED_GENERATORS = (
    "systemd-cryptsetup-generator",
    "systemd-getty-generator",
    "systemd-gpt-auto-generator",
    "systemd-hibernate-resume-generator",
    "systemd-integritysetup-generator",
    "systemd-rc-local-generator",
    "systemd-run-generator",
    "systemd-system-update-generator",
    "systemd-sysv-generator",
    "systemd-veritysetup-generator",
)

# Config files masked the same way (-> /dev/null): no /run/nologin "System is booting up" that
# would refuse vcap's key login between sshd's start and the end of the boot.
MASKED_CONFIGS = ("etc/tmpfiles.d/systemd-nologin.conf",)
SSHD_DROP_IN = "[Service]\n# no `sshd -t` before each start: one sshd exec less at boot\nExecStartPre=\n"
# udev's coldplug only for what the guest uses: PCI (drivers for controllers and NICs that the
# initramfs does not load: e1000, a SATA cdrom, ...), disks (labels, /dev/disk/by-id serials),
# NICs and input (the power button's event device). The full trigger replays every device of
# the machine (CPUs, memory blocks, ACPI, ttys, ...) through the rules and loads drivers for them
# (kvm, ...): the greatest load on the vCPU at boot. Hotplug (an attached volume) is as before.
UDEV_TRIGGER_DROP_IN = (
    "[Service]\nExecStart=\n"
    "ExecStart=-udevadm trigger --type=devices --action=add"
    " --subsystem-match=pci --subsystem-match=block --subsystem-match=net --subsystem-match=input\n"
)
JOURNALD_CONF = "[Journal]\n# in /run only: no flush to disk at boot\nStorage=volatile\n"
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
    for config in MASKED_CONFIGS:
        _mask_path(target / config)
    for generator in MASKED_GENERATORS:
        _mask_path(target / "etc/systemd/system-generators" / generator)
    _put(target / "etc/acpi/events/powerbtn", files / "acpid-powerbtn")


def _create_vcap(runner: Runner, target: Path) -> None:
    """vcap as on BOSH stemcells: a login with passwordless sudo and no usable password."""
    chroot = ["chroot", str(target)]
    runner.run([*chroot, "useradd", "--create-home", "--shell", "/bin/bash", "--groups", "sudo", "vcap"])
    runner.run([*chroot, "usermod", "--password", "*", "vcap"])  # not locked: key login works
    runner.run([*chroot, "passwd", "--lock", "root"])
    # ~/.ssh ready for the agent's authorized_keys (one mkdir less at boot)
    runner.run([*chroot, "install", "-d", "-m", "0700", "-o", "vcap", "-g", "vcap", "/home/vcap/.ssh"])
    sudoers = target / "etc/sudoers.d/vcap"
    sudoers.write_text("vcap ALL=(ALL) NOPASSWD:ALL\n")
    sudoers.chmod(0o440)
    (target / "var/vcap/bosh").mkdir(parents=True, exist_ok=True)


def _configure_ssh(target: Path) -> None:
    """Host keys are per VM (conformance-hostkey.service at first boot), never baked into the image."""
    for key in (target / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    _put(target / "etc/ssh/sshd_config.d/conformance.conf", recipe.FILES_DIR / "sshd-conformance.conf")
    _write(target / "etc/systemd/system/ssh.service.d/conformance.conf", SSHD_DROP_IN)
    _without_motd(target / "etc/pam.d/sshd")
    _write(target / "etc/systemd/journald.conf.d/conformance.conf", JOURNALD_CONF)
    _write(target / "etc/systemd/system/systemd-udev-trigger.service.d/conformance.conf", UDEV_TRIGGER_DROP_IN)


def _without_motd(pam: Path) -> None:
    """No pam_motd in sshd's sessions: it runs run-parts /etc/update-motd.d (run-parts, sh, uname)
    for every connection, also for a command without a terminal, as the suite's are."""
    if pam.is_file():
        lines = pam.read_text().splitlines(keepends=True)
        pam.write_text("".join(f"# {line}" if "pam_motd.so" in line and not line.startswith("#") else line
                               for line in lines))


def _configure_boot(runner: Runner, target: Path) -> None:
    (target / "etc/fstab").write_text(f"LABEL={ROOT_LABEL} / ext4 defaults,{ROOT_FLAGS} 0 0\n")
    (target / "etc/hostname").write_text("stemcell\n")
    (target / "etc/hosts").write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n")
    # Our initramfs replaces initramfs-tools' (made when the kernel was installed), and keeps doing
    # so: a kernel update in a VM would rebuild theirs, so initramfs-tools is told to leave it be.
    # It loads the cdrom controller and the NIC driver too (udev would load them seconds later):
    # the config drive and every NIC are there when the agent looks.
    initramfs.install(target, kernel_version(target))
    (target / "etc/initramfs-tools/update-initramfs.conf").write_text("update_initramfs=no\n")


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


def _write(dest: Path, text: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)


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
    _mask_path(target / "etc/systemd/system" / unit)


def _mask_path(link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink("/dev/null", link)
