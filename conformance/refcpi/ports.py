"""Neutron side of create_vm/delete_vm: pre-created ports, security groups, the vip floating IP.

One port per manual network carries the requested fixed IP and the security groups (Nova applies
server security groups only to ports it creates itself). Ports are named after the server so a
sweep can find them; delete_vm removes every port of the server after the server is gone.
"""

from __future__ import annotations

import logging
from typing import Any

from conformance.refcpi.errors import CloudError, VMCreationFailed
from conformance.refcpi.networks import NetworkPlan, Nic
from conformance.refcpi.resources import retrying

LOG = logging.getLogger("conformance.refcpi.ports")


def resolve_security_groups(conn: Any, names: list[str]) -> list[str]:
    """Security group ids for names (or ids); a missing one is a CloudError naming it."""
    ids = []
    for name in names:
        group = conn.network.find_security_group(name, ignore_missing=True)
        if group is None:
            raise CloudError(f"Security group `{name}' not found")
        ids.append(group.id)
    return ids


PORT_DESCRIPTION = "bosh: pre-created by conformance-openstack-cpi"


def owner_description(server_id: str) -> str:
    """The description a pre-created port gets once its server exists: how delete_vm finds it
    again after Nova has cleared the port's device_id (a delete that timed out, a retry)."""
    return f"{PORT_DESCRIPTION} for server {server_id}"


def claim_ports(conn: Any, port_ids: list[str], server_id: str) -> None:
    for port_id in port_ids:
        conn.network.update_port(port_id, description=owner_description(server_id))


def create_port(conn: Any, nic: Nic, server_name: str, group_ids: list[str]) -> Any:
    LOG.info("Creating port on network %s with IP %s", nic.net_id, nic.ip)
    attrs = {
        "name": f"{server_name}-{nic.name}"[:255],
        "description": PORT_DESCRIPTION,
        "network_id": nic.net_id,
        "fixed_ips": [{"ip_address": nic.ip}],
    }
    if group_ids:  # none given: leave Neutron's default group on the port
        attrs["security_group_ids"] = group_ids
    port = conn.network.create_port(**attrs)
    LOG.info("Port %s (mac %s) for network `%s'", port.id, port.mac_address, nic.name)
    return port


def delete_ports(call: Any, port_ids: list[str]) -> list[str]:
    """Delete ports, tolerating "already gone"; returns the problems instead of stopping at one."""
    problems = []
    for port_id in port_ids:
        try:
            retrying(
                call,
                f"delete port {port_id}",
                lambda p=port_id: call.conn.network.delete_port(p, ignore_missing=True),
            )
            LOG.info("Deleted port %s", port_id)
        except Exception as exc:  # keep going: every port must get its chance
            problems.append(f"port {port_id}: {type(exc).__name__}: {exc}")
    return problems


def server_port_ids(conn: Any, server_id: str) -> list[str]:
    """The server's ports: bound to it, or pre-created for it (found by description even after
    Nova unbound them). The description is checked here too: a cloud that ignored the filter
    must not hand us every port of the project."""
    bound = {p.id for p in conn.network.ports(device_id=server_id)}
    wanted = owner_description(server_id)
    claimed = {p.id for p in conn.network.ports(description=wanted) if p.description == wanted}
    return sorted(bound | claimed)


def find_floating_ip(conn: Any, address: str) -> Any:
    found = list(conn.network.ips(floating_ip_address=address))
    if len(found) > 1:
        networks = ", ".join(f"'{ip.floating_network_id}'" for ip in found)
        raise VMCreationFailed(
            f"Floating IP '{address}' found in multiple networks: {networks}", ok_to_retry=True
        )
    if not found:
        raise VMCreationFailed(f"Floating IP '{address}' not allocated", ok_to_retry=True)
    return found[0]


def associate_vip(conn: Any, plan: NetworkPlan, spec: dict[str, Any], server: Any) -> str | None:
    """Move the requested floating IP onto the server's port in the gateway network; its id."""
    if plan.vip is None:
        return None
    name, address, props = plan.vip
    if not address:
        raise VMCreationFailed(f"VIP network `{name}' has no ip", ok_to_retry=False)
    fip = find_floating_ip(conn, address)
    net_id = props.get("net_id") or plan.gateway_nic(spec).net_id
    query = {"device_id": server.id} | ({"network_id": net_id} if net_id else {})
    port = next(iter(conn.network.ports(**query)), None)
    if port is None:
        raise VMCreationFailed(f"Server has no port in network '{net_id}'", ok_to_retry=True)
    if fip.port_id:
        LOG.info("Disassociating floating IP '%s' from port %s", address, fip.port_id)
    LOG.info("Associating floating IP '%s' with server '%s' (port %s)", address, server.id, port.id)
    conn.network.update_ip(fip, port_id=port.id)
    return fip.id


def disassociate(conn: Any, fip_id: str | None) -> None:
    if fip_id:
        conn.network.update_ip(fip_id, port_id=None)
