"""Disk snapshots: snapshot_disk makes a Cinder snapshot, delete_snapshot removes it."""

import uuid

import pytest

from conformance.cpi import director

pytestmark = [pytest.mark.capability("snapshots"), pytest.mark.requires("snapshots")]


@pytest.mark.case("52fce191-52b5-4447-91ff-dcc4cc62f816")
def test_snapshot_disk_then_delete_snapshot(cpi, cloud, lab, cleanup, create_disk, shared_vm, profile,
                                            record_property):
    """snapshot_disk MUST make a snapshot of the volume and answer its cid, and delete_snapshot MUST
    remove it (bosh.io CPI API v2: snapshot_disk "Takes a snapshot of the disk", delete_snapshot
    "Deletes the disk snapshot"); deleting it again MUST return normally or answer DiskNotFound
    (Director: snapshot_manager.rb#delete_snapshots forgets a snapshot only after
    delete_snapshot succeeds; orphan_disk_manager.rb rescues DiskNotFound).

    Steps: create a disk for the shared VM; snapshot it with the metadata a Director sends for the
    VM's instance (snapshot_manager.rb#take_snapshot); the witnesses show a ready snapshot of
    that volume; delete it; they show none; delete again.
    """
    disk = create_disk(vm_cid=shared_vm.cid)
    metadata = director.snapshot_metadata(shared_vm.instance)
    snapshot = cpi.send(director.snapshot_disk(disk, metadata))
    cleanup.add(f"delete snapshot {snapshot}", lab.send_gone, director.delete_snapshot(snapshot),
                resource=("snapshot", snapshot))
    for seen in cloud.checks("the snapshot is ready, of the disk's volume"):
        with seen as w:
            found = w.wait_for_snapshot_ready(snapshot, after=f"snapshot_disk of volume {disk} answered {snapshot}")
            assert found.volume_id == disk, f"{w.name}: snapshot {snapshot} is of volume {found.volume_id}, not {disk}"
    cpi.send(director.delete_snapshot(snapshot))
    for seen in cloud.checks("the snapshot is gone after delete_snapshot"):
        with seen as w:
            w.wait_for_snapshot_gone(snapshot, after="delete_snapshot answered OK")
    again = lab.send_gone(director.delete_snapshot(snapshot))
    if again != "ok":
        record_property("observation", f"delete_snapshot of a deleted snapshot answered {again}")


@pytest.mark.case("5a6b3b2a-6ca8-463d-bcad-599e27ad0c0e")
def test_delete_of_a_missing_snapshot_returns_normally(lab, record_property):
    """delete_snapshot of a snapshot that never existed MUST return normally or answer DiskNotFound
    (Director: snapshot_manager.rb#delete_snapshots removes its record only after delete_snapshot
    succeeds; orphan_disk_manager.rb#delete_orphan_snapshot rescues DiskNotFound).

    Steps: make up a cid; delete_snapshot.
    """
    answer = lab.send_gone(director.delete_snapshot(str(uuid.uuid4())))
    if answer != "ok":
        record_property("observation", f"delete_snapshot of a snapshot that never existed answered {answer}")
