"""Native disk resize (official CPI v33+): a detached disk grows in Cinder and in the guest."""

import pytest

from conformance.cpi.errors import CpiError
from conformance.expect import assert_error_type, size_gib

pytestmark = [pytest.mark.capability("native_disk_resize"), pytest.mark.slow,
              pytest.mark.requires("native_disk_resize")]


@pytest.mark.case("46c45c43-934b-4829-abe8-e57b2050ffda")
def test_resize_disk_grows_the_volume_and_the_guest_sees_it(cpi, cloud, lab, cleanup, create_disk, ssh, shared_vm,
                                                           profile):
    """resize_disk of a detached disk to a larger size MUST grow the volume (rounded up to GiB)
    and, attached, the guest MUST see the new size.

    Steps: create a disk; resize it to disks.resize_to_mib; Cinder shows the new size; attach;
    the guest's device has the new size; detach.
    """
    disk = create_disk()
    cpi.resize_disk(disk, profile.disks.resize_to_mib)
    volume = cloud.wait_for_volume(disk, status="available", timeout=profile.timeouts.volume_status)
    assert volume.size == size_gib(profile.disks.resize_to_mib), "Cinder size after resize_disk"
    lab.attach_disk(cleanup, shared_vm.cid, disk)
    with ssh(shared_vm) as guest:
        device = lab.wait_for_device(guest, disk)
        assert guest.filesystem_size_bytes(device) == size_gib(profile.disks.resize_to_mib) * 1024**3
    lab.detach_disk_and_verify(shared_vm.cid, disk)


@pytest.mark.case("09eef3a9-99a1-4df0-9098-6d24974fd2dd")
def test_resize_to_the_same_size_is_a_no_op(cpi, cloud, create_disk, profile):
    """resize_disk to the disk's own size MUST succeed and change nothing.

    Steps: create a disk; resize it to the same size; Cinder shows the same size, available.
    """
    disk = create_disk()
    cpi.resize_disk(disk, profile.disks.size_mib)
    volume = cloud.wait_for_volume(disk, status="available", timeout=profile.timeouts.volume_status)
    assert volume.size == size_gib(profile.disks.size_mib)


@pytest.mark.case("73d3e372-6a9c-49ed-b2b4-6d8734269fdc")
def test_shrinking_a_disk_is_not_supported(cpi, cloud, create_disk, profile):
    """resize_disk to a smaller size MUST fail with NotSupported and leave the volume as it was.

    Steps: create a disk of disks.resize_to_mib; resize it to disks.size_mib; expect NotSupported.
    """
    disk = create_disk(profile.disks.resize_to_mib)
    with pytest.raises(CpiError) as info:
        cpi.resize_disk(disk, profile.disks.size_mib)
    assert_error_type(info.value, "NotSupported", strict=True, what="resize_disk to a smaller size")
    assert cloud.volume(disk).size == size_gib(profile.disks.resize_to_mib), "volume size after refused shrink"
