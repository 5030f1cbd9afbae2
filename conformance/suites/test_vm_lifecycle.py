"""VM lifecycle through the CPI: create, has_vm, metadata, reboot, delete; checked in Nova and the guest."""

import uuid

import pytest

from conformance.cpi import director
from conformance.cpi.errors import CpiError
from conformance.run import expect

pytestmark = [pytest.mark.capability("vm_lifecycle"), pytest.mark.slow]


@pytest.mark.case("b52688d5-1c54-4bce-ae17-709b611ae3e2")
def test_create_vm_answers_its_cid_and_has_vm_is_true(cpi, profile, shared_vm, record_property):
    """create_vm MUST answer the VM's cid, under CPI API v2 as [vm_cid, networks] with networks a
    hash (bosh.io CPI API v2 create_vm: "returns an array of the resultant instance ID and the
    networks associated with the VM"), and has_vm MUST then be true (bosh.io has_vm: "True if VM
    is present").

    Steps: the shared VM was created through the CPI; check the answer's shape for the API version
    the profile speaks; call has_vm.
    """
    if expect.applies(record_property, profile.cpi.api_version >= 2, "create_vm answers [cid, networks]", "the profile speaks CPI API v1 (cpi.api_version)"):
        assert isinstance(shared_vm.answered_networks, dict), "v2 create_vm must answer [cid, networks]"
        if set(shared_vm.answered_networks) != set(shared_vm.networks):
            record_property("observation", f"v2 create_vm answered networks {sorted(shared_vm.answered_networks)} "
                                           f"for the requested {sorted(shared_vm.networks)}")
    assert cpi.send(director.has_vm(shared_vm.cid)) is True, f"has_vm({shared_vm.cid})"


@pytest.mark.case("149c6b85-5559-498d-8278-834ff3e062bf")
def test_server_is_active_with_the_requested_flavor_and_zone(cloud, profile, shared_vm, record_property):
    """The VM MUST be ACTIVE in Nova (bosh.io create_vm: "The newly created VM must be powered on")
    with the flavor and availability zone its cloud_properties asked for (the OpenStack CPI's
    instance_type and availability_zone; the Director merges the AZ's cloud_properties under the
    VM type's: merged_cloud_properties.rb).

    Steps: read the server from Nova; compare flavor and zone with the request.
    """
    server = cloud.server(shared_vm.cid)
    assert server is not None and server.status == "ACTIVE", f"server {shared_vm.cid} in Nova"
    wanted = profile.vm.cloud_properties.get("instance_type")
    if expect.applies(record_property, bool(wanted), "the server's flavor",
                      "the profile's vm.cloud_properties names no instance_type"):
        assert cloud.flavor_name(server) == wanted, "flavor of the server vs cloud_properties.instance_type"
    if expect.applies(record_property, bool(profile.vm.availability_zone), "the server's availability zone",
                      "the profile names no vm.availability_zone"):
        assert server.availability_zone == profile.vm.availability_zone, "availability zone"
    if shared_vm.agent_id not in (server.metadata or {}).values():
        record_property("observation", "the server's Nova metadata does not carry the agent id (nothing asks it to)")


@pytest.mark.case("b1bd9b98-c6b7-47c3-88d6-b977158c4769")
def test_set_vm_metadata_is_visible_in_nova(lab, cloud, shared_vm):
    """set_vm_metadata MUST put every key and value it is given on the server's metadata (bosh.io
    CPI API v2 set_vm_metadata: metadata "to make it easier for operators to categorize VM-based
    resources", the default tags and the deployment's tags); NotImplemented is a skip, as the
    Director rescues it (metadata_updater.rb).

    Steps: send the metadata a Director sends (metadata_updater.rb#update_vm_metadata: tags,
    director, deployment, id, job, instance_group, index, name, created_at); read Nova's metadata.
    """
    metadata = director.vm_metadata(shared_vm.instance)
    try:
        lab.send_on(shared_vm, director.set_vm_metadata(shared_vm.cid, metadata))
    except CpiError as err:
        if err.short_type == "NotImplemented":
            pytest.skip("set_vm_metadata answered NotImplemented (the Director rescues it: metadata_updater.rb)")
        raise
    seen = cloud.server(shared_vm.cid).metadata or {}
    assert {k: seen.get(k) for k in metadata} == metadata, "server metadata after set_vm_metadata"


