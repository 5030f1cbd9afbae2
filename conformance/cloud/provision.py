"""The few writes the suite makes itself (not through the CPI): floating IPs for vip networks.

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
