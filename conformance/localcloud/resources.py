"""The test project and what the suite expects in it, found by name and created only when missing.

The test user `cfm-conformance` has role member (not admin): the suite runs with the rights a BOSH
director has on a real cloud. Admin-only objects (external network, flavors) are made as admin;
project objects (key pair, security group, networks, router) as the test user, so they are its own.
"""

from __future__ import annotations

from conformance.localcloud import identity
from conformance.localcloud.config import (
    DYNAMIC_NETWORK,
    EXTERNAL_NETWORK,
    FLAVORS,
    KEY_NAME,
    MANUAL_NETWORKS,
    ROUTER,
    SECURITY_GROUP,
    TEST_PROJECT,
    TEST_USER,
)  # fmt: skip


def ensure_test_project(admin, password: str) -> list[str]:
    project = identity.ensure_project(admin, TEST_PROJECT, "cpi-conformance test project")
    user, state = identity.ensure_user(admin, TEST_USER, password, TEST_PROJECT)
    added = identity.ensure_roles(admin, user, project, ["member"])
    notes = [f"user {state}"] if state != "present" else []
    if identity.fix_password(admin, user, TEST_USER, password, TEST_PROJECT):
        notes.append("user password reset")
    return notes + ([f"roles {added}"] if added else [])


def ensure_flavors(admin) -> list[str]:
    made = []
    for name, vcpus, ram, disk in FLAVORS.values():
        if admin.compute.find_flavor(name, ignore_missing=True) is None:
            admin.compute.create_flavor(name=name, vcpus=vcpus, ram=ram, disk=disk, is_public=True)
            made.append(name)
    return [f"flavors {made}"] if made else []


def ensure_external_network(admin) -> tuple[object, list[str]]:
    """Flat network `public` on br-ex; its subnet has NO gateway, so routers get no default route."""
    name, notes = EXTERNAL_NETWORK["name"], []
    net = admin.network.find_network(name)
    if net is None:
        net = admin.network.create_network(
            name=name, is_router_external=True, provider_network_type="flat",
            provider_physical_network="public", is_shared=False,
        )  # fmt: skip
        notes.append("network public")
    if admin.network.find_subnet(f"{name}-subnet") is None:
        start, end = EXTERNAL_NETWORK["pool"].split("-")
        admin.network.create_subnet(
            name=f"{name}-subnet", network_id=net.id, ip_version=4, cidr=EXTERNAL_NETWORK["cidr"],
            gateway_ip=None, is_dhcp_enabled=False, allocation_pools=[{"start": start, "end": end}],
        )  # fmt: skip
        notes.append("subnet public-subnet")
    return net, notes


def ensure_security_group(conn) -> list[str]:
    group, notes = conn.network.find_security_group(SECURITY_GROUP, project_id=conn.current_project_id), []
    if group is None:
        group = conn.network.create_security_group(name=SECURITY_GROUP, description="SSH and ICMP in")
        notes.append("security group")
    have = {
        (r["direction"], r["protocol"], r["port_range_min"], r["ethertype"])
        for r in group.security_group_rules or []
    }
    for direction, protocol, port in (("ingress", "tcp", 22), ("ingress", "icmp", None)):
        if (direction, protocol, port, "IPv4") not in have:
            conn.network.create_security_group_rule(
                security_group_id=group.id, direction=direction, protocol=protocol, ethertype="IPv4",
                port_range_min=port, port_range_max=port, remote_ip_prefix="0.0.0.0/0",
            )  # fmt: skip
    if ("egress", None, None, "IPv4") not in have:
        conn.network.create_security_group_rule(security_group_id=group.id, direction="egress", ethertype="IPv4")
    return notes


def ensure_network(conn, spec: dict, dhcp: bool) -> tuple[object, list[str]]:
    net, notes = conn.network.find_network(spec["name"], project_id=conn.current_project_id), []
    if net is None:
        net = conn.network.create_network(name=spec["name"])
        notes.append(spec["name"])
    subnet = conn.network.find_subnet(f"{spec['name']}-subnet", network_id=net.id)
    if subnet is None:
        extra = {"dns_nameservers": [spec["gateway"]]} if spec is DYNAMIC_NETWORK else {}
        subnet = conn.network.create_subnet(
            name=f"{spec['name']}-subnet", network_id=net.id, ip_version=4, cidr=spec["cidr"],
            gateway_ip=spec["gateway"], is_dhcp_enabled=dhcp, **extra,
        )  # fmt: skip
        notes.append(f"{spec['name']}-subnet")
    return subnet, notes


def ensure_router(conn, external, subnets: list) -> list[str]:
    router, notes = conn.network.find_router(ROUTER, project_id=conn.current_project_id), []
    if router is None:
        router = conn.network.create_router(name=ROUTER, external_gateway_info={"network_id": external.id})
        notes.append("router")
    attached = {
        ip["subnet_id"]
        for port in conn.network.ports(device_id=router.id, device_owner="network:router_interface")
        for ip in port.fixed_ips
    }
    for subnet in subnets:
        if subnet.id not in attached:
            conn.network.add_interface_to_router(router, subnet_id=subnet.id)
            notes.append(f"router+{subnet.name}")
    return notes


def ensure_keypair(conn, public_key: str) -> list[str]:
    """Nova's key pair must hold *our* public key (the private half is in the state dir)."""
    keypair = conn.compute.find_keypair(KEY_NAME, ignore_missing=True)
    if keypair is not None and keypair.public_key.split()[:2] == public_key.split()[:2]:
        return []
    if keypair is not None:
        conn.compute.delete_keypair(keypair)
    conn.compute.create_keypair(name=KEY_NAME, public_key=public_key)
    return ["key pair"]


def ensure_project_resources(admin, conn, public_key: str) -> list[str]:
    notes = ensure_flavors(admin)
    external, more = ensure_external_network(admin)
    notes += more + ensure_keypair(conn, public_key) + ensure_security_group(conn)
    subnets = []
    for spec in (*MANUAL_NETWORKS, DYNAMIC_NETWORK):
        subnet, more = ensure_network(conn, spec, dhcp=spec.get("dhcp", True))
        subnets.append(subnet)
        notes += more
    return notes + ensure_router(conn, external, subnets)
