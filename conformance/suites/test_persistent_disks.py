"""Persistent disks: create, attach (seen in the guest), move between VMs with the data, delete."""

import posixpath
import uuid

import pytest

from conformance.cpi import director
from conformance.cpi.errors import CpiError
from conformance.run import expect
from conformance.run.expect import size_gib

pytestmark = [pytest.mark.capability("persistent_disk"), pytest.mark.slow]


@pytest.mark.case("27aac6b4-e10e-450f-9fe7-860942f32282")
def test_create_disk_rounds_up_to_whole_gib_and_has_disk_is_true(cpi, cloud, create_disk, shared_vm):
    """create_disk MUST create an available volume of the size asked in MiB, rounded up to whole
    GiB as Cinder counts, and has_disk MUST then be true (bosh.io CPI API v2 create_disk: "Creates
    disk with specific size", size in MiB; has_disk: "True if disk is present").

    Steps: create a 1500 MiB disk for the shared VM, as disk_manager.rb does; has_disk; the witnesses show
    2 GiB, available.
    """
    disk = create_disk(1500, vm_cid=shared_vm.cid)
    assert cpi.send(director.has_disk(disk)) is True, f"has_disk({disk})"
    for seen in cloud.checks("the new volume is available, 1500 MiB rounded up to 2 GiB"):
        with seen as w:
            volume = w.volume(disk)
            assert volume is not None and (volume.size_gib, volume.available) == (size_gib(1500), True), volume


def _observe_hint(record_property, hint, device: str) -> None:
    """The hint is the CPI's and the agent's business: the guest may name the device otherwise."""
    named = hint if isinstance(hint, str) else (hint or {}).get("path") if isinstance(hint, dict) else None
    if named and posixpath.basename(named) != posixpath.basename(device):
        record_property("observation", f"attach_disk answered hint {hint!r}; the guest sees the disk as {device}")


@pytest.mark.case("48154e96-49de-4108-b542-2c743349b305")
def test_disk_attaches_shows_in_the_guest_and_moves_with_its_data(lab, cleanup, create_disk, ssh, shared_vm,
                                                                  peer_vm, profile, record_property):
    """attach_disk MUST give the guest a new block device of the disk's size, under CPI API v2
    answering a non-empty disk hint (bosh.io attach_disk; Director: ExternalCpiResponseWrapper
    refuses an empty hint); after detach_disk the device MUST be gone (bosh.io detach_disk), and
    attached to a second VM the disk MUST hold the data written by the first (Director: a
    recreated instance gets its persistent disk attached to the new VM).

    Steps: create a disk; attach to VM 1; find it in the guest by its virtio serial; write a file;
    detach (gone from the guest); attach to VM 2; read the file back; detach.
    """
    disk = create_disk(vm_cid=shared_vm.cid)
    hint = lab.attach_disk(cleanup, shared_vm, disk)
    if expect.applies(record_property, profile.cpi.api_version >= 2, "attach_disk answers a disk hint", "the profile speaks CPI API v1 (cpi.api_version)"):
        assert hint, "v2 attach_disk must answer a disk hint"
    token = uuid.uuid4().hex
    with ssh(shared_vm) as guest:
        device = lab.wait_for_device(guest, disk, after=f"attach_disk answered {hint!r}")
        _observe_hint(record_property, hint, device)
        assert guest.filesystem_size_bytes(device) == size_gib(profile.disks.size_mib) * 1024**3, f"size of {device}"
        guest.format_and_mount(device, "/mnt/cfm")
        guest.write_file("/mnt/cfm/token", token, sudo=True)
        guest.unmount("/mnt/cfm")
    lab.detach_disk_and_verify(shared_vm, disk)
    with ssh(shared_vm) as guest:
        lab.wait_for_no_device(guest, disk)
    hint = lab.attach_disk(cleanup, peer_vm, disk)
    with ssh(peer_vm) as guest:
        device = lab.wait_for_device(guest, disk, after=f"attach_disk to the second VM answered {hint!r}")
        guest.run(f"mkdir -p /mnt/cfm && mount {device} /mnt/cfm", sudo=True)
        assert guest.read_file("/mnt/cfm/token", sudo=True).strip() == token, "data written on VM 1"
        guest.unmount("/mnt/cfm")
    lab.detach_disk_and_verify(peer_vm, disk)


