"""The cloud witness: what Nova, Neutron, Cinder and Glance say, through openstacksdk, read only.

Plain arguments only (timeouts, intervals); no pytest, no profile. Waits use the one wait primitive
and say what they last saw; ``after="delete_vm answered OK"`` names the CPI call whose effect a
wait is for, so that a timeout names the broken behaviour (a plain string: this module knows no
CPI). Writes live elsewhere (provision.py: floating IPs; sweep.py: leftovers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from conformance.core.waiting import wait_for

log = logging.getLogger("conformance.cloud")

SERVER_FAILED = {"ERROR"}
VOLUME_FAILED = {"error", "error_deleting", "error_extending", "error_restoring", "error_managing"}


def connect(cloud: str, region: str | None = None):
    """An openstacksdk connection to a clouds.yaml entry (no call is made until used)."""
    import openstack

    return openstack.connect(cloud=cloud, region_name=region)


def _not_found(exc: BaseException) -> bool:
    from openstack import exceptions

    return isinstance(exc, exceptions.NotFoundException)


def _get_or_none(getter: Callable[[str], Any], rid: str):
    try:
        return getter(rid)
    except Exception as exc:
        if _not_found(exc):
            return None
        raise


def describe_server(server) -> str:
    if server is None:
        return "gone"
    fault = (getattr(server, "fault", None) or {}).get("message")
    return (f"status={server.status} task_state={getattr(server, 'task_state', None)}"
            + (f" fault={fault}" if fault else ""))


def describe_volume(volume) -> str:
    if volume is None:
        return "gone"
    servers = sorted(a.get("server_id") or "?" for a in (volume.attachments or []))
    attached = f"attached to servers {servers}" if servers else "attached to no server"
    return f"status={volume.status} size={volume.size}GiB {attached}"


class CloudInspector:
    def __init__(self, conn, *, interval: float = 2.0, on_progress: Callable[[str], Any] | None = None):
        self.conn = conn
        self.interval = interval
        self.on_progress = on_progress

    # -- Nova ---------------------------------------------------------------------------
    def server(self, cid: str):
        return _get_or_none(self.conn.compute.get_server, cid)

    def wait_for_server(self, cid: str, *, status: str = "ACTIVE", timeout: float, after: str | None = None):
        return self._wait_status(lambda: self.server(cid), status, SERVER_FAILED, describe_server, timeout,
                                 f"Nova server {cid}", after)

    def wait_for_server_gone(self, cid: str, *, timeout: float, after: str | None = None) -> None:
        self._wait(lambda: self.server(cid), lambda s: s is None or s.status == "DELETED", None,
                   describe_server, timeout, f"Nova server {cid} to be gone", after)

    def console_output(self, cid: str, length: int = 200) -> str:
        try:
            return self.conn.compute.get_server_console_output(cid, length=length).get("output", "")
        except Exception as exc:  # evidence gathering must not mask the test's own failure
            return f"(console log unavailable: {type(exc).__name__}: {exc})"

    def flavor_name(self, server) -> str | None:
        flavor = server.flavor or {}
        if flavor.get("original_name") or flavor.get("name"):
            return flavor.get("original_name") or flavor.get("name")
        found = _get_or_none(self.conn.compute.get_flavor, flavor.get("id", ""))
        return found.name if found else None

    # -- Neutron ------------------------------------------------------------------------
    def ports_of(self, device_id: str) -> list:
        return list(self.conn.network.ports(device_id=device_id))

    def wait_for_no_ports(self, device_id: str, *, timeout: float, after: str | None = None) -> None:
        self._wait(lambda: self.ports_of(device_id), lambda ports: not ports, None,
                   lambda ports: f"{len(ports)} port(s): {[p.id for p in ports]}", timeout,
                   f"Neutron ports of device {device_id} to be released", after)

    def port(self, port_id: str):
        return _get_or_none(self.conn.network.get_port, port_id)

    def wait_for_ports_gone(self, port_ids, *, timeout: float, after: str | None = None) -> None:
        ids = set(port_ids)
        if not ids:
            return
        self._wait(lambda: [p for p in ids if self.port(p) is not None], lambda left: not left, None,
                   lambda left: f"still there: {sorted(left)}", timeout, f"Neutron ports {sorted(ids)} to be deleted",
                   after)

    def fixed_ips_by_network(self, device_id: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for port in self.ports_of(device_id):
            found.setdefault(port.network_id, set()).update(ip["ip_address"] for ip in port.fixed_ips)
        return found

    def mac_by_ip(self, device_id: str) -> dict[str, str]:
        return {ip["ip_address"]: port.mac_address.lower() for port in self.ports_of(device_id)
                for ip in port.fixed_ips}

    def network_id(self, name_or_id: str) -> str:
        network = self.conn.network.find_network(name_or_id, ignore_missing=False)
        return network.id

    def floating_ip(self, address: str):
        found = list(self.conn.network.ips(floating_ip_address=address))
        return found[0] if found else None

    def wait_for_floating_ip(self, address: str, *, port_ids: set[str] | None, timeout: float,
                             after: str | None = None):
        """Until the floating IP is associated with one of ``port_ids`` (None: with no port)."""
        def ready(fip):
            return fip is not None and (fip.port_id in port_ids if port_ids else fip.port_id is None)

        return self._wait(lambda: self.floating_ip(address), ready, lambda f: f is None and "floating IP is gone",
                          lambda f: "gone" if f is None else f"port_id={f.port_id} status={f.status}", timeout,
                          f"floating IP {address} to be "
                          + (f"associated with one of ports {sorted(port_ids)}" if port_ids else "on no port"),
                          after)

    # -- Cinder -------------------------------------------------------------------------
    def volume(self, cid: str):
        return _get_or_none(self.conn.block_storage.get_volume, cid)

    def wait_for_volume(self, cid: str, *, status: str, timeout: float, after: str | None = None):
        return self._wait_status(lambda: self.volume(cid), status, VOLUME_FAILED, describe_volume, timeout,
                                 f"Cinder volume {cid}", after)

    def wait_for_volume_gone(self, cid: str, *, timeout: float, after: str | None = None) -> None:
        self._wait(lambda: self.volume(cid), lambda v: v is None, None, describe_volume, timeout,
                   f"Cinder volume {cid} to be gone", after)

    def snapshot(self, cid: str):
        return _get_or_none(self.conn.block_storage.get_snapshot, cid)

    def wait_for_snapshot(self, cid: str, *, status: str, timeout: float, after: str | None = None):
        return self._wait(lambda: self.snapshot(cid), lambda s: s is not None and s.status == status,
                          lambda s: s is not None and s.status.startswith("error") and f"status={s.status}",
                          lambda s: "gone" if s is None else f"status={s.status}", timeout,
                          f"Cinder snapshot {cid} to be {status}", after)

    def wait_for_snapshot_gone(self, cid: str, *, timeout: float, after: str | None = None) -> None:
        self._wait(lambda: self.snapshot(cid), lambda s: s is None, None,
                   lambda s: "gone" if s is None else f"status={s.status}", timeout,
                   f"Cinder snapshot {cid} to be gone", after)

    # -- Glance -------------------------------------------------------------------------
    def image(self, cid: str):
        return _get_or_none(self.conn.image.get_image, cid)

    def wait_for_image_gone(self, cid: str, *, timeout: float, after: str | None = None) -> None:
        self._wait(lambda: self.image(cid), lambda i: i is None or i.status == "deleted", None,
                   lambda i: "gone" if i is None else f"status={i.status}", timeout, f"Glance image {cid} to be gone",
                   after)

    def _wait_status(self, probe, status: str, failures: set[str], describe, timeout: float, what: str,
                     after: str | None = None):
        """Until the resource shows ``status``; a failure status or its disappearance ends the wait."""
        def failed(resource):
            if resource is None:
                return f"{what} is gone"
            return resource.status in failures and describe(resource)

        return self._wait(probe, lambda r: r is not None and r.status == status, failed, describe, timeout,
                          f"{what} to be {status}", after)

    # -- the one way this module waits ------------------------------------------------------
    def _wait(self, probe, ready, failed, describe, timeout: float, what: str, after: str | None = None):
        return wait_for(probe, ready=ready, failed=failed, describe=describe, timeout=timeout,
                        interval=self.interval, what=what, after=after, on_progress=self.on_progress)
