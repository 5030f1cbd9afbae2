"""Failures: a create_vm that cannot succeed answers a typed error and leaves nothing behind;
calls on missing resources answer the documented error types.

The bad create_vm requests here are Director-shaped requests a Director does send when its cloud
config disagrees with the cloud (a flavor or net_id that is gone, a subnet range that is not
Neutron's): bosh.io CPI API v2 create_vm asks the CPI, when creation fails, "to properly delete the
associated resources"."""

import ipaddress
import uuid

import pytest

from conformance.cpi import director
from conformance.cpi.errors import CpiError
from conformance.run.expect import assert_error_type

pytestmark = [pytest.mark.capability("failure_contract")]

#: Error types bosh-cpi-ruby sends (lib/bosh/cpi/cli.rb) that are not in the Director's
#: KNOWN_RPC_ERRORS: the Director raises its UnknownError for them.
NOT_DIRECTOR_TYPES = {"Unknown", "InvalidCall"}


def _failed_create(lab, cleanup, stemcell, networks, instance, record_property, **kw) -> CpiError:
    with pytest.raises(CpiError) as info:
        lab.create_vm(cleanup, stemcell.cid, networks, instance=instance, **kw)
    error = info.value
    assert error.known, f"create_vm failed with a type neither the Director nor bosh-cpi-ruby knows: {error.type}"
    if error.type in NOT_DIRECTOR_TYPES:
        record_property("observation", f"create_vm answered {error.type}, which the Director reports as an unknown "
                                       "CPI error (external_cpi.rb KNOWN_RPC_ERRORS)")
    return error


def _assert_nothing_left(cloud, networks, agent_id: str, error: CpiError) -> None:
    """No port holds a requested static IP, no requested floating IP is associated, no server shows
    the failed call's agent id (in its name or metadata)."""
    ips = {spec["ip"] for spec in networks.values() if spec["type"] == "manual"}
    fips = {spec["ip"] for spec in networks.values() if spec["type"] == "vip"}
    for seen in cloud.checks("the failed create_vm left no port, floating IP association or server behind"):
        with seen as w:
            w.wait_for_no_holders(ips, fips, agent_id, after=f"create_vm answered {error.short_type}")


@pytest.mark.case("2ee6df51-ee58-433d-90de-e9d0e477b0e8")
def test_create_vm_with_an_unknown_flavor_fails_cleanly(lab, cleanup, stemcell, cloud, profile, record_property):
    """create_vm with a flavor the cloud does not have MUST fail with a typed error (the Director's
    external_cpi.rb KNOWN_RPC_ERRORS, or bosh-cpi-ruby's Unknown, recorded as an observation) and
    leave no server, port or floating IP behind (bosh.io CPI API v2 create_vm: "If the VM's
    creation fails, please make sure to properly delete the associated resources").

    Steps: request instance_type cfm-no-such-flavor with a manual network and a vip; expect a CPI
    error; check Nova and Neutron.
    """
    networks, _ = lab.networks_for(cleanup, manual=1, vip=profile.networks.vip is not None)
    props = {**profile.vm.cloud_properties, "instance_type": "cfm-no-such-flavor"}
    instance = lab.new_instance()
    error = _failed_create(lab, cleanup, stemcell, networks, instance, record_property, cloud_properties=props)
    _assert_nothing_left(cloud, networks, instance.agent_id, error)


@pytest.mark.case("53b0f347-e80b-40b9-918d-255a38ec19fd")
def test_create_vm_on_a_missing_network_fails_cleanly(lab, cleanup, stemcell, cloud, profile, record_property):
    """create_vm with a net_id that does not exist MUST fail with a typed error (the Director's
    external_cpi.rb KNOWN_RPC_ERRORS, or bosh-cpi-ruby's Unknown, recorded as an observation) and
    leave no server, port or floating IP behind (bosh.io CPI API v2 create_vm: "properly delete
    the associated resources").

    Steps: point the first manual network at a made-up net_id; expect a CPI error; check the cloud.
    """
    networks, _ = lab.networks_for(cleanup, manual=1, vip=profile.networks.vip is not None)
    first = profile.networks.manual[0].name
    networks[first]["cloud_properties"]["net_id"] = str(uuid.uuid4())
    instance = lab.new_instance()
    error = _failed_create(lab, cleanup, stemcell, networks, instance, record_property)
    _assert_nothing_left(cloud, networks, instance.agent_id, error)


