"""Small lookups shared by the handlers: "get or None", failure descriptions, gone-waits.

Every not-found is a None here (the official CPI's ``get`` returning nil), so each handler decides
what a missing resource means for its method: a normal return, VMNotFound, DiskNotFound...
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger("conformance.refcpi.resources")
RETRY_WINDOW = 60.0  # seconds a cleanup step keeps retrying transient API failures

GONE_SERVER_STATES = ("DELETED", "SOFT_DELETED")
VOLUME_FAILURE_STATES = ("error", "error_deleting", "error_extending", "error_restoring", "error_managing")


def or_none(get: Callable[[str], Any], resource_id: str) -> Any:
    """``get(resource_id)``, or None when the cloud says it does not exist."""
    from openstack import exceptions

    try:
        return get(resource_id)
    except exceptions.NotFoundException:
        return None
    except exceptions.BadRequestException:
        return None  # a malformed id names nothing (Nova/Cinder answer 400 or 404 depending on release)


def server(conn: Any, server_id: str) -> Any:
    found = or_none(conn.compute.get_server, server_id)
    return None if found is None or found.status in GONE_SERVER_STATES else found


def volume(conn: Any, volume_id: str) -> Any:
    return or_none(conn.block_storage.get_volume, volume_id)


def snapshot(conn: Any, snapshot_id: str) -> Any:
    return or_none(conn.block_storage.get_snapshot, snapshot_id)


def server_fault(srv: Any) -> str | None:
    """ "status ERROR: <Nova fault message>" for a server in ERROR, else None."""
    if srv.status != "ERROR":
        return None
    fault = srv.fault or {}
    return f"status ERROR: {fault.get('message') or 'no fault recorded'} (code {fault.get('code', '?')})"


def describe_server(srv: Any) -> str:
    if srv is None:
        return "gone"
    return f"status={srv.status} task_state={srv.task_state} power_state={srv.power_state}"


def volume_failure(vol: Any) -> str | None:
    if vol.status not in VOLUME_FAILURE_STATES:
        return None
    return f"status {vol.status}" + (
        f": {vol.migration_status}" if getattr(vol, "migration_status", None) else ""
    )


def wait_server_gone(call: Any, server_id: str) -> None:
    call.wait(
        lambda: server(call.conn, server_id),
        what=f"server {server_id} to be deleted",
        ready=lambda srv: srv is None,
        failed=lambda srv: server_fault(srv) if srv.task_state is None else None,
        describe=describe_server,
    )


def wait_volume_status(
    call: Any, volume_id: str, status: str, *, via: tuple[str, ...] = (), back: str | None = None
) -> Any:
    """Wait for ``status``. With ``via``/``back``: a volume that went through a transition state
    and came back to where it started was rolled back by Nova, which ends the wait at once."""
    seen: set[str] = set()

    def failed(vol: Any) -> str | None:
        if vol.status == back and seen.intersection(via):
            return f"status went {'/'.join(sorted(seen.intersection(via)))} and back to {back}: Nova rolled it back"
        seen.add(vol.status)
        return volume_failure(vol)

    return call.wait(
        lambda: volume(call.conn, volume_id),
        what=f"volume {volume_id} to be {status}",
        ready=lambda vol: vol is not None and vol.status == status,
        failed=failed,
    )


def wait_volume_gone(call: Any, volume_id: str) -> None:
    call.wait(
        lambda: volume(call.conn, volume_id),
        what=f"volume {volume_id} to be deleted",
        ready=lambda vol: vol is None or vol.status == "deleted",
        failed=volume_failure,
    )


def retrying(call: Any, what: str, step: Callable[[], Any], window: float = RETRY_WINDOW) -> Any:
    """Run a (cleanup) step, retrying transient API failures at the poll interval for a while."""
    from conformance.refcpi.connection import is_transient

    deadline = time.monotonic() + min(window, call.config.state_timeout)
    while True:
        try:
            return step()
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() > deadline:
                raise
            LOG.warning("%s: transient %s, retrying", what, type(exc).__name__)
            time.sleep(call.config.poll_interval)
