"""The ``networks`` argument of create_vm, built from profile networks as the Director builds it."""

from __future__ import annotations

from typing import Any


def manual_network(net, *, net_id: str, ip: str, default: tuple[str, ...] = ()) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": "manual",
        "ip": str(ip),
        "netmask": str(net.cidr.netmask),
        "gateway": str(net.gateway),
        "cloud_properties": {**net.cloud_properties, "net_id": net_id},
    }
    if net.dns:
        spec["dns"] = [str(d) for d in net.dns]
    if default:
        spec["default"] = list(default)
    return spec


def dynamic_network(net, *, net_id: str, default: tuple[str, ...] = ("dns", "gateway")) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "dynamic", "cloud_properties": {**net.cloud_properties, "net_id": net_id}}
    if default:
        spec["default"] = list(default)
    return spec


def vip_network(address: str) -> dict[str, Any]:
    return {"type": "vip", "ip": str(address), "cloud_properties": {}}


def agent_env(run_id: str) -> dict[str, Any]:
    """The env a Director passes to create_vm (bosh group names, no password)."""
    return {"bosh": {"group": f"cfm-{run_id}", "groups": ["cfm", f"cfm-{run_id}"]}}
