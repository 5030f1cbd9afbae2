"""VIP networks: the requested floating IP is associated, answers from the runner, and is let go."""

import pytest

from conformance.cpi import director
from conformance.run import netcheck

pytestmark = [pytest.mark.capability("network_vip"), pytest.mark.slow]


@pytest.mark.case("9bcedbbd-25ac-43fd-8530-ddf07c7d029f")
@pytest.mark.requires("vip_network")
def test_floating_ip_is_associated_and_answers_ping_and_ssh(cloud, ssh, shared_vm, profile):
    """A vip network MUST associate the requested floating IP with the VM's port, and the VM MUST
    answer ping and SSH through it from the test runner (bosh.io CPI API v2 create_vm: the VM
    "must be ... accessible on the provided networks"; vip_network.rb sends the address as ``ip``).

    Steps: look the floating IP up with the witnesses; check its port is one of the VM's; SSH in
    through it (waiting for the guest to be up: timeouts.ssh_ready) and read the hostname; ping it
    from the runner.
    """
    for seen in cloud.checks("the floating IP is on one of the VM's ports"):
        with seen as w:
            ports = {nic.port_id for nic in w.nics(shared_vm.cid)}
            fip = w.wait_for_floating_ip(shared_vm.floating_ip, on=ports, after="create_vm with a vip network answered OK")
            assert fip.port_id in ports
    with ssh(shared_vm, host=shared_vm.floating_ip) as guest:
        assert guest.hostname(), "hostname over SSH through the floating IP"
    # the guest is up now: a ping that fails is the floating IP's, not a guest still booting
    assert netcheck.ping(shared_vm.floating_ip, timeout=profile.timeouts.ssh_command), (
        f"ping {shared_vm.floating_ip} from the runner (the VM answered SSH through it)")


@pytest.mark.case("3d328328-9cc3-4077-a273-376ff24cb6dc")
@pytest.mark.requires("vip_network")
@pytest.mark.boots(vip=True, ssh=False)
def test_floating_ip_is_let_go_when_the_vm_is_deleted(lab, cloud, boot_vm, profile):
    """delete_vm MUST let go of the VM's floating IP: it stays allocated to the project, on no port
    (Director: the next VM of the instance group takes the address from the vip network's static
    IPs, deployment_plan/network_planner/vip_planner.rb#get_instance_static_ip, and the CPI
    associates it with that VM's port; the operator owns the floating IP: the OpenStack CPI never
    allocates or releases one, bosh-openstack-cpi-release lib/cloud/openstack/floating_ip.rb
    FloatingIp.reassociate fails on an address the project does not hold).

    Steps: boot a VM with a vip network; delete_vm; the floating IP exists with no port.
    """
    vm = boot_vm()
    for seen in cloud.checks("the floating IP is on one of the VM's ports before delete_vm"):
        with seen as w:
            ports = {nic.port_id for nic in w.nics(vm.cid)}
            w.wait_for_floating_ip(vm.floating_ip, on=ports, after="create_vm with a vip network answered OK")
    lab.send_on(vm, director.delete_vm(vm.cid, stemcell_api_version=vm.stemcell_api_version))
    for seen in cloud.checks("the floating IP stays allocated, on no port, after delete_vm"):
        with seen as w:
            w.wait_for_server_gone(vm.cid, after="delete_vm answered OK")
            fip = w.wait_for_floating_ip(vm.floating_ip, on=None, after=f"delete_vm of {vm.cid} answered OK")
            assert fip.port_id is None, f"{w.name}: floating IP {vm.floating_ip} still on port {fip.port_id}"
