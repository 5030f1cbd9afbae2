"""The guest witness inside the booted test stemcell: the config drive (iso9660 cdrom and vfat
disk, as Nova writes them), the NICs by MAC and the disks, read through conformance.guest.

The VM comes from the stemcell's local boot (conformance/stemcell/localboot.py: TCG, user-mode NICs
with restrict=on, SSH forwarded from 127.0.0.1), as the stemcell boot test boots it: same image,
same config drive, same MACs.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from ipaddress import IPv4Interface

import paramiko
import pytest
import test_stemcell_boot as harness  # tests/component is on sys.path (pytest's rootdir-less import)

from conformance import guest as guest_lib
from conformance.stemcell import localboot

pytestmark = pytest.mark.component

VOLUME_BYTES = 32 * 2**20
root_img = harness.root_img  # the module-scoped fixture: builds or finds the stemcell, extracts root.img


def _qemu_with_volume(work, volume_id: str) -> str:
    """A qemu that execs the real one with one more virtio disk whose serial is ``volume_id``,
    as Nova attaches a Cinder volume (the guest sees the first 20 characters)."""
    disk, wrapper = work / "volume.raw", work / "qemu-with-volume"
    disk.write_bytes(b"")
    os.truncate(disk, VOLUME_BYTES)
    extra = f"-drive file={disk},if=none,id=volume,format=raw -device virtio-blk-pci,drive=volume,serial={volume_id},addr=0x1f"
    wrapper.write_text(f'#!/bin/sh\nexec {localboot.QEMU} "$@" {extra}\n')
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.fixture(scope="module", params=["iso9660", "vfat"])
def vm(request, root_img, tmp_path_factory):
    """(session, config drive files, agent_id, format, volume id) of a booted stemcell VM; killed
    afterwards."""
    fmt = request.param
    harness.needs_vfat_tools(fmt)
    work = tmp_path_factory.mktemp(f"guest-{fmt}")
    key, agent_id = paramiko.RSAKey.generate(2048), str(uuid.uuid4())
    key.write_private_key_file(str(work / "id_rsa"))
    files = localboot.write_config_drive(work, fmt, agent_id, f"ssh-rsa {key.get_base64()} conformance-test")
    volume_id = str(uuid.uuid4())
    vm = localboot.LocalVM.start(work, root_img, fmt, qemu=_qemu_with_volume(work, volume_id))
    try:
        time.sleep(1)
        assert vm.process.poll() is None, f"qemu exited at once: {(work / 'qemu.err').read_text()[-500:]}"
        with guest_lib.connect("127.0.0.1", "vcap", key_path=str(work / "id_rsa"), port=vm.port,
                               timeout=harness.SSH_READY_TIMEOUT, interval=2, command_timeout=60) as session:
            print(f"\nguest.connect to the stemcell ({fmt}): {time.monotonic() - vm.started:.1f}s after qemu start")
            yield session, files, agent_id, fmt, volume_id
    finally:
        vm.stop()


def test_config_drive_is_found_mounted_read_only_and_read_whole(vm):
    session, files, agent_id, fmt, _ = vm

    drive = session.config_drive()

    assert (drive.label, drive.fstype) == ("config-2", fmt), drive.device
    assert drive.device == ("/dev/sr0" if fmt == "iso9660" else "/dev/vdc")
    assert {name: text.encode() for name, text in drive.files.items()} == files, "files as the drive holds them"
    assert drive.user_data == json.loads(files["openstack/latest/user_data"]) == drive.ec2_user_data
    assert drive.meta_data["uuid"] == agent_id and drive.network_data == {"links": [], "networks": [], "services": []}
    assert set(drive.listing) == set(files)
    leftovers = session.run("grep -c cfm-config-drive /proc/mounts; ls -d /tmp/cfm-config-drive.* 2>/dev/null",
                            check=False).stdout
    assert leftovers.split() == ["0"], "the temporary mount is gone"


def test_nics_carry_the_static_addresses_by_mac_and_the_default_gateway(vm):
    session, *_ = vm

    assert session.interfaces() == {
        harness.MAC_A: [IPv4Interface("10.0.2.15/24")],
        harness.MAC_B: [IPv4Interface("10.0.3.20/24")],
    }
    assert session.ipv4_addresses() == {"10.0.2.15", "10.0.3.20"}
    assert session.default_gateway() == "10.0.2.2"


def test_identity_is_the_agent_id_and_a_boot_id(vm):
    session, _, agent_id, *_ = vm

    assert session.hostname() == agent_id
    assert uuid.UUID(session.boot_id())


def test_the_blank_disk_is_listed_formatted_mounted_and_sized(vm):
    session, *_ = vm

    assert guest_lib.BlockDevice("vdb", 64 * 2**20, None, "disk") in session.block_devices()
    session.format_and_mount("/dev/vdb", "/mnt/cfm")
    session.write_file("/mnt/cfm/token", "t-42\n", sudo=True)
    assert session.read_file("/mnt/cfm/token", sudo=True) == "t-42\n"
    session.unmount("/mnt/cfm")
    assert session.filesystem_size_bytes("/dev/vdb") == 64 * 2**20


def test_a_volume_is_found_by_its_virtio_serial(vm):
    session, *_, volume_id = vm

    device = session.device_for_volume(volume_id)

    assert device is not None and device.startswith("/dev/vd"), session.block_devices()
    assert session.filesystem_size_bytes(device) == VOLUME_BYTES
    assert session.device_for_volume(str(uuid.uuid4())) is None
    assert guest_lib.BlockDevice(device.removeprefix("/dev/"), VOLUME_BYTES, volume_id[:20], "disk") in (
        session.block_devices()
    )
