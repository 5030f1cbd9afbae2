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
def test_server_is_active_with_the_requested_flavor_and_zone(cloud, ssh, profile, shared_vm, record_property):
    """The VM MUST be ACTIVE in Nova (bosh.io create_vm: "The newly created VM must be powered on")
    with the flavor and availability zone its cloud_properties asked for (the OpenStack CPI's
    instance_type and availability_zone; the Director merges the AZ's cloud_properties under the
    VM type's: merged_cloud_properties.rb).

    Steps: SSH in; the witnesses show the server running, with the flavor and zone asked for,
    and the flavor's vCPUs and memory where they see them (the hypervisor).
    """
    cid = shared_vm.cid
    with ssh(shared_vm) as guest:
        assert guest.hostname(), f"VM {cid} answers SSH (it is powered on)"
    for seen in cloud.checks("the server is running"):
        with seen as w:
            server = w.server(cid)
            assert server is not None and server.running, f"{w.name}: server {cid}: {server}"
            if server.seen("metadata") and shared_vm.agent_id not in server.metadata.values():
                record_property("observation", f"the server's metadata ({w.name}) does not carry the agent id "
                                               "(nothing asks it to)")
    wanted = profile.vm.cloud_properties.get("instance_type")
    if expect.applies(record_property, bool(wanted), "the server's flavor",
                      "the profile's vm.cloud_properties names no instance_type"):
        for seen in cloud.checks("the server's flavor is cloud_properties.instance_type"):
            with seen as w:
                assert w.server(cid).flavor == wanted, f"{w.name}: flavor of the server vs instance_type"
        flavor = cloud.first(lambda w: w.flavor(wanted))
        if expect.applies(record_property, flavor is not None, "the VM has the flavor's vCPUs and memory",
                          "no witness of this profile describes instance types"):
            for seen in cloud.checks(f"the VM has the vCPUs and memory of flavor {wanted}"):
                with seen as w:
                    server = w.server(cid)
                    assert (server.vcpus, server.memory_mib) == (flavor.vcpus, flavor.memory_mib), (
                        f"{w.name}: vCPUs and MiB of server {cid} vs flavor {wanted}")
    if expect.applies(record_property, bool(profile.vm.availability_zone), "the server's availability zone",
                      "the profile names no vm.availability_zone"):
        for seen in cloud.checks("the server is in the availability zone asked for"):
            with seen as w:
                assert w.server(cid).availability_zone == profile.vm.availability_zone, f"{w.name}: availability zone"


@pytest.mark.case("b1bd9b98-c6b7-47c3-88d6-b977158c4769")
def test_set_vm_metadata_is_visible_in_nova(lab, cloud, shared_vm):
    """set_vm_metadata MUST put every key and value it is given on the server's metadata (bosh.io
    CPI API v2 set_vm_metadata: metadata "to make it easier for operators to categorize VM-based
    resources", the default tags and the deployment's tags); NotImplemented is a skip, as the
    Director rescues it (metadata_updater.rb).

    Steps: send the metadata a Director sends (metadata_updater.rb#update_vm_metadata: tags,
    director, deployment, id, job, instance_group, index, name, created_at); read the server's metadata from the witnesses.
    """
    metadata = director.vm_metadata(shared_vm.instance)
    try:
        lab.send_on(shared_vm, director.set_vm_metadata(shared_vm.cid, metadata))
    except CpiError as err:
        if err.short_type == "NotImplemented":
            pytest.skip("set_vm_metadata answered NotImplemented (the Director rescues it: metadata_updater.rb)")
        raise
    for seen in cloud.checks("the server's metadata holds every key and value set_vm_metadata sent"):
        with seen as w:
            found = w.server(shared_vm.cid).metadata
            assert {k: found.get(k) for k in metadata} == metadata, f"{w.name}: server metadata after set_vm_metadata"


