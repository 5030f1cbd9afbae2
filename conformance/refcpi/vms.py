"""The VM methods besides create_vm: delete, has, reboot, metadata, calculate_vm_cloud_properties."""

from __future__ import annotations

import logging
from typing import Any

from conformance.refcpi import flavors, ports, resources
from conformance.refcpi.errors import CloudError, VMNotFound

LOG = logging.getLogger("conformance.refcpi.vms")
METADATA_LIMIT = 255  # Nova's limit for metadata keys and values


def _server_or_fail(call: Any, server_id: Any) -> Any:
    if not isinstance(server_id, str):
        raise CloudError("vm_cid must be a string")
    srv = resources.server(call.conn, server_id)
    if srv is None:
        raise VMNotFound(f"Server `{server_id}' not found")
    return srv


def delete_vm(call, vm_cid):
    """Delete the server, wait until Nova has forgotten it, then delete its (pre-created) ports."""
    srv = resources.server(call.conn, vm_cid) if isinstance(vm_cid, str) else None
    if srv is None:
        LOG.info("Server `%s' not found. Skipping.", vm_cid)
        if isinstance(vm_cid, str):  # an earlier delete that timed out may have left its ports
            problems = ports.delete_ports(call, ports.server_port_ids(call.conn, vm_cid))
            if problems:
                raise CloudError(
                    f"Server `{vm_cid}' is gone, but removing its ports failed: {'; '.join(problems)}"
                )
        return None
    port_ids = ports.server_port_ids(call.conn, srv.id)
    LOG.info("Deleting server `%s' (ports: %s)", srv.id, ", ".join(port_ids) or "none")
    resources.retrying(
        call, f"delete server {srv.id}", lambda: call.conn.compute.delete_server(srv.id, ignore_missing=True)
    )
    resources.wait_server_gone(call, srv.id)
    problems = ports.delete_ports(call, port_ids)
    if problems:
        raise CloudError(f"Server `{srv.id}' deleted, but removing its ports failed: {'; '.join(problems)}")
    return None


def has_vm(call, vm_cid):
    return isinstance(vm_cid, str) and resources.server(call.conn, vm_cid) is not None


def _wait_rebooted(call: Any, server_id: str, kind: str) -> None:
    call.wait(
        lambda: resources.server(call.conn, server_id),
        what=f"server {server_id} to be ACTIVE after a {kind} reboot",
        ready=lambda srv: srv is not None and srv.status == "ACTIVE" and srv.task_state is None,
        failed=resources.server_fault,
        describe=resources.describe_server,
    )


def reboot_vm(call, vm_cid):
    """Soft reboot; if it does not come back ACTIVE within state_timeout, a hard one."""
    srv = _server_or_fail(call, vm_cid)
    from openstack import exceptions

    LOG.info("Soft rebooting server `%s'...", srv.id)
    try:
        call.conn.compute.reboot_server(srv, "SOFT")
        _wait_rebooted(call, srv.id, "soft")
    except (CloudError, exceptions.ConflictException) as exc:  # timed out, ERROR, or refused (SHUTOFF...)
        said = exc.message if isinstance(exc, CloudError) else f"{type(exc).__name__}: {exc}"
        LOG.warning("Soft reboot did not finish (%s); hard rebooting server `%s'", said, srv.id)
        call.conn.compute.reboot_server(srv, "HARD")
        _wait_rebooted(call, srv.id, "hard")
    return None


def _metadata(metadata: Any) -> dict[str, str]:
    if not isinstance(metadata, dict):
        raise CloudError("metadata must be an object")
    return {
        str(k)[:METADATA_LIMIT]: ("" if v is None else str(v))[:METADATA_LIMIT] for k, v in metadata.items()
    }


def _readable_name(metadata: dict[str, Any]) -> str | None:
    if metadata.get("name"):
        return str(metadata["name"])
    if metadata.get("job") and metadata.get("index") is not None:
        return f"{metadata['job']}/{metadata['index']}"
    if metadata.get("compiling"):
        return f"compiling/{metadata['compiling']}"
    return None


def set_vm_metadata(call, vm_cid, metadata):
    """Server metadata; with human_readable_vm_names (or a registry_key tag) also the server name."""
    srv = _server_or_fail(call, vm_cid)
    values = _metadata(metadata)
    if values:
        srv.set_metadata(call.conn.compute, metadata=values)  # any key, even "server"
    readable = call.config.get("human_readable_vm_names") or "registry_key" in (srv.metadata or {})
    name = _readable_name(metadata) if readable else None
    if name:
        LOG.debug("Rename VM with id '%s' to '%s'", srv.id, name)
        call.conn.compute.update_server(srv, name=name[:METADATA_LIMIT])
    return None


def calculate_vm_cloud_properties(call, requirements):
    flavors.check_requirements(requirements)
    available = [flavors.FlavorInfo.of(f) for f in call.conn.compute.flavors(details=True)]
    return flavors.select(requirements, available, bool(call.config.get("boot_from_volume")))