@pytest.mark.case("ae5e3942-ed41-4e2a-a067-8636f3d7bc28")
def test_get_disks_lists_the_attached_disk(cpi, lab, cleanup, create_disk, shared_vm, profile):
    """get_disks MUST list the disks attached to the VM and only those (bosh.io CPI API v2
    get_disks: "list of disks currently attached"); the profile's features.get_disks false
    records NotImplemented as a skip.

    Steps: attach a disk; get_disks; detach; get_disks.
    """
    disk = create_disk(vm_cid=shared_vm.cid)
    lab.attach_disk(cleanup, shared_vm, disk)
    try:
        attached = cpi.send(director.get_disks(shared_vm.cid))
    except CpiError as err:
        if err.short_type == "NotImplemented" and not profile.features.get_disks:
            pytest.skip("get_disks answered NotImplemented (profile: features.get_disks is false)")
        raise
    assert disk in attached, f"get_disks({shared_vm.cid}) = {attached}"
    lab.detach_disk_and_verify(shared_vm, disk)
    assert disk not in cpi.send(director.get_disks(shared_vm.cid)), "get_disks after detach_disk"


@pytest.mark.case("2f883a65-a8b1-4cb7-a886-c2928c905da0")
def test_set_disk_metadata_is_visible_in_cinder(cpi, cloud, create_disk, shared_vm):
    """set_disk_metadata MUST put every key and value it is given on the volume's metadata (bosh.io
    CPI API v2 set_disk_metadata: metadata "to make it easier for operators to categorize disks");
    NotImplemented is a skip, as the Director rescues it (metadata_updater.rb).

    Steps: create a disk; send it the metadata a Director sends for an instance's disk
    (metadata_updater.rb#update_disk_metadata: tags, director, deployment, instance_id,
    instance_index, instance_group, attached_at; a Director also tags detached disks:
    jobs/dynamic_disks/create_dynamic_disk.rb); read the volume's metadata from the witnesses.
    """
    disk = create_disk(vm_cid=shared_vm.cid)
    metadata = director.disk_metadata(shared_vm.instance)
    try:
        cpi.send(director.set_disk_metadata(disk, metadata))
    except CpiError as err:
        if err.short_type == "NotImplemented":
            pytest.skip("set_disk_metadata answered NotImplemented (the Director rescues it: metadata_updater.rb)")
        raise
    for seen in cloud.checks("the volume's metadata holds every key and value set_disk_metadata sent"):
        with seen as w:
            found = w.volume(disk).metadata
            assert {k: found.get(k) for k in metadata} == metadata, f"{w.name}: volume metadata after set_disk_metadata"


@pytest.mark.case("d91fcd5e-1402-4df7-b589-892331f73f00")
def test_delete_disk_then_has_disk_is_false(cpi, cloud, lab, cleanup, shared_vm, profile, record_property):
    """delete_disk MUST remove the volume (bosh.io delete_disk: "Deletes disk"); has_disk MUST then
    be false; deleting it again MUST return normally or answer DiskNotFound (Director:
    orphan_disk_manager.rb rescues DiskNotFound).

    Steps: create a disk; delete it; the witnesses show none; has_disk; delete again.
    """
    disk = lab.create_disk(cleanup, vm_cid=shared_vm.cid)
    cpi.send(director.delete_disk(disk))
    for seen in cloud.checks("the volume is gone after delete_disk"):
        with seen as w:
            w.wait_for_volume_gone(disk, after="delete_disk answered OK")
    assert cpi.send(director.has_disk(disk)) is False, f"has_disk({disk}) after delete_disk"
    again = lab.send_gone(director.delete_disk(disk))
    if again != "ok":
        record_property("observation", f"delete_disk of a deleted disk answered {again}")


@pytest.mark.case("a9bd34a1-ac68-4d65-8a23-c2546ef1a913")
def test_detach_of_a_disk_that_is_not_attached_returns_normally(lab, create_disk, shared_vm, record_property):
    """detach_disk of a disk that is not attached to the VM MUST return normally or answer
    DiskNotAttached (Director: detach_disk_step.rb rescues DiskNotAttached for a disk that is not
    active).

    Steps: create a disk; detach it from a VM it was never attached to.
    """
    disk = create_disk(vm_cid=shared_vm.cid)
    answer = lab.send_gone(director.detach_disk(shared_vm.cid, disk,
                                                stemcell_api_version=shared_vm.stemcell_api_version))
    if answer != "ok":
        record_property("observation", f"detach_disk of a disk that is not attached answered {answer}")


@pytest.mark.case("182a7324-994d-4893-bf20-1e105f57aa8c")
def test_has_disk_and_delete_of_a_missing_disk(cpi, lab, record_property):
    """has_disk of a disk that never existed MUST be false (bosh.io has_disk), and delete_disk of it
    MUST return normally or answer DiskNotFound (Director: orphan_disk_manager.rb rescues it).

    Steps: make up a cid; has_disk; delete_disk.
    """
    missing = str(uuid.uuid4())
    assert cpi.send(director.has_disk(missing)) is False, f"has_disk({missing})"
    answer = lab.send_gone(director.delete_disk(missing))
    if answer != "ok":
        record_property("observation", f"delete_disk of a disk that never existed answered {answer}")
