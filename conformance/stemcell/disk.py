"""The root disk: an MBR disk with one bootable ext4 partition and extlinux, then qcow2.

No device-mapper or kpartx on this kernel: the partition is reached with a loop device at its
byte offset. ext4 without metadata_csum/64bit, which extlinux 6.04 cannot read.
"""

from __future__ import annotations

from pathlib import Path

from conformance.stemcell.host import MBR_BIN, Runner
from conformance.stemcell.mounts import loop_device, mounted
from conformance.stemcell.rootfs import ROOT_FLAGS, ROOT_LABEL, kernel_version

SECTOR = 512
START_SECTOR = 2048
MBR_CODE_BYTES = 440
KERNEL_ARGS = (
    f"root=LABEL={ROOT_LABEL} rw rootflags={ROOT_FLAGS} console=tty0 console=ttyS0,115200n8 quiet"
    " fsck.mode=skip net.ifnames=0"
)


def extlinux_conf(kernel: str) -> str:
    """Boot at once (TIMEOUT 1 = 0.1 s); the last console= (the serial port) is /dev/console."""
    return (
        "DEFAULT linux\nTIMEOUT 1\nPROMPT 0\n"
        "LABEL linux\n"
        f"  KERNEL /boot/vmlinuz-{kernel}\n"
        f"  INITRD /boot/initrd.img-{kernel}\n"
        f"  APPEND {KERNEL_ARGS}\n"
    )


def make_raw_disk(runner: Runner, rootfs: Path, raw: Path, size_mib: int, mountpoint: Path) -> None:
    """Partition ``raw``, make the file system, copy ``rootfs`` in, install extlinux and the MBR."""
    size = size_mib * 1024 * 1024
    with open(raw, "wb") as f:
        f.truncate(size)
    _partition(runner, raw)
    offset = START_SECTOR * SECTOR
    with loop_device(runner, raw, offset, size - offset) as device:
        runner.run(["mkfs.ext4", "-q", "-L", ROOT_LABEL, "-O", "^metadata_csum,^64bit", device])
        with mounted(runner, device, mountpoint) as mnt:
            runner.run(["cp", "-a", f"{rootfs}/.", f"{mnt}/"], timeout=900)
            (mnt / "boot/extlinux").mkdir(parents=True, exist_ok=True)
            (mnt / "boot/extlinux/extlinux.conf").write_text(extlinux_conf(kernel_version(mnt)))
            runner.run(["extlinux", "--install", str(mnt / "boot/extlinux")])
    _write_mbr(raw)


def _partition(runner: Runner, raw: Path) -> None:
    """One bootable Linux partition from sector 2048 to the end."""
    script = f"label: dos\nstart={START_SECTOR}, type=83, bootable\n"
    runner.run(["sfdisk", "--quiet", str(raw)], input=script, timeout=60)


def _write_mbr(raw: Path) -> None:
    """syslinux's MBR boot code into the first 440 bytes, leaving the partition table intact."""
    code = MBR_BIN.read_bytes()[:MBR_CODE_BYTES]
    with open(raw, "r+b") as f:
        f.write(code)


def to_qcow2(runner: Runner, raw: Path, qcow2: Path) -> None:
    """Compressed qcow2: about an eighth of the raw size, which Glance and Nova take as is."""
    runner.run(["qemu-img", "convert", "-c", "-O", "qcow2", str(raw), str(qcow2)], timeout=1800)
