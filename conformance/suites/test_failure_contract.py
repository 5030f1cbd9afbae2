"""Failures: a create_vm that cannot succeed answers a typed error and leaves nothing behind;
calls on missing resources answer the documented error types."""

import ipaddress
import uuid

import pytest

from conformance.cpi.errors import CpiError
from conformance.expect import assert_error_type

pytestmark = [pytest.mark.capability("failure_contract")]


def _failed_create(lab, cleanup, stemcell, networks, agent_id, **kw) -> CpiError:
    with pytest.raises(CpiError) as info:
        lab.create_vm(cleanup, stemcell.cid, networks, agent_id=agent_id, **kw)
    assert info.value.known, f"create_vm failed with an error type the Director does not know: {info.value.type}"
    return info.value


def _assert_nothing_left(cloud, networks, profile, agent_id: str) -> None:
    """No port holds a requested static IP, no floating IP is associated, no server carries the
    failed call's agent id."""
    t = profile.timeouts
    ips = {spec["ip"] for spec in networks.values() if spec["type"] == "manual"}

    def leftovers():
        ports = [p.id for p in cloud.conn.network.ports() if {i["ip_address"] for i in p.fixed_ips} & ips]
        fips = [f.floating_ip_address for f in cloud.conn.network.ips() if f.port_id and
                f.floating_ip_address in {s["ip"] for s in networks.values() if s["type"] == "vip"}]
        return ports + fips

    from conformance.waiting import wait_for

    wait_for(leftovers, ready=lambda left: not left, describe=lambda left: f"left behind: {left}",
             timeout=t.port_release, interval=t.poll, what="no port or floating IP left by the failed create_vm")
    ours = [s.id for s in cloud.conn.compute.servers() if agent_id in (s.metadata or {}).values()]
    assert not ours, f"servers left by the failed create_vm: {ours}"


@pytest.mark.case("2ee6df51-ee58-433d-90de-e9d0e477b0e8")
def test_create_vm_with_an_unknown_flavor_fails_cleanly(lab, cleanup, stemcell, cloud, names, profile):
    """create_vm with a flavor the cloud does not have MUST fail with a typed error and leave no
    server, port or floating IP behind.

    Steps: request instance_type cfm-no-such-flavor with a manual network and a vip; expect a CPI
    error; check Nova and Neutron.
    """
    networks, _ = lab.networks_for(cleanup, manual=1, vip=profile.networks.vip is not None)
    props = {**profile.vm.cloud_properties, "instance_type": "cfm-no-such-flavor"}
    agent_id = names.agent_id()
    _failed_create(lab, cleanup, stemcell, networks, agent_id, cloud_properties=props)
    _assert_nothing_left(cloud, networks, profile, agent_id)


@pytest.mark.case("53b0f347-e80b-40b9-918d-255a38ec19fd")
def test_create_vm_on_a_missing_network_fails_cleanly(lab, cleanup, stemcell, cloud, names, profile):
    """create_vm with a net_id that does not exist MUST fail with a typed error and leave no
    server, port or floating IP behind.

    Steps: point the first manual network at a made-up net_id; expect a CPI error; check the cloud.
    """
    networks, _ = lab.networks_for(cleanup, manual=1, vip=profile.networks.vip is not None)
    first = profile.networks.manual[0].name
    networks[first]["cloud_properties"]["net_id"] = str(uuid.uuid4())
    agent_id = names.agent_id()
    _failed_create(lab, cleanup, stemcell, networks, agent_id)
    _assert_nothing_left(cloud, networks, profile, agent_id)


@pytest.mark.case("0a0b1d21-077b-4305-a8ab-220cfd4fedf4")
def test_create_vm_with_an_ip_outside_the_subnet_fails_cleanly(lab, cleanup, stemcell, cloud, names, profile):
    """create_vm with a static IP outside the network's subnet MUST fail with a typed error and
    leave no server, port or floating IP behind.

    Steps: ask for an address just past the subnet on the first manual network; expect a CPI error;
    check the cloud.
    """
    networks, _ = lab.networks_for(cleanup, manual=1, vip=profile.networks.vip is not None)
    first = profile.networks.manual[0]
    outside = str(ipaddress.IPv4Address(int(first.cidr.broadcast_address) + 10))
    networks[first.name]["ip"] = outside
    agent_id = names.agent_id()
    _failed_create(lab, cleanup, stemcell, networks, agent_id)
    _assert_nothing_left(cloud, networks, profile, agent_id)


@pytest.mark.case("a3ef6791-f91a-4785-8369-cc1eb6a6d690")
def test_attach_disk_to_a_missing_vm_is_a_typed_error(cpi, create_disk, profile):
    """attach_disk to a VM that does not exist MUST fail with VMNotFound (CloudError accepted when
    the profile is not strict about error types).

    Steps: create a disk; attach it to a made-up vm cid.
    """
    disk = create_disk()
    with pytest.raises(CpiError) as info:
        cpi.attach_disk(str(uuid.uuid4()), disk)
    assert_error_type(info.value, "VMNotFound", profile.features.strict_error_types, "attach_disk to a missing VM")


@pytest.mark.case("36876f56-b8d5-482c-bff8-0179b038697b")
def test_attach_of_a_missing_disk_is_a_typed_error(cpi, shared_vm, profile):
    """attach_disk of a disk that does not exist MUST fail with DiskNotFound (CloudError accepted
    when the profile is not strict about error types).

    Steps: attach a made-up disk cid to the shared VM.
    """
    with pytest.raises(CpiError) as info:
        cpi.attach_disk(shared_vm.cid, str(uuid.uuid4()))
    assert_error_type(info.value, "DiskNotFound", profile.features.strict_error_types, "attach_disk of a missing disk")


@pytest.mark.case("d9d3323e-d7d3-4374-82a7-654182e8a14e")
def test_reboot_of_a_missing_vm_is_a_typed_error(cpi, profile):
    """reboot_vm of a VM that does not exist MUST fail with VMNotFound (CloudError accepted when
    the profile is not strict about error types).

    Steps: reboot a made-up vm cid.
    """
    with pytest.raises(CpiError) as info:
        cpi.reboot_vm(str(uuid.uuid4()))
    assert_error_type(info.value, "VMNotFound", profile.features.strict_error_types, "reboot_vm of a missing VM")
