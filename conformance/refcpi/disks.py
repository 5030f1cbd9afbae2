"""The disk methods: Cinder volumes and snapshots, attached through Nova.

attach_disk answers (v2) the device hint the official CPI answers: "/dev/sdX", the first letter
after the flavor's ephemeral/swap disks and a 'disk' config drive that no attachment takes in any
sd/vd/xvd spelling. A virtio guest names the disk vdX regardless, and the BOSH agent on OpenStack
maps sdX to vdX/xvdX itself; the reliable link (/dev/disk/by-id/virtio-<first 20 characters of the
volume id>) is derivable from the disk cid, so a hash hint would tell the agent nothing new while
breaking callers that expect the official string. get_disks, which the official CPI leaves
NotImplemented, lists the server's volume attachments.
"""

from __future__ import annotations

import logging
import math
import uuid
from typing import Any

from conformance.refcpi import flavors, resources
from conformance.refcpi.errors import CloudError, DiskNotFound, NotSupported, VMNotFound
from conformance.refcpi.vms import METADATA_LIMIT, _metadata

LOG = logging.getLogger("conformance.refcpi.disks")


def mib_to_gib(size_mib: int) -> int:
    return math.ceil(size_mib / 1024.0)


def _integer(size: Any) -> int:
    if isinstance(size, bool) or not isinstance(size, int):
        raise CloudError("Disk size needs to be an integer")
    return size


def _size(size: Any) -> int:
    if _integer(size) < 1024:
        raise CloudError("Minimum disk size is 1 GiB")
    return size


def _volume_or_fail(call: Any, disk_cid: Any) -> Any:
    vol = resources.volume(call.conn, disk_cid) if isinstance(disk_cid, str) else None
    if vol is None:
        raise DiskNotFound(f"Volume `{disk_cid}' not found")
    return vol


def _server_or_fail(call: Any, vm_cid: Any) -> Any:
    srv = resources.server(call.conn, vm_cid) if isinstance(vm_cid, str) else None
    if srv is None:
        raise VMNotFound(f"Server `{vm_cid}' not found")
    return srv


def create_disk(call, size, cloud_properties, vm_cid):
    gib = mib_to_gib(_size(size))
    cloud_properties = cloud_properties or {}
    params: dict[str, Any] = {"name": f"volume-{uuid.uuid4()}", "description": "", "size": gib}
    volume_type = cloud_properties.get("type") or call.config.get("default_volume_type")
    if volume_type:
        params["volume_type"] = volume_type
    if vm_cid and not call.config.get("ignore_server_availability_zone"):
        srv = resources.server(call.conn, vm_cid)
        if srv is not None and srv.availability_zone:
            params["availability_zone"] = srv.availability_zone
    LOG.info("Creating new volume (%d GiB, type %s)...", gib, volume_type or "default")
    vol = call.conn.block_storage.create_volume(**params)
    try:
        resources.wait_volume_status(call, vol.id, "available")
    except CloudError as exc:  # do not leave an error (or still creating) volume behind
        _remove_after_failure(exc, f"volume {vol.id}", lambda: _delete_when_settled(call, "volume", vol.id))
        raise
    return vol.id


def _remove_after_failure(failure: CloudError, what: str, remove) -> None:
    """Remove what a failed call made; a problem doing so joins the failure's message (the first
    error stays the answer) and makes it not retryable."""
    try:
        remove()
    except Exception as exc:
        LOG.warning("could not remove %s after the failure: %s", what, type(exc).__name__)
        failure.message += f"; and removing {what} failed: {type(exc).__name__}: {exc}"
        failure.ok_to_retry = False


def _delete_when_settled(call: Any, kind: str, resource_id: str) -> None:
    """Cinder refuses to delete a volume or snapshot still 'creating': wait for it to settle first."""
    fetch, delete = {
        "volume": (resources.volume, call.conn.block_storage.delete_volume),
        "snapshot": (resources.snapshot, call.conn.block_storage.delete_snapshot),
    }[kind]
    call.wait(
        lambda: fetch(call.conn, resource_id),
        what=f"{kind} {resource_id} to leave 'creating'",
        ready=lambda res: res is None or res.status != "creating",
    )
    delete(resource_id, ignore_missing=True)