@pytest.mark.case("0a0b1d21-077b-4305-a8ab-220cfd4fedf4")
def test_create_vm_with_an_ip_outside_the_subnet_fails_cleanly(lab, cleanup, stemcell, cloud, profile, record_property):
    """create_vm with a static IP outside the network's Neutron subnet MUST fail with a typed error
    (the Director's external_cpi.rb KNOWN_RPC_ERRORS, or bosh-cpi-ruby's Unknown, recorded as an
    observation) and leave no server, port or floating IP behind (bosh.io CPI API v2 create_vm:
    "properly delete the associated resources").

    Steps: ask for an address just past the subnet on the first manual network; expect a CPI error;
    check the cloud.
    """
    networks, _ = lab.networks_for(cleanup, manual=1, vip=profile.networks.vip is not None)
    first = profile.networks.manual[0]
    outside = str(ipaddress.IPv4Address(int(first.cidr.broadcast_address) + 10))
    networks[first.name]["ip"] = outside
    instance = lab.new_instance()
    error = _failed_create(lab, cleanup, stemcell, networks, instance, record_property)
    _assert_nothing_left(cloud, networks, instance.agent_id, error)


@pytest.mark.case("a3ef6791-f91a-4785-8369-cc1eb6a6d690")
def test_attach_disk_to_a_missing_vm_is_a_typed_error(cpi, create_disk, shared_vm, profile):
    """attach_disk to a VM that does not exist MUST fail with an error type the Director knows
    (external_cpi.rb KNOWN_RPC_ERRORS): VMNotFound when the profile is strict about error types,
    CloudError accepted otherwise.

    Steps: create a disk; attach it to a made-up vm cid.
    """
    disk = create_disk(vm_cid=shared_vm.cid)
    with pytest.raises(CpiError) as info:
        cpi.send(director.attach_disk(str(uuid.uuid4()), disk, stemcell_api_version=shared_vm.stemcell_api_version))
    assert_error_type(info.value, "VMNotFound", profile.features.strict_error_types, "attach_disk to a missing VM")


@pytest.mark.case("36876f56-b8d5-482c-bff8-0179b038697b")
def test_attach_of_a_missing_disk_is_a_typed_error(lab, shared_vm, profile):
    """attach_disk of a disk that does not exist MUST fail with an error type the Director knows
    (external_cpi.rb KNOWN_RPC_ERRORS): DiskNotFound when the profile is strict about error types,
    CloudError accepted otherwise.

    Steps: attach a made-up disk cid to the shared VM.
    """
    with pytest.raises(CpiError) as info:
        lab.send_on(shared_vm, director.attach_disk(shared_vm.cid, str(uuid.uuid4()),
                                                    stemcell_api_version=shared_vm.stemcell_api_version))
    assert_error_type(info.value, "DiskNotFound", profile.features.strict_error_types, "attach_disk of a missing disk")


@pytest.mark.case("d9d3323e-d7d3-4374-82a7-654182e8a14e")
def test_reboot_of_a_missing_vm_is_a_typed_error(cpi, profile):
    """reboot_vm of a VM that does not exist MUST fail with an error type the Director knows
    (external_cpi.rb KNOWN_RPC_ERRORS): VMNotFound when the profile is strict about error types,
    CloudError accepted otherwise.

    Steps: reboot a made-up vm cid.
    """
    with pytest.raises(CpiError) as info:
        cpi.send(director.reboot_vm(str(uuid.uuid4())))
    assert_error_type(info.value, "VMNotFound", profile.features.strict_error_types, "reboot_vm of a missing VM")