@pytest.mark.case("9121efb4-e218-46f7-9081-9a44c8106ba0")
@pytest.mark.requires("reboot")
def test_reboot_vm_really_reboots_the_guest(lab, cloud, create_vm, ssh, profile):
    """reboot_vm MUST reboot the guest, which comes back ACTIVE and answers SSH with a new boot id
    (bosh.io CPI API v2 reboot_vm: "Reboots the VM"; the Director then waits for the agent:
    cloudcheck_helper.rb#reboot_vm).

    Steps: boot a VM; read its boot id over SSH; reboot_vm; wait for SSH with a different boot id
    and for ACTIVE.
    """
    vm = create_vm()
    with ssh(vm) as guest:
        before = guest.boot_id()
    lab.send_on(vm, director.reboot_vm(vm.cid))
    after = lab.wait_rebooted(vm, before)
    assert after != before
    server = cloud.wait_for_server(vm.cid, timeout=profile.timeouts.vm_active, after="reboot_vm answered OK")
    assert server.status == "ACTIVE"


@pytest.mark.case("7690b49a-e860-4056-9466-c10f62f0e805")
def test_delete_vm_removes_the_server_and_its_ports(cpi, lab, cloud, create_vm, profile, record_property):
    """delete_vm MUST remove the server (bosh.io delete_vm: "Deletes the VM") and every port it had
    (Director: a deleted VM's static IPs go back to the pool and to the next VM); has_vm MUST then
    be false, and a second delete_vm MUST return normally or answer VMNotFound (Director:
    delete_vm_step.rb rescues VMNotFound).

    Steps: create a VM (no floating IP); note its ports; delete_vm; wait until Nova and Neutron
    show neither; has_vm; delete_vm again.
    """
    vm = create_vm(vip=False)
    ports = {p.id for p in cloud.ports_of(vm.cid)}
    assert ports, f"Neutron shows no port for VM {vm.cid} on its manual network"
    delete = director.delete_vm(vm.cid, stemcell_api_version=vm.stemcell_api_version)
    lab.send_on(vm, delete)
    cloud.wait_for_server_gone(vm.cid, timeout=profile.timeouts.vm_delete, after="delete_vm answered OK")
    cloud.wait_for_ports_gone(ports, timeout=profile.timeouts.port_release,
                              after=f"delete_vm of {vm.cid} answered OK")
    assert cpi.send(director.has_vm(vm.cid)) is False, "has_vm after delete_vm"
    again = lab.send_gone(delete, vm.cpi_properties)
    if again != "ok":
        record_property("observation", f"delete_vm of a deleted VM answered {again}")


@pytest.mark.case("7ba931b5-3982-4528-aa13-6e3e4bc8b6ce")
def test_has_vm_of_a_missing_vm_is_false_and_delete_returns(cpi, lab, record_property):
    """has_vm of a VM that never existed MUST be false (bosh.io has_vm: "True if VM is present"),
    and delete_vm of it MUST return normally or answer VMNotFound (Director: delete_vm_step.rb
    rescues VMNotFound).

    Steps: make up a cid; has_vm; delete_vm.
    """
    missing = str(uuid.uuid4())
    assert cpi.send(director.has_vm(missing)) is False, f"has_vm({missing})"
    answer = lab.send_gone(director.delete_vm(missing, stemcell_api_version=director.DEFAULT_STEMCELL_API_VERSION))
    if answer != "ok":
        record_property("observation", f"delete_vm of a VM that never existed answered {answer}")


@pytest.mark.case("87fd331b-1bb3-41bb-908a-da01758cf383")
def test_calculate_vm_cloud_properties_picks_a_fitting_flavor(cpi, conn):
    """calculate_vm_cloud_properties MUST answer cloud properties whose instance type has at least
    the CPUs and RAM asked for (bosh.io CPI API v2 calculate_vm_cloud_properties: "the minimum
    resources that satisfy the parameters").

    Steps: ask for 1 CPU, 512 MiB RAM, 1 GiB ephemeral disk, as vm_resources_cache.rb does; when
    the answer names an instance_type, Nova's flavor must have at least that much.
    """
    props = cpi.send(director.calculate_vm_cloud_properties(cpu=1, ram=512, ephemeral_disk_size=1024))
    assert props, "calculate_vm_cloud_properties answered nothing"
    if "instance_type" in props and conn is not None:
        flavor = conn.compute.find_flavor(props["instance_type"], ignore_missing=False)
        assert flavor.vcpus >= 1 and flavor.ram >= 512, f"flavor {flavor.name}: {flavor.vcpus} vCPU, {flavor.ram} MiB"
