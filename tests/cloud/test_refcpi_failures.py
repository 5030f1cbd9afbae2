"""create_vm failures through the reference CPI: a typed error, and nothing left behind.

Each case names a unique ``cfm-test-`` agent id and a free fixed IP, so "nothing left" is checked
precisely: no server carries the agent id, no port holds the requested address, the floating IP
(when one was involved) is attached to nothing.
"""

from __future__ import annotations

import ipaddress
import random
import uuid

import pytest
import test_refcpi_lifecycle as lifecycle
from test_refcpi_lifecycle import STATIC, manual

pytestmark = pytest.mark.cloud

# the lifecycle module's fixtures, shared (module scope: this module gets its own stemcell)
cpi, nets, stemcell = lifecycle.cpi, lifecycle.nets, lifecycle.stemcell


def leftovers(os_conn, agent_id, networks):
    servers = [s.id for s in os_conn.compute.servers() if (s.metadata or {}).get("agent_id") == agent_id]
    return {"servers": servers, "ports": lifecycle.ports_holding(os_conn, networks)}


def create(cpi, stemcell, networks, cloud_properties=None):
    agent_id = f"cfm-test-agent-{uuid.uuid4()}"
    error = cpi.error(
        "create_vm",
        agent_id,
        stemcell,
        cloud_properties or {"instance_type": "cfm.tiny"},
        networks,
        [],
        {},
        context=STATIC,
    )
    print(f"\ncreate_vm -> {error.type} (ok_to_retry={error.ok_to_retry}): {error.message[:300]}")
    return agent_id, error


def test_unknown_flavor_is_a_cloud_error_before_anything_exists(cpi, os_conn, nets, stemcell):
    networks = {"a": manual(os_conn, nets["cfm-manual-a"], default=True)}
    agent_id, error = create(cpi, stemcell, networks, {"instance_type": "cfm-test-no-such-flavor"})
    assert (error.type, error.ok_to_retry) == ("Bosh::Clouds::CloudError", False)
    assert "Flavor `cfm-test-no-such-flavor' not found" in error.message
    assert leftovers(os_conn, agent_id, networks) == {"servers": [], "ports": []}


def test_unknown_net_id_is_typed_and_leaves_nothing(cpi, os_conn, nets, stemcell):
    good = manual(os_conn, nets["cfm-manual-a"], default=True)
    bad = dict(manual(os_conn, nets["cfm-manual-b"]), cloud_properties={"net_id": str(uuid.uuid4())})
    networks = {"a": good, "b": bad}
    agent_id, error = create(cpi, stemcell, networks)
    assert error.type == "Bosh::Clouds::VMCreationFailed" and error.ok_to_retry is False
    assert "not existing or not accessible" in error.message
    assert leftovers(os_conn, agent_id, {"a": good}) == {"servers": [], "ports": []}, (
        "the port made for net a is gone"
    )


def test_ip_outside_the_subnet_is_typed_and_leaves_nothing(cpi, os_conn, nets, stemcell):
    good = manual(os_conn, nets["cfm-manual-a"], default=True)
    bad = dict(manual(os_conn, nets["cfm-manual-b"]), ip="192.0.2.77")
    networks = {"a": good, "b": bad}
    agent_id, error = create(cpi, stemcell, networks)
    assert error.type == "Bosh::Clouds::CloudError", error.message
    assert "192.0.2.77" in error.message or "fixed" in error.message.lower()
    assert leftovers(os_conn, agent_id, networks) == {"servers": [], "ports": []}


def unallocated_floating_ip(os_conn, localcloud_facts) -> str:
    """An address of the external pool that no floating IP holds (the subnet itself is admin's)."""
    first, last = (
        ipaddress.ip_address(a) for a in localcloud_facts["networks"]["external"]["pool"].split("-")
    )
    for _ in range(50):
        candidate = str(first + random.randrange(int(last) - int(first) + 1))
        if not list(os_conn.network.ips(floating_ip_address=candidate)):
            return candidate
    raise AssertionError("no unallocated address in the external pool")


