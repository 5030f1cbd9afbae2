"""Dynamic networks: an address by DHCP, the one Neutron gave the port."""

import pytest

pytestmark = [pytest.mark.capability("network_dynamic"), pytest.mark.slow]


@pytest.mark.case("bf6a9088-0dfb-4dcb-88a5-a630fa619b64")
@pytest.mark.requires("dynamic_network")
def test_dynamic_network_gets_the_address_neutron_assigned(create_vm, cloud, ssh, net_ids, profile):
    """A dynamic network MUST give the VM one NIC whose address (by DHCP) is the one Neutron
    assigned to its port (bosh.io CPI API v2 create_vm: the VM "must be ... accessible on the
    provided networks"; a dynamic network's address is the IaaS's choice: dynamic_network.rb sends
    no ip).

    Steps: boot a VM on the dynamic network only (plus a floating IP to reach it); read the port's
    address from Neutron; SSH in; compare the address on the NIC with the port's MAC.
    """
    vm = create_vm(manual=0, dynamic=True)
    ports = cloud.fixed_ips_by_network(vm.cid)
    dyn_net = net_ids[profile.networks.dynamic.name]
    assert set(ports) == {dyn_net} and len(ports[dyn_net]) == 1, f"Neutron ports of {vm.cid}: {ports}"
    (address,) = ports[dyn_net]
    mac = cloud.mac_by_ip(vm.cid)[address]
    with ssh(vm) as guest:
        on_nic = {str(i.ip) for i in guest.interfaces().get(mac, [])}
    assert address in on_nic, f"guest NIC {mac}: {sorted(on_nic)}, Neutron says {address}"
