"""Persistent disks: create, attach (seen in the guest), move between VMs with the data, delete."""

import uuid

import pytest

from conformance.cpi.errors import CpiError
from conformance.expect import size_gib

pytestmark = [pytest.mark.capability("persistent_disk"), pytest.mark.slow]


@pytest.mark.case("27aac6b4-e10e-450f-9fe7-860942f32282")
def test_create_disk_rounds_up_to_whole_gib_and_has_disk_is_true(cpi, cloud, create_disk):
    """create_disk MUST create a volume of the size asked, rounded up to whole GiB, and has_disk
    MUST then be true.

    Steps: create a 1500 MiB disk; Cinder shows 2 GiB, available; has_disk.
    """
    disk = create_disk(1500)
    volume = cloud.volume(disk)
    assert volume is not None and (volume.size, volume.status) == (size_gib(1500), "available"), volume
    assert cpi.has_disk(disk) is True, f"has_disk({disk})"


@pytest.mark.case("48154e96-49de-4108-b542-2c743349b305")
def test_disk_attaches_shows_in_the_guest_and_moves_with_its_data(lab, cleanup, create_disk, ssh, shared_vm,
                                                                  peer_vm, profile):
    """attach_disk MUST give the guest a new block device of the disk's size (v2: the answer is a
    hint for it); after detach_disk the device MUST be gone; attached to a second VM it MUST hold
    the data written by the first.

    Steps: create a disk; attach to VM 1; find it in the guest by its virtio serial; write a file;
    detach (gone from the guest); attach to VM 2; read the file back; detach.
    """
    disk = create_disk()
    hint = lab.attach_disk(cleanup, shared_vm.cid, disk)
    if profile.cpi.api_version >= 2:
        assert hint, "v2 attach_disk must answer a disk hint"
    token = uuid.uuid4().hex
    with ssh(shared_vm) as guest:
        device = lab.wait_for_device(guest, disk)
        assert guest.filesystem_size_bytes(device) == size_gib(profile.disks.size_mib) * 1024**3, f"size of {device}"
        guest.format_and_mount(device, "/mnt/cfm")
        guest.write_file("/mnt/cfm/token", token, sudo=True)
        guest.unmount("/mnt/cfm")
    lab.detach_disk_and_verify(shared_vm.cid, disk)
    with ssh(shared_vm) as guest:
        lab.wait_for_no_device(guest, disk)
    lab.attach_disk(cleanup, peer_vm.cid, disk)
    with ssh(peer_vm) as guest:
        device = lab.wait_for_device(guest, disk)
        guest.run(f"mkdir -p /mnt/cfm && mount {device} /mnt/cfm", sudo=True)
        assert guest.read_file("/mnt/cfm/token", sudo=True).strip() == token, "data written on VM 1"
        guest.unmount("/mnt/cfm")
    lab.detach_disk_and_verify(peer_vm.cid, disk)


@pytest.mark.case("ae5e3942-ed41-4e2a-a067-8636f3d7bc28")
def test_get_disks_lists_the_attached_disk(cpi, lab, cleanup, create_disk, shared_vm, profile):
    """get_disks MUST list the disks attached to the VM (where implemented; the profile's
    features.get_disks false records NotImplemented as a skip).

    Steps: attach a disk; get_disks; detach; get_disks.
    """
    disk = create_disk()
    lab.attach_disk(cleanup, shared_vm.cid, disk)
    try:
        attached = cpi.get_disks(shared_vm.cid)
    except CpiError as err:
        if err.short_type == "NotImplemented" and not profile.features.get_disks:
            pytest.skip("get_disks answered NotImplemented (profile: features.get_disks is false)")
        raise
    assert disk in attached, f"get_disks({shared_vm.cid}) = {attached}"
    lab.detach_disk_and_verify(shared_vm.cid, disk)
    assert disk not in cpi.get_disks(shared_vm.cid), "get_disks after detach_disk"


@pytest.mark.case("2f883a65-a8b1-4cb7-a886-c2928c905da0")
def test_set_disk_metadata_is_visible_in_cinder(cpi, cloud, create_disk, run):
    """set_disk_metadata MUST put every key and value on the volume's metadata.

    Steps: create a disk; set metadata as the Director does; read Cinder's metadata.
    """
    disk = create_disk()
    metadata = {"director": "cfm", "deployment": "cfm-conformance", "instance_index": "0", "cfm-run": run.run_id}
    cpi.set_disk_metadata(disk, metadata)
    seen = cloud.volume(disk).metadata or {}
    assert {k: seen.get(k) for k in metadata} == metadata, "volume metadata after set_disk_metadata"


@pytest.mark.case("d91fcd5e-1402-4df7-b589-892331f73f00")
def test_delete_disk_then_has_disk_is_false(cpi, cloud, lab, cleanup, profile):
    """delete_disk MUST remove the volume; has_disk MUST then be false; deleting it again and
    detaching a disk that is not attached MUST return normally.

    Steps: create a disk; detach it from a VM it never saw; delete it; Cinder shows none; has_disk;
    delete again.
    """
    disk = lab.create_disk(cleanup)
    cpi.delete_disk(disk)
    cloud.wait_for_volume_gone(disk, timeout=profile.timeouts.volume_status)
    assert cpi.has_disk(disk) is False, f"has_disk({disk}) after delete_disk"
    cpi.delete_disk(disk)


@pytest.mark.case("a9bd34a1-ac68-4d65-8a23-c2546ef1a913")
def test_detach_of_a_disk_that_is_not_attached_returns_normally(cpi, create_disk, shared_vm):
    """detach_disk of a disk that is not attached to the VM MUST return normally (the Director
    retries detaches).

    Steps: create a disk; detach it from a VM it was never attached to.
    """
    cpi.detach_disk(shared_vm.cid, create_disk())


@pytest.mark.case("182a7324-994d-4893-bf20-1e105f57aa8c")
def test_has_disk_and_delete_of_a_missing_disk(cpi):
    """has_disk of a disk that never existed MUST be false, and delete_disk of it MUST return.

    Steps: make up a cid; has_disk; delete_disk.
    """
    missing = str(uuid.uuid4())
    assert cpi.has_disk(missing) is False, f"has_disk({missing})"
    cpi.delete_disk(missing)
