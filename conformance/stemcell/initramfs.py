"""A tiny initramfs of our own instead of initramfs-tools': busybox, a few kernel modules, /init.

Under TCG every byte the bootloader reads through the BIOS and every process the initramfs starts
costs: initramfs-tools' image is about 6 MB and runs udev to find the root disk. The kernel of
linux-image-cloud-amd64 has ext4 built in but virtio as modules, so an initramfs is still needed;
this one holds the static busybox and the modules below with their dependencies (about 1.5 MB
gzipped), and its /init insmods them, finds the root file system by label and switches to it.

Besides the root disk's driver it loads the config drive's (the IDE cdrom for iso9660, virtio for
a vfat disk) and the NIC's, so that the config drive and every NIC are there early for the agent,
and the ACPI power button's with evdev (acpid turns it into a shutdown: Nova's soft reboot): udev's
coldplug, which would load them, is limited to disks, NICs and input (rootfs.py).
The archive is reproducible: newc cpio with fixed owners and times, gzip without a time stamp.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

# Root disk first; then the config drive (cdrom controller + iso9660, or a vfat virtio disk) and NICs.
MODULES = (
    "virtio_pci",
    "virtio_blk",
    "virtio_scsi",  # the root disk on virtio-scsi (an image's hw_disk_bus=scsi, hw_scsi_model)
    "sd_mod",
    "ata_piix",
    "sr_mod",
    "isofs",
    "vfat",
    "virtio_net",
    "button",
    "evdev",
)
BUSYBOX = "bin/busybox"  # from busybox-static in the root file system
ROOT_WAIT_SECONDS = 30

INIT = r"""#!/bin/busybox sh
# conformance stemcell initramfs: load the virtio/cdrom modules, mount root by label, switch to it.
# root=LABEL=x (or a device), ro or rw, rootflags= and init= from the kernel command line.
/bin/busybox mkdir -p /proc /sys /dev /root
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
while read -r module; do /bin/busybox insmod "/lib/modules/$module"; done < /modules
root=; mode=ro; rootflags=; init=/sbin/init
for arg in $(/bin/busybox cat /proc/cmdline); do
    case "$arg" in
        root=*) root=${arg#root=} ;;
        rootflags=*) rootflags=,${arg#rootflags=} ;;
        ro | rw) mode=$arg ;;
        init=*) init=${arg#init=} ;;
    esac
done
tries=0
until dev=$(/bin/busybox findfs "$root" 2>/dev/null) && /bin/busybox mount -o "$mode$rootflags" "$dev" /root; do
    tries=$((tries + 1))
    if [ "$tries" -gt @ROOT_WAIT_TICKS@ ]; then
        echo "initramfs: root file system $root not found; dropping to a shell" > /dev/console
        exec /bin/busybox sh
    fi
    /bin/busybox sleep 0.1
done
/bin/busybox mount --move /dev /root/dev
/bin/busybox umount /sys /proc
exec /bin/busybox switch_root /root "$init" "$@"
""".replace("@ROOT_WAIT_TICKS@", str(ROOT_WAIT_SECONDS * 10))


def parse_modules_dep(text: str) -> dict[str, list[str]]:
    """modules.dep -> {path of a module: paths of the modules it needs}."""
    deps = {}
    for line in text.splitlines():
        name, sep, needs = line.partition(":")
        if sep:
            deps[name.strip()] = needs.split()
    return deps


def load_order(wanted: tuple[str, ...], deps: dict[str, list[str]]) -> list[str]:
    """Module paths to insmod for ``wanted`` (module names), each after what it needs, once."""
    by_name = {Path(path).name.removesuffix(".ko"): path for path in deps}
    order: list[str] = []

    def visit(path: str) -> None:
        if path in order:
            return
        for need in reversed(deps[path]):  # modprobe loads the last listed first
            visit(need)
        order.append(path)

    for name in wanted:
        if name not in by_name:
            raise KeyError(f"kernel module {name} is not in modules.dep")
        visit(by_name[name])
    return order


Entry = tuple[str, int, bytes, tuple[int, int]]  # path, mode, content, (major, minor) of a device


def cpio_newc(entries: list[Entry]) -> bytes:
    """A newc cpio archive (what the kernel unpacks) of the entries; owner root, time 0, so that
    equal inputs give equal bytes."""
    out = io.BytesIO()
    for ino, (name, mode, data, (major, minor)) in enumerate([*entries, ("TRAILER!!!", 0, b"", (0, 0))], 1):
        encoded = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, major, minor, len(encoded), 0)
        out.write(b"070701" + "".join(f"{value:08x}" for value in fields).encode() + encoded)
        out.write(b"\0" * (-(110 + len(encoded)) % 4))
        out.write(data)
        out.write(b"\0" * (-len(data) % 4))
    return out.getvalue()


def build(target: Path, kernel: str) -> bytes:
    """The gzipped initramfs for ``kernel`` from the root file system at ``target``."""
    moddir = target / "lib/modules" / kernel
    modules = load_order(MODULES, parse_modules_dep((moddir / "modules.dep").read_text()))
    dirs = {"bin", "dev", "proc", "sys", "root", "lib", "lib/modules"}
    for path in modules:
        parts = Path(path).parent.parts
        dirs.update("lib/modules/" + "/".join(parts[: i + 1]) for i in range(len(parts)))
    none = (0, 0)
    entries: list[Entry] = [(d, 0o40755, b"", none) for d in sorted(dirs, key=lambda d: (d.count("/"), d))]
    entries += [
        ("dev/console", 0o20600, b"", (5, 1)),  # the kernel opens it for /init's stdin/out/err
        ("init", 0o100755, INIT.encode(), none),
        (BUSYBOX, 0o100755, (target / BUSYBOX).read_bytes(), none),
        ("modules", 0o100644, "".join(f"{path}\n" for path in modules).encode(), none),
    ]
    entries += [(f"lib/modules/{path}", 0o100644, (moddir / path).read_bytes(), none) for path in modules]
    return gzip.compress(cpio_newc(entries), compresslevel=9, mtime=0)


def install(target: Path, kernel: str) -> Path:
    """Replace /boot/initrd.img-<kernel> in ``target`` with ours; returns its path."""
    path = target / "boot" / f"initrd.img-{kernel}"
    path.write_bytes(build(target, kernel))
    return path
