"""The OpenStack witness: what Nova, Neutron, Cinder and Glance say, through openstacksdk, read only.

Answers every question of conformance.cloud.witness.Witness with plain views; no openstacksdk
object leaves this module. Its waits are the protocol's (the profile's named timeouts, bound at
construction). ``connect`` and the describe_* helpers also serve the sweeper (sweep.py) and the
suite's own writes (provision.py: floating IPs), which stay OpenStack's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from conformance.cloud import witness as w

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



def _lower(value) -> str:
    return (value or "").lower()


class OpenStackWitness(w.Witness):
    name = "openstack"

    def __init__(self, profile, options: dict | None = None, *, conn=None):
        unknown = set(options or {})
        if unknown:
            from conformance.core.errors import ProfileError

            raise ProfileError(profile.source, "witnesses.openstack",
                               f"unknown option(s) {sorted(unknown)}: the OpenStack witness reads the clouds.yaml "
                               "entry `cloud` and takes no options")
        super().__init__(profile.timeouts)
        self.conn = conn if conn is not None else connect(profile.cloud, profile.region)

    @classmethod
    def over(cls, conn, timeouts, *, interval: float | None = None) -> OpenStackWitness:
        """A witness over an existing connection (tests, the lab's own connection)."""
        self = cls.__new__(cls)
        w.Witness.__init__(self, timeouts, interval=interval)
        self.conn = conn
        return self

    # -- Nova ---------------------------------------------------------------------------------
    def server(self, cid: str) -> w.Server | None:
        server = _get_or_none(self.conn.compute.get_server, cid)
        if server is None or server.status == "DELETED":
            return None
        return w.Server(self.name, server.id, server.status == "ACTIVE", describe_server(server), name=server.name,
                        flavor=self._flavor_name(server), availability_zone=server.availability_zone,
                        metadata=dict(server.metadata or {}))

    def _flavor_name(self, server) -> str | None:
        flavor = server.flavor or {}
        if flavor.get("original_name") or flavor.get("name"):
            return flavor.get("original_name") or flavor.get("name")
        found = _get_or_none(self.conn.compute.get_flavor, flavor.get("id", ""))
        return found.name if found else None

    def wait_for_server_running(self, cid: str, *, after: str | None = None) -> w.Server:
        return self._wait(lambda: self.server(cid), lambda s: s is not None and s.running,
                          lambda s: ("the server is gone" if s is None else
                                     s.state.startswith(tuple(f"status={f}" for f in SERVER_FAILED)) and s.state),
                          lambda s: "gone" if s is None else s.state, "vm_active", f"Nova server {cid} to be ACTIVE",
                          after)

    def console_output(self, cid: str) -> str:
        try:
            return self.conn.compute.get_server_console_output(cid, length=200).get("output", "")
        except Exception as exc:  # evidence gathering must not mask the test's own failure
            return f"(console log unavailable: {type(exc).__name__}: {exc})"

    def flavor(self, name: str) -> w.Flavor | None:
        found = self.conn.compute.find_flavor(name, ignore_missing=True)
        return None if found is None else w.Flavor(self.name, found.name, vcpus=found.vcpus, memory_mib=found.ram)

    # -- Neutron ------------------------------------------------------------------------------
    def nics(self, cid: str) -> list[w.Nic]:
        return [self._nic(port) for port in self.conn.network.ports(device_id=cid)]

    def _nic(self, port) -> w.Nic:
        return w.Nic(self.name, _lower(port.mac_address), ips=frozenset(i["ip_address"] for i in port.fixed_ips or []),
                     network_id=port.network_id, port_id=port.id)

    def wait_for_nics_gone(self, nics: list[w.Nic], *, after: str | None = None) -> None:
        ids = {nic.port_id for nic in nics}
        if not ids:
            return
        self._wait(lambda: [p for p in ids if _get_or_none(self.conn.network.get_port, p) is not None],
                   lambda left: not left, None, lambda left: f"still there: {sorted(left)}", "port_release",
                   f"Neutron ports {sorted(ids)} to be deleted", after)

    def addresses_held(self, network_id: str, ips: list[str]) -> dict[str, str]:
        wanted = {str(ip) for ip in ips}
        return {fixed["ip_address"]: (f"port {port.id} ({port.name or 'unnamed'}, device {port.device_id or 'none'}, "
                                      f"created {port.created_at})")
                for port in self.conn.network.ports(network_id=network_id)
                for fixed in port.fixed_ips or [] if fixed["ip_address"] in wanted}

    def holders(self, ips: set[str], floating_ips: set[str], agent_id: str) -> list[str]:
        found = [f"port {p.id} holds {sorted({i['ip_address'] for i in p.fixed_ips or []} & ips)}"
                 for p in self.conn.network.ports() if {i["ip_address"] for i in p.fixed_ips or []} & ips]
        found += [f"floating IP {f.floating_ip_address} on port {f.port_id}" for f in self.conn.network.ips()
                  if f.port_id and f.floating_ip_address in floating_ips]
        found += [f"server {s.id} carries agent id {agent_id}" for s in self.conn.compute.servers()
                  if agent_id in (s.name or "") or agent_id in (s.metadata or {}).values()]
        return found

    def floating_ip(self, address: str) -> w.FloatingIp | None:
        found = list(self.conn.network.ips(floating_ip_address=address))
        if not found:
            return None
        return w.FloatingIp(self.name, address, port_id=found[0].port_id, state=found[0].status)

    # -- Cinder -------------------------------------------------------------------------------
    def volume(self, cid: str) -> w.Volume | None:
        volume = _get_or_none(self.conn.block_storage.get_volume, cid)
        if volume is None:
            return None
        return w.Volume(self.name, volume.id, describe_volume(volume), size_gib=volume.size,
                        available=volume.status == "available",
                        attached_to=frozenset(a.get("server_id") for a in volume.attachments or []
                                              if a.get("server_id")),
                        metadata=dict(volume.metadata or {}))

    def wait_for_volume_attached(self, cid: str, vm_cid: str, *, after: str | None = None) -> w.Volume:
        """Cinder shows the volume in-use by the server (the attachment alone shows while attaching)."""
        return self._wait(lambda: self.volume(cid),
                          lambda v: v is not None and v.state.startswith("status=in-use") and vm_cid in v.attached_to,
                          w._volume_failed, lambda v: "gone" if v is None else v.state, "disk_attach",
                          f"Cinder volume {cid} to be in-use by server {vm_cid}", after)

    def wait_for_volume_detached(self, cid: str, vm_cid: str, *, after: str | None = None) -> w.Volume | None:
        """Cinder shows the volume available again (attached to nothing)."""
        return self._wait(lambda: self.volume(cid), lambda v: v is not None and v.available, w._volume_failed,
                          lambda v: "gone" if v is None else v.state, "disk_detach",
                          f"Cinder volume {cid} to be available after leaving server {vm_cid}", after)

    def snapshot(self, cid: str) -> w.Snapshot | None:
        snap = _get_or_none(self.conn.block_storage.get_snapshot, cid)
        if snap is None:
            return None
        return w.Snapshot(self.name, snap.id, f"status={snap.status}", ready=snap.status == "available",
                          volume_id=snap.volume_id)

    def wait_for_snapshot_ready(self, cid: str, *, after: str | None = None) -> w.Snapshot:
        return self._wait(lambda: self.snapshot(cid), lambda s: s is not None and s.ready,
                          lambda s: ("the snapshot is gone" if s is None else
                                     s.state.startswith("status=error") and s.state),
                          lambda s: "gone" if s is None else s.state, "volume_status",
                          f"Cinder snapshot {cid} to be available", after)

    # -- Glance -------------------------------------------------------------------------------
    def image(self, cid: str) -> w.Image | None:
        image = _get_or_none(self.conn.image.get_image, cid)
        if image is None or image.status == "deleted":
            return None
        return w.Image(self.name, image.id, f"status={image.status}", active=image.status == "active",
                       disk_format=image.disk_format, container_format=image.container_format)

    def image_ids(self) -> set[str]:
        return {image.id for image in self.conn.image.images()}

    # -- version discovery ----------------------------------------------------------------------
    def api_versions(self) -> dict:
        from conformance.cloud.fingerprint import fingerprint

        return fingerprint(self.conn)["services"]
