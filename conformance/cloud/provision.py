"""What the suite provisions and looks up itself (not through the CPI): floating IPs for vip networks,
network ids for a profile's net_name.

The CPI never allocates or releases floating IPs (the official one expects them allocated in the
project), so the suite allocates one per test, tagged with the run id in its description, and
releases it in cleanup.
"""

from __future__ import annotations


def allocate_floating_ip(conn, network: str, description: str):
    """Allocate a floating IP from the external network ``network`` (name or id)."""
    net = conn.network.find_network(network, ignore_missing=False)
    return conn.network.create_ip(floating_network_id=net.id, description=description)


def release_floating_ip(conn, fip_id: str) -> None:
    conn.network.delete_ip(fip_id, ignore_missing=True)


def network_id(conn, name: str) -> str:
    """The id of the network named ``name`` (a profile's net_name), as a Director's cloud config
    would give it (net_id)."""
    return conn.network.find_network(name, ignore_missing=False).id
