"""Our initramfs: the modules the guest needs with their dependencies in load order, a newc cpio
archive the kernel can unpack, equal bytes for equal inputs, and nothing else (no udev)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from conformance.stemcell import initramfs

pytestmark = pytest.mark.unit

KERNEL = "6.1.0-0-cloud-amd64"
DEP = """\
kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko \
kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/scsi/scsi_common.ko:
kernel/drivers/scsi/scsi_mod.ko: kernel/drivers/scsi/scsi_common.ko
kernel/drivers/scsi/virtio_scsi.ko: kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko \
kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/scsi/sd_mod.ko: kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko
kernel/drivers/ata/libata.ko: kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko
kernel/drivers/ata/ata_piix.ko: kernel/drivers/ata/libata.ko kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko
kernel/drivers/cdrom/cdrom.ko:
kernel/drivers/scsi/sr_mod.ko: kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko kernel/drivers/cdrom/cdrom.ko
kernel/fs/isofs/isofs.ko: kernel/drivers/cdrom/cdrom.ko
kernel/fs/fat/fat.ko:
kernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko
kernel/net/core/failover.ko:
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko \
kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/acpi/button.ko:
kernel/drivers/input/evdev.ko:
kernel/drivers/gpu/drm/drm.ko:
"""


def _deps() -> dict[str, list[str]]:
    return initramfs.parse_modules_dep(DEP.replace("\\\n", ""))


def test_each_module_comes_after_what_it_needs_and_once():
    order = initramfs.load_order(("virtio_blk", "virtio_pci", "sr_mod", "ata_piix"), _deps())

    names = [Path(p).name.removesuffix(".ko") for p in order]
    assert len(names) == len(set(names)), "each module once"
    for path in order:
        for need in _deps()[path]:
            assert order.index(need) < order.index(path), f"{need} before {path}"
    assert set(names) == {"virtio", "virtio_ring", "virtio_blk", "virtio_pci", "virtio_pci_legacy_dev",
                          "virtio_pci_modern_dev", "scsi_common", "scsi_mod", "cdrom", "sr_mod", "libata", "ata_piix"}


def test_a_module_the_kernel_lacks_is_an_error():
    with pytest.raises(KeyError, match="nvme"):
        initramfs.load_order(("nvme",), _deps())


def _unpack(data: bytes) -> dict[str, tuple[int, bytes, tuple[int, int]]]:
    """A newc reader: {path: (mode, content, (rdev major, minor))}."""
    entries, offset = {}, 0
    while True:
        assert data[offset : offset + 6] == b"070701", f"newc magic at {offset}"
        fields = [int(data[offset + 6 + 8 * i : offset + 14 + 8 * i], 16) for i in range(13)]
        mode, size, major, minor, namesize = fields[1], fields[6], fields[9], fields[10], fields[11]
        name = data[offset + 110 : offset + 110 + namesize - 1].decode()
        offset += 110 + namesize
        offset += -offset % 4
        content = data[offset : offset + size]
        offset += size + (-size % 4)
        if name == "TRAILER!!!":
            return entries
        entries[name] = (mode, content, (major, minor))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    moddir = tmp_path / "lib/modules" / KERNEL
    for line in DEP.replace("\\\n", "").splitlines():
        module = moddir / line.split(":")[0]
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_bytes(b"\x7fELF " + module.name.encode())
    (moddir / "modules.dep").write_text(DEP)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/busybox").write_bytes(b"\x7fELF busybox")
    return tmp_path


def test_the_archive_holds_init_busybox_and_the_modules_only(root):
    files = _unpack(gzip.decompress(initramfs.build(root, KERNEL)))

    assert files["init"][0] == 0o100755 and files["init"][1].startswith(b"#!/bin/busybox sh\n")
    assert files["bin/busybox"] == (0o100755, b"\x7fELF busybox", (0, 0))
    assert files["dev/console"][0] == 0o20600 and files["dev/console"][2] == (5, 1), "a console for /init"
    listed = files["modules"][1].decode().split()
    assert [Path(p).name.removesuffix(".ko") for p in listed][-2:] == ["button", "evdev"]
    assert {f"lib/modules/{p}" for p in listed} == {n for n in files if n.endswith(".ko")}, "modules listed = shipped"
    assert "kernel/drivers/gpu/drm/drm.ko" not in listed
    regular = {n for n, (mode, _, _) in files.items() if mode & 0o170000 == 0o100000}
    assert regular == {"init", "bin/busybox", "modules"} | {f"lib/modules/{p}" for p in listed}, "no udev, no libc"


def test_equal_inputs_give_equal_bytes(root):
    assert initramfs.build(root, KERNEL) == initramfs.build(root, KERNEL)


def test_init_mounts_root_by_label_read_write_and_switches_to_systemd():
    init = initramfs.INIT

    assert "findfs \"$root\"" in init and "ro | rw) mode=$arg" in init
    assert 'switch_root /root "$init"' in init and "init=/sbin/init" in init
    assert "udev" not in init


def test_install_replaces_the_initrd(root):
    (root / "boot").mkdir()
    (root / "boot" / f"initrd.img-{KERNEL}").write_bytes(b"initramfs-tools' image")

    path = initramfs.install(root, KERNEL)

    assert path == root / "boot" / f"initrd.img-{KERNEL}"
    assert gzip.decompress(path.read_bytes()).startswith(b"070701")