@pytest.mark.case("9121efb4-e218-46f7-9081-9a44c8106ba0")
@pytest.mark.requires("reboot")
@pytest.mark.boots()
def test_reboot_vm_really_reboots_the_guest(lab, cloud, boot_vm, ssh, profile):
    """reboot_vm MUST reboot the guest, which comes back ACTIVE and answers SSH with a new boot id
    (bosh.io CPI API v2 reboot_vm: "Reboots the VM"; the Director then waits for the agent:
    cloudcheck_helper.rb#reboot_vm).

    Steps: boot a VM; read its boot id over SSH; reboot_vm; wait for SSH with a different boot id
    and for ACTIVE.
    """
    vm = boot_vm()
    with ssh(vm) as guest:
        before = guest.boot_id()
    lab.send_on(vm, director.reboot_vm(vm.cid))
    after = lab.wait_rebooted(vm, before)
    assert after != before
    for seen in cloud.checks("the server is running after reboot_vm"):
        with seen as w:
            assert w.wait_for_server_running(vm.cid, after="reboot_vm answered OK").running


@pytest.mark.case("7690b49a-e860-4056-9466-c10f62f0e805")
@pytest.mark.boots(vip=False, ssh=False)
def test_delete_vm_removes_the_server_and_its_ports(cpi, lab, cloud, boot_vm, profile, record_property):
    """delete_vm MUST remove the server (bosh.io delete_vm: "Deletes the VM") and every port it had
    (Director: a deleted VM's static IPs go back to the pool and to the next VM); has_vm MUST then
    be false, and a second delete_vm MUST return normally or answer VMNotFound (Director:
    delete_vm_step.rb rescues VMNotFound).

    Steps: create a VM (no floating IP); note its NICs; delete_vm; wait until the witnesses show
    neither; has_vm; delete_vm again.
    """
    vm = boot_vm()
    nics = cloud.each(lambda w: w.nics(vm.cid))
    for seen in cloud.checks("the VM has a NIC before delete_vm"):
        with seen as w:
            assert nics.of(w), f"{w.name} shows no NIC of VM {vm.cid} on its manual network"
    delete = director.delete_vm(vm.cid, stemcell_api_version=vm.stemcell_api_version)
    lab.send_on(vm, delete)
    for seen in cloud.checks("the server and its NICs are gone after delete_vm"):
        with seen as w:
            w.wait_for_server_gone(vm.cid, after="delete_vm answered OK")
            w.wait_for_nics_gone(nics.of(w), after=f"delete_vm of {vm.cid} answered OK")
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
def test_calculate_vm_cloud_properties_picks_a_fitting_flavor(cpi, cloud, record_property):
    """calculate_vm_cloud_properties MUST answer cloud properties whose instance type has at least
    the CPUs and RAM asked for (bosh.io CPI API v2 calculate_vm_cloud_properties: "the minimum
    resources that satisfy the parameters").

    Steps: ask for 1 CPU, 512 MiB RAM, 1 GiB ephemeral disk, as vm_resources_cache.rb does; when
    the answer names an instance_type, the witnesses' flavor must have at least that much.
    """
    props = cpi.send(director.calculate_vm_cloud_properties(cpu=1, ram=512, ephemeral_disk_size=1024))
    assert isinstance(props, dict) and props, f"calculate_vm_cloud_properties answered {props!r}"
    if expect.applies(record_property, "instance_type" in props, "the instance type has 1 CPU and 512 MiB at least",
                      f"the answer names no instance_type: {sorted(props)}"):
        for seen in cloud.checks(f"flavor {props['instance_type']} has 1 vCPU and 512 MiB at least"):
            with seen as w:
                flavor = w.flavor(props["instance_type"])
                assert flavor is not None, f"{w.name}: no flavor {props['instance_type']!r}"
                assert flavor.vcpus >= 1 and flavor.memory_mib >= 512, (
                    f"{w.name}: flavor {flavor.name}: {flavor.vcpus} vCPU, {flavor.memory_mib} MiB")
