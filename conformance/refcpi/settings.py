"""The agent settings written into the server's user_data (pure).

Registry-less (CPI API v2): the whole agent settings travel in user_data, as the official CPI
writes them: ``server.name``, ``vm.name``, ``agent_id``, ``networks`` (each non-vip network gets
``use_dhcp``; pre-created ports add ``mac``), ``disks`` (system /dev/sda, ephemeral /dev/sdb or
null, persistent {}), ``env`` as passed, ``dns.nameserver`` and the config's ``agent`` block at
top level. No SSH key: that comes through the Nova key pair. We have no registry, so the full
settings are written whatever the stemcell's api_version.
"""

from __future__ import annotations

import copy
import json
from typing import Any


def agent_networks(spec: dict[str, Any], use_dhcp: bool, macs: dict[str, str]) -> dict[str, Any]:
    """The networks as the agent sees them: use_dhcp on every non-vip network, mac where known."""
    result = copy.deepcopy(spec)
    for name, network in result.items():
        if network.get("type") != "vip":
            network["use_dhcp"] = use_dhcp
        if name in macs:
            network["mac"] = macs[name]
    return result


def nameservers(spec: dict[str, Any]) -> list[str] | None:
    """DNS servers of the network marked default for dns, else of the first network that has any."""
    with_dns = [n for n in spec.values() if isinstance(n, dict) and n.get("dns")]
    for network in with_dns:
        if "dns" in (network.get("default") or []):
            return list(network["dns"])
    return list(with_dns[0]["dns"]) if with_dns else None


def agent_settings(
    *,
    server_name: str,
    agent_id: str,
    networks: dict[str, Any],
    env: Any,
    has_ephemeral: bool,
    agent: dict[str, Any],
) -> dict[str, Any]:
    """The full settings the BOSH agent reads from the config drive's user_data."""
    settings: dict[str, Any] = {
        "server": {"name": server_name},
        "vm": {"name": server_name},
        "agent_id": agent_id,
        "networks": networks,
        "disks": {"system": "/dev/sda", "ephemeral": "/dev/sdb" if has_ephemeral else None, "persistent": {}},
    }
    dns = nameservers(networks)
    if dns:
        settings["dns"] = {"nameserver": dns}
    if env:
        settings["env"] = env
    settings.update(copy.deepcopy(agent))
    return settings


def user_data(settings: dict[str, Any]) -> str:
    return json.dumps(settings, sort_keys=True)
