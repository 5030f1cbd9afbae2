"""Native disk resize (official CPI v33+): a detached disk grows in Cinder and in the guest."""

import pytest

from conformance.cpi import director
from conformance.cpi.errors import CpiError
from conformance.run.expect import size_gib

pytestmark = [pytest.mark.capability("native_disk_resize"), pytest.mark.slow,
              pytest.mark.requires("native_disk_resize")]

#: What makes the Director copy the disk instead of resizing it (disk_manager.rb#resize_disk).
FALLBACK_ERRORS = ("NotSupported", "NotImplemented")


@pytest.mark.case("46c45c43-934b-4829-abe8-e57b2050ffda")
def test_resize_disk_grows_the_volume_and_the_guest_sees_it(cpi, cloud, lab, cleanup, create_disk, ssh, shared_vm,
                                                           profile):
    """resize_disk of a detached disk to a bigger size MUST grow the volume to that size in MiB,
    rounded up to whole GiB (bosh.io CPI API v2 resize_disk: "Resizes disk with IaaS-native
    methods", new_size in MiB), and attached again the guest MUST see the new size (Director:
    disk_manager.rb#resize_disk detaches, resizes, attaches).

    Steps: create a disk; resize it to disks.resize_to_mib; the witnesses show the new size; attach;
    the witnesses and the guest's device has the new size; detach.
    """
    disk = create_disk(vm_cid=shared_vm.cid)
    cpi.send(director.resize_disk(disk, profile.disks.resize_to_mib))
    grown = size_gib(profile.disks.resize_to_mib)
    for seen in cloud.checks("the resized volume is available at the new size"):
        with seen as w:
            volume = w.wait_for_volume_available(disk, after=f"resize_disk to {profile.disks.resize_to_mib} MiB "
                                                              "answered OK")
            assert volume.size_gib == grown, f"{w.name}: volume size after resize_disk"
    hint = lab.attach_disk(cleanup, shared_vm, disk)
    for seen in cloud.checks("the resized volume, attached, has the new size"):
        with seen as w:
            assert w.volume(disk).size_gib == grown, f"{w.name}: size of the attached volume after resize_disk"
    with ssh(shared_vm) as guest:
        device = lab.wait_for_device(guest, disk, after=f"attach_disk of the resized disk answered {hint!r}")
        assert guest.filesystem_size_bytes(device) == grown * 1024**3
    lab.detach_disk_and_verify(shared_vm, disk)


@pytest.mark.case("09eef3a9-99a1-4df0-9098-6d24974fd2dd")
def test_resize_to_the_same_size_is_a_no_op(cpi, cloud, create_disk, shared_vm, profile, record_property):
    """resize_disk to the disk's own size MUST leave the volume available at that size, whether it
    answers OK or NotSupported/NotImplemented (bosh.io CPI API v2 resize_disk takes any new_size in
    MiB; the Director itself asks only for bigger sizes, disk_manager.rb#use_iaas_native_disk_resize?,
    and copies the disk on NotSupported or NotImplemented).

    Steps: create a disk; resize it to the same size; Cinder shows the same size, available.
    """
    disk = create_disk(vm_cid=shared_vm.cid)
    try:
        cpi.send(director.resize_disk(disk, profile.disks.size_mib))
        answered = "OK"
    except CpiError as err:
        if err.short_type not in FALLBACK_ERRORS:
            raise
        answered = err.short_type
        record_property("observation", f"resize_disk to the disk's own size answered {err.short_type}")
    for seen in cloud.checks("the volume is available at its own size"):
        with seen as w:
            volume = w.wait_for_volume_available(disk, after=f"resize_disk to the same size answered {answered}")
            assert volume.size_gib == size_gib(profile.disks.size_mib), f"{w.name}: size after resize to the same size"


@pytest.mark.case("73d3e372-6a9c-49ed-b2b4-6d8734269fdc")
def test_shrinking_a_disk_is_not_supported(cpi, cloud, create_disk, shared_vm, profile):
    """resize_disk to a smaller size MUST fail with NotSupported (or NotImplemented) and leave the
    volume as it was (bosh.io CPI API v2 resize_disk: a smaller new_size "may raise NotSupported",
    on which the Director falls back to copying: disk_manager.rb#resize_disk rescues NotSupported
    and NotImplemented).

    Steps: create a disk of disks.resize_to_mib; resize it to disks.size_mib; expect NotSupported.
    """
    disk = create_disk(profile.disks.resize_to_mib, vm_cid=shared_vm.cid)
    try:
        cpi.send(director.resize_disk(disk, profile.disks.size_mib))
    except CpiError as err:
        assert err.short_type in FALLBACK_ERRORS, (
            f"resize_disk to a smaller size: expected NotSupported (or NotImplemented), the CPI answered "
            f"{err.short_type}: {err.message[:300]}")
    else:
        pytest.fail(f"resize_disk of volume {disk} to {profile.disks.size_mib} MiB (smaller) answered OK: "
                    "expected NotSupported, so that the Director copies the disk")
    for seen in cloud.checks("the volume keeps its size after the refused shrink"):
        with seen as w:
            assert w.volume(disk).size_gib == size_gib(profile.disks.resize_to_mib), f"{w.name}: size after the shrink"
