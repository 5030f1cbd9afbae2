"""VM lifecycle through the CPI: create, has_vm, metadata, reboot, delete; checked in Nova and the guest."""

import uuid

import pytest

pytestmark = [pytest.mark.capability("vm_lifecycle"), pytest.mark.slow]


@pytest.mark.case("b52688d5-1c54-4bce-ae17-709b611ae3e2")
def test_create_vm_answers_its_cid_and_has_vm_is_true(cpi, profile, shared_vm):
    """create_vm MUST answer the VM's cid (v2: [cid, networks]) and has_vm MUST then be true.

    Steps: the shared VM was created through the CPI; check the answer's shape for the API version
    the profile speaks; call has_vm.
    """
    if profile.cpi.api_version >= 2:
        assert isinstance(shared_vm.answered_networks, dict), "v2 create_vm must answer [cid, networks]"
        assert set(shared_vm.answered_networks) == set(shared_vm.networks), "networks in the v2 create_vm answer"
    assert cpi.has_vm(shared_vm.cid) is True, f"has_vm({shared_vm.cid})"


@pytest.mark.case("149c6b85-5559-498d-8278-834ff3e062bf")
def test_server_is_active_with_the_requested_flavor_zone_and_agent_id(cloud, profile, shared_vm):
    """The VM MUST be ACTIVE in Nova with the requested flavor and availability zone, and its
    metadata MUST carry the agent id.

    Steps: read the server from Nova; compare flavor, zone and metadata with the request.
    """
    server = cloud.server(shared_vm.cid)
    assert server is not None and server.status == "ACTIVE", f"server {shared_vm.cid} in Nova"
    wanted = profile.vm.cloud_properties.get("instance_type")
    if wanted:
        assert cloud.flavor_name(server) == wanted, "flavor of the server vs cloud_properties.instance_type"
    if profile.vm.availability_zone:
        assert server.availability_zone == profile.vm.availability_zone, "availability zone"
    assert shared_vm.agent_id in (server.metadata or {}).values(), f"agent id in server metadata {server.metadata}"


@pytest.mark.case("b1bd9b98-c6b7-47c3-88d6-b977158c4769")
def test_set_vm_metadata_is_visible_in_nova(cpi, cloud, run, shared_vm):
    """set_vm_metadata MUST put every key and value on the server's metadata.

    Steps: set director/deployment/job/index/cfm-run as the Director would; read Nova's metadata.
    """
    metadata = {"director": "cfm", "deployment": "cfm-conformance", "job": "lifecycle", "index": "0",
                "cfm-run": run.run_id}
    cpi.set_vm_metadata(shared_vm.cid, metadata)
    seen = cloud.server(shared_vm.cid).metadata or {}
    assert {k: seen.get(k) for k in metadata} == metadata, "server metadata after set_vm_metadata"


@pytest.mark.case("9121efb4-e218-46f7-9081-9a44c8106ba0")
@pytest.mark.requires("reboot")
def test_reboot_vm_really_reboots_the_guest(cpi, cloud, lab, create_vm, ssh, profile):
    """reboot_vm MUST reboot the guest: it comes back ACTIVE and answers SSH with a new boot id.

    Steps: boot a VM; read its boot id over SSH; reboot_vm; wait for ACTIVE and for SSH with a
    different boot id.
    """
    vm = create_vm()
    with ssh(vm) as guest:
        before = guest.boot_id()
    cpi.reboot_vm(vm.cid)
    after = lab.wait_rebooted(vm, before)
    assert after != before
    assert cloud.wait_for_server(vm.cid, timeout=profile.timeouts.vm_active).status == "ACTIVE"


@pytest.mark.case("7690b49a-e860-4056-9466-c10f62f0e805")
def test_delete_vm_removes_the_server_and_its_ports(cpi, cloud, create_vm, profile):
    """delete_vm MUST remove the server and every port it had; has_vm MUST then be false, and a
    second delete_vm of the same cid MUST return normally.

    Steps: create a VM (no floating IP); note its ports; delete_vm; wait until Nova and Neutron
    show neither; has_vm; delete_vm again.
    """
    vm = create_vm(vip=False)
    ports = {p.id for p in cloud.ports_of(vm.cid)}
    assert ports, f"Neutron shows no port for VM {vm.cid}"
    cpi.delete_vm(vm.cid)
    cloud.wait_for_server_gone(vm.cid, timeout=profile.timeouts.vm_delete)
    cloud.wait_for_ports_gone(ports, timeout=profile.timeouts.port_release)
    assert cpi.has_vm(vm.cid) is False, "has_vm after delete_vm"
    cpi.delete_vm(vm.cid)  # idempotent: the Director retries deletes


@pytest.mark.case("7ba931b5-3982-4528-aa13-6e3e4bc8b6ce")
def test_has_vm_of_a_missing_vm_is_false_and_delete_returns(cpi):
    """has_vm of a VM that never existed MUST be false, and delete_vm of it MUST return normally.

    Steps: make up a cid; has_vm; delete_vm.
    """
    missing = str(uuid.uuid4())
    assert cpi.has_vm(missing) is False, f"has_vm({missing})"
    cpi.delete_vm(missing)


@pytest.mark.case("87fd331b-1bb3-41bb-908a-da01758cf383")
def test_calculate_vm_cloud_properties_picks_a_fitting_flavor(cpi, conn):
    """calculate_vm_cloud_properties MUST answer cloud properties whose flavor fits the request.

    Steps: ask for 1 CPU, 512 MiB RAM, 1 GiB ephemeral disk; when the answer names an
    instance_type, Nova's flavor must have at least that much.
    """
    props = cpi.calculate_vm_cloud_properties({"cpu": 1, "ram": 512, "ephemeral_disk_size": 1024})
    assert props, "calculate_vm_cloud_properties answered nothing"
    if "instance_type" in props and conn is not None:
        flavor = conn.compute.find_flavor(props["instance_type"], ignore_missing=False)
        assert flavor.vcpus >= 1 and flavor.ram >= 512, f"flavor {flavor.name}: {flavor.vcpus} vCPU, {flavor.ram} MiB"