def test_unallocated_vip_fails_retryably_after_tearing_the_server_down(
    cpi, os_conn, nets, stemcell, localcloud_facts
):
    unallocated = unallocated_floating_ip(os_conn, localcloud_facts)
    networks = {
        "a": manual(os_conn, nets["cfm-manual-a"], default=True),
        "pub": {"type": "vip", "ip": unallocated, "cloud_properties": {}},
    }
    agent_id, error = create(cpi, stemcell, networks)
    assert (error.type, error.ok_to_retry) == ("Bosh::Clouds::VMCreationFailed", True)
    assert f"Floating IP '{unallocated}' not allocated" in error.message
    assert leftovers(os_conn, agent_id, networks) == {"servers": [], "ports": []}


def test_delete_vm_of_a_server_already_gone_still_removes_its_ports(cpi, os_conn, nets, stemcell):
    # A delete_vm that timed out (or a server deleted behind the CPI's back): Nova unbinds the
    # pre-created ports, so they no longer name the server as device; a second delete_vm finds
    # no server, and must still free the static IPs, or the next create_vm on them fails.
    networks = {"a": manual(os_conn, nets["cfm-manual-a"], default=True)}
    cid, _ = cpi("create_vm", f"cfm-test-agent-{uuid.uuid4()}", stemcell, {"instance_type": "cfm.tiny"}, networks,
                 [], {}, context=STATIC)  # fmt: skip
    try:
        server = os_conn.compute.get_server(cid)
        os_conn.compute.delete_server(server)
        os_conn.compute.wait_for_delete(server, wait=300)
        assert lifecycle.ports_holding(os_conn, networks), "Nova left the pre-created port (unbound)"

        cpi("delete_vm", cid)

        assert not lifecycle.ports_holding(os_conn, networks), "delete_vm left the port holding the static IP"
    finally:  # whatever failed above, neither the server nor its port outlives the test
        leftover = os_conn.compute.find_server(cid, ignore_missing=True)
        if leftover is not None:
            os_conn.compute.delete_server(leftover)
            os_conn.compute.wait_for_delete(leftover, wait=300)
        for port_id in lifecycle.ports_holding(os_conn, networks):
            os_conn.network.delete_port(port_id, ignore_missing=True)


def test_missing_vm_and_disk_answers(cpi):
    ghost = str(uuid.uuid4())
    assert cpi("delete_vm", ghost) is None
    assert cpi("delete_disk", ghost) is None
    assert cpi("delete_snapshot", ghost) is None
    assert cpi.error("reboot_vm", ghost).type == "Bosh::Clouds::VMNotFound"
    assert cpi.error("attach_disk", ghost, ghost).type == "Bosh::Clouds::VMNotFound"
    assert cpi.error("get_disks", ghost).type == "Bosh::Clouds::VMNotFound"
    assert cpi.error("set_disk_metadata", ghost, {"a": "b"}).type == "Bosh::Clouds::DiskNotFound"
    assert cpi.error("snapshot_disk", ghost, {}).type == "Bosh::Clouds::DiskNotFound"
    assert cpi.error("resize_disk", ghost, 2048).type == "Bosh::Clouds::DiskNotFound"


@pytest.fixture
def unschedulable_flavor(os_admin):
    """A public flavor no host can take (more RAM than placement offers, within the quota): Nova puts the server in ERROR."""
    flavor = os_admin.compute.create_flavor(
        name=f"cfm-test-huge-{uuid.uuid4().hex[:8]}", ram=45000, vcpus=1, disk=3, is_public=True
    )
    yield flavor.name
    os_admin.compute.delete_flavor(flavor, ignore_missing=True)


def test_server_in_error_ends_the_wait_with_the_nova_fault(
    cpi, os_conn, nets, stemcell, unschedulable_flavor
):
    networks = {"a": manual(os_conn, nets["cfm-manual-a"], default=True)}
    agent_id, error = create(cpi, stemcell, networks, {"instance_type": unschedulable_flavor})
    assert (error.type, error.ok_to_retry) == ("Bosh::Clouds::VMCreationFailed", True)
    assert "status ERROR" in error.message and "No valid host" in error.message, "Nova's fault in the message"
    assert leftovers(os_conn, agent_id, networks) == {"servers": [], "ports": []}