def has_disk(call, disk_cid):
    return isinstance(disk_cid, str) and resources.volume(call.conn, disk_cid) is not None


def delete_disk(call, disk_cid):
    vol = resources.volume(call.conn, disk_cid) if isinstance(disk_cid, str) else None
    if vol is None:
        LOG.info("Volume `%s' not found. Skipping.", disk_cid)
        return None
    if vol.status != "available":
        raise CloudError(f"Cannot delete volume `{disk_cid}', state is {vol.status}")
    call.conn.block_storage.delete_volume(vol.id, ignore_missing=True)
    resources.wait_volume_gone(call, vol.id)
    return None


def _attachments(call: Any, srv: Any) -> list[Any]:
    return list(call.conn.compute.volume_attachments(srv))


def _server_flavor(call: Any, srv: Any) -> flavors.FlavorInfo | None:
    """The server's flavor: embedded since Nova 2.47, looked up by id before."""
    embedded = srv.flavor
    if embedded is None:
        return None
    if embedded.original_name:
        return flavors.FlavorInfo.of(embedded)
    found = resources.or_none(call.conn.compute.get_flavor, embedded.id) if embedded.id else None
    return flavors.FlavorInfo.of(found) if found is not None else None


def attach_disk(call, vm_cid, disk_cid):
    srv = _server_or_fail(call, vm_cid)
    vol = _volume_or_fail(call, disk_cid)
    attachments = _attachments(call, srv)
    existing = next((a for a in attachments if a.volume_id == vol.id), None)
    if existing is not None:
        LOG.info(
            "Volume `%s' is already attached to server `%s' in `%s'. Skipping.",
            vol.id,
            srv.id,
            existing.device,
        )
        return existing.device if call.v2 else None
    first = flavors.first_device_letter(_server_flavor(call, srv), call.config.config_drive)
    device = flavors.device_name([a.device for a in attachments], first)
    if device is None:
        raise CloudError("Server has too many disks attached")
    LOG.info("Attaching volume `%s' to server `%s', device name is `%s'", vol.id, srv.id, device)
    call.conn.compute.create_volume_attachment(srv, vol.id, device=device)
    resources.wait_volume_status(call, vol.id, "in-use", via=("reserved", "attaching"), back="available")
    return device if call.v2 else None


def detach_disk(call, vm_cid, disk_cid):
    srv = _server_or_fail(call, vm_cid)
    vol = resources.volume(call.conn, disk_cid) if isinstance(disk_cid, str) else None
    if vol is None:
        LOG.info("Disk `%s' not found while trying to detach it from vm `%s'...", disk_cid, vm_cid)
        return None
    if not any(a.volume_id == vol.id for a in _attachments(call, srv)):
        LOG.info("Disk `%s' is not attached to server `%s'. Skipping.", vol.id, srv.id)
        return None
    call.conn.compute.delete_volume_attachment(srv, vol.id, ignore_missing=True)
    resources.wait_volume_status(call, vol.id, "available", via=("detaching",), back="in-use")
    return None


def get_disks(call, vm_cid):
    srv = _server_or_fail(call, vm_cid)
    return [a.volume_id for a in _attachments(call, srv)]


def set_disk_metadata(call, disk_cid, metadata):
    vol = _volume_or_fail(call, disk_cid)
    values = _metadata(metadata)
    if values:
        vol.set_metadata(call.conn.block_storage, metadata=values)  # any key, even "volume"
    return None


