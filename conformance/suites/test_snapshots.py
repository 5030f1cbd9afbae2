"""Disk snapshots: snapshot_disk makes a Cinder snapshot, delete_snapshot removes it."""

import uuid

import pytest

pytestmark = [pytest.mark.capability("snapshots"), pytest.mark.requires("snapshots")]


@pytest.mark.case("52fce191-52b5-4447-91ff-dcc4cc62f816")
def test_snapshot_disk_then_delete_snapshot(cpi, cloud, cleanup, create_disk, profile, run):
    """snapshot_disk MUST create a snapshot of the volume in Cinder; delete_snapshot MUST remove it,
    and deleting it again MUST return normally.

    Steps: create a disk; snapshot it with Director-style metadata; Cinder shows the snapshot of
    that volume, available; delete it; Cinder shows none; delete again.
    """
    disk = create_disk()
    metadata = {"director_name": "cfm", "deployment": "cfm-conformance", "job": "snap", "index": "0",
                "cfm-run": run.run_id}
    snapshot = cpi.snapshot_disk(disk, metadata)
    cleanup.add(f"delete snapshot {snapshot}", cpi.delete_snapshot, snapshot, resource=("snapshot", snapshot))
    found = cloud.wait_for_snapshot(snapshot, status="available", timeout=profile.timeouts.volume_status)
    assert found.volume_id == disk, f"snapshot {snapshot} is of volume {found.volume_id}"
    cpi.delete_snapshot(snapshot)
    cloud.wait_for_snapshot_gone(snapshot, timeout=profile.timeouts.volume_status)
    cpi.delete_snapshot(snapshot)


@pytest.mark.case("5a6b3b2a-6ca8-463d-bcad-599e27ad0c0e")
def test_delete_of_a_missing_snapshot_returns_normally(cpi):
    """delete_snapshot of a snapshot that never existed MUST return normally.

    Steps: make up a cid; delete_snapshot.
    """
    cpi.delete_snapshot(str(uuid.uuid4()))
