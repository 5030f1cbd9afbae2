"""The networks argument of create_vm, checked and planned before anything is created (pure).

Rules as the official CPI applies them: at least one manual or dynamic network; at most one
dynamic and one vip; every manual network names its Neutron net_id and no net_id twice; security
groups in a network's cloud_properties are a list; several manual networks need use_dhcp false
and a config drive (each NIC then gets its static settings from user_data, matched by MAC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.refcpi.errors import CloudError

MULTI_MANUAL = (
    "Multiple manual networks can only be used with 'openstack.use_dhcp=false' and "
    "'openstack.config_drive=cdrom|disk'"
)


@dataclass(frozen=True)
class Nic:
    name: str  # the network's name in the request
    kind: str  # "manual" | "dynamic"
    net_id: str | None
    ip: str | None = None
    security_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetworkPlan:
    nics: tuple[Nic, ...]
    vip: tuple[str, str, dict[str, Any]] | None = None  # (name, ip, cloud_properties)
    security_groups: tuple[str, ...] = field(default=())

    @property
    def manual(self) -> tuple[Nic, ...]:
        return tuple(n for n in self.nics if n.kind == "manual")

    @property
    def dynamic(self) -> Nic | None:
        return next((n for n in self.nics if n.kind == "dynamic"), None)

    def gateway_nic(self, spec: dict[str, Any]) -> Nic:
        """The NIC a floating IP goes to: the network marked default gateway, else the first."""
        for nic in self.nics:
            if "gateway" in (spec.get(nic.name, {}).get("default") or []):
                return nic
        return self.nics[0]


def _cloud_properties(name: str, network: dict[str, Any]) -> dict[str, Any]:
    props = network.get("cloud_properties") or {}
    if not isinstance(props, dict):
        raise CloudError(f"Network `{name}': cloud_properties must be an object")
    return props


def _security_groups(name: str, props: dict[str, Any]) -> tuple[str, ...]:
    groups = props.get("security_groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise CloudError(f"Network `{name}': security groups must be an Array")
    return tuple(groups)


def _nic(name: str, network: dict[str, Any], kind: str, seen_ids: set[str]) -> Nic:
    props = _cloud_properties(name, network)
    net_id = props.get("net_id")
    if kind == "manual" and not net_id:
        raise CloudError("Manual network must have net_id")
    if net_id and net_id in seen_ids:
        raise CloudError(f"{kind.capitalize()} network with id {net_id} is already defined")
    if net_id:
        seen_ids.add(net_id)
    if kind == "manual" and not network.get("ip"):
        raise CloudError(f"Manual network `{name}' must have an ip")
    return Nic(
        name, kind, net_id, network.get("ip") if kind == "manual" else None, _security_groups(name, props)
    )


def plan(spec: Any, *, use_dhcp: bool, config_drive: str | None) -> NetworkPlan:
    """Check the networks argument and return what to create. Raises CloudError."""
    if not isinstance(spec, dict):
        raise CloudError(f"Invalid network spec, Hash expected, {type(spec).__name__} provided")
    nics: list[Nic] = []
    vip, groups, seen = None, [], set()
    for name, network in spec.items():
        if not isinstance(network, dict):
            raise CloudError(f"Network `{name}' must be an object")
        kind = network.get("type") or "manual"
        if kind == "vip":
            if vip:
                raise CloudError("Only one VIP network per instance should be defined")
            props = _cloud_properties(name, network)
            groups += _security_groups(name, props)
            if not network.get("ip"):
                raise CloudError(f"VIP network `{name}' has no ip")
            vip = (name, network.get("ip"), props)
            continue
        if kind not in ("manual", "dynamic"):
            raise CloudError(
                f"Invalid network type `{kind}': OpenStack CPI can only handle `dynamic', 'manual' or `vip' network types"
            )
        if kind == "dynamic" and any(n.kind == "dynamic" for n in nics):
            raise CloudError("Only one dynamic network per instance should be defined")
        nic = _nic(name, network, kind, seen)
        groups += nic.security_groups
        nics.append(nic)
    if not nics:
        raise CloudError("At least one dynamic or manual network should be defined")
    if sum(n.kind == "manual" for n in nics) > 1 and (use_dhcp or not config_drive):
        raise CloudError(MULTI_MANUAL)
    return NetworkPlan(tuple(nics), vip, tuple(sorted(set(groups))))