def _snapshot_metadata(metadata: dict[str, Any]) -> dict[str, str]:
    """The official renames: director_name -> director, index -> instance_index, job/id -> instance_name."""
    md = {str(k): v for k, v in metadata.items()}
    if "director_name" in md:
        md["director"] = md.pop("director_name")
    if "index" in md:
        md["instance_index"] = str(md.pop("index"))
    if "job" in md:
        job = md.pop("job")
        md["instance_name"] = f"{job}/{md['instance_id']}" if md.get("instance_id") else str(job)
    return _metadata(md)


def snapshot_disk(call, disk_cid, metadata):
    vol = _volume_or_fail(call, disk_cid)
    metadata = metadata or {}
    if not isinstance(metadata, dict):
        raise CloudError("metadata must be an object")
    devices = [a.get("device") for a in (vol.attachments or []) if a and a.get("device")]
    parts = [
        str(metadata.get(k)) if metadata.get(k) is not None else "" for k in ("deployment", "job", "index")
    ]
    if devices:
        parts.append(devices[0].split("/")[-1])
    name = f"snapshot-{uuid.uuid4()}"
    LOG.info("Creating new snapshot for volume `%s'...", vol.id)
    snap = call.conn.block_storage.create_snapshot(
        name=name,
        description="/".join(parts)[:METADATA_LIMIT],
        volume_id=vol.id,
        is_forced=True,
        metadata=_snapshot_metadata(metadata),
    )
    try:
        call.wait(
            lambda: resources.snapshot(call.conn, snap.id),
            what=f"snapshot {snap.id} to be available",
            ready=lambda s: s is not None and s.status == "available",
            failed=lambda s: f"status {s.status}" if s.status in ("error", "error_deleting") else None,
        )
    except CloudError as exc:
        _remove_after_failure(
            exc, f"snapshot {snap.id}", lambda: _delete_when_settled(call, "snapshot", snap.id)
        )
        raise
    return snap.id


def delete_snapshot(call, snapshot_cid):
    snap = resources.snapshot(call.conn, snapshot_cid) if isinstance(snapshot_cid, str) else None
    if snap is None:
        LOG.info("Snapshot `%s' not found. Skipping.", snapshot_cid)
        return None
    if snap.status != "available":
        raise CloudError(f"Cannot delete snapshot `{snapshot_cid}', state is {snap.status}")
    call.conn.block_storage.delete_snapshot(snap.id, ignore_missing=True)
    call.wait(
        lambda: resources.snapshot(call.conn, snap.id),
        what=f"snapshot {snap.id} to be deleted",
        ready=lambda s: s is None or s.status == "deleted",
        failed=lambda s: f"status {s.status}" if s.status == "error_deleting" else None,
    )
    return None


def resize_disk(call, disk_cid, new_size):
    """Native Cinder extend of a detached volume, in whole GiB; equal: nothing; smaller: NotSupported."""
    new_gib = max(1, mib_to_gib(_integer(new_size)))  # smaller than the disk is NotSupported below
    vol = resources.volume(call.conn, disk_cid) if isinstance(disk_cid, str) else None
    if vol is None:
        raise DiskNotFound(f"Cannot resize volume because volume with {disk_cid} not found")
    if vol.size == new_gib:
        LOG.info(
            "Skipping resize of disk %s because current value %s GiB is equal new value %s GiB",
            vol.id,
            vol.size,
            new_gib,
        )
        return None
    if vol.size > new_gib:
        raise NotSupported(f"Cannot resize volume to a smaller size from {vol.size} GiB to {new_gib} GiB")
    if vol.attachments:
        raise CloudError(f"Cannot resize volume '{vol.id}' it still has {len(vol.attachments)} attachment(s)")
    call.conn.block_storage.extend_volume(vol, new_gib)
    LOG.info("Resizing %s from %s GiB to %s GiB", vol.id, vol.size, new_gib)
    call.wait(
        lambda: resources.volume(call.conn, vol.id),
        what=f"volume {vol.id} to be available at {new_gib} GiB",
        ready=lambda v: v is not None and v.status == "available" and v.size == new_gib,
        failed=resources.volume_failure,
    )
    return None
