"""Dynamic networks: an address by DHCP, the one Neutron gave the port."""

import pytest

from conformance.cloud import witness

pytestmark = [pytest.mark.capability("network_dynamic"), pytest.mark.slow]


@pytest.mark.case("bf6a9088-0dfb-4dcb-88a5-a630fa619b64")
@pytest.mark.requires("dynamic_network")
@pytest.mark.boots(manual=0, dynamic=True)
def test_dynamic_network_gets_the_address_neutron_assigned(boot_vm, cloud, ssh, net_ids, profile):
    """A dynamic network MUST give the VM one NIC whose address (by DHCP) is the one Neutron
    assigned to its port (bosh.io CPI API v2 create_vm: the VM "must be ... accessible on the
    provided networks"; a dynamic network's address is the IaaS's choice: dynamic_network.rb sends
    no ip).

    Steps: boot a VM on the dynamic network only (plus a floating IP to reach it); SSH in; read the
    port's address from the witnesses; compare the address on the NIC with the port's MAC.
    """
    vm = boot_vm()
    dyn_net = net_ids[profile.networks.dynamic.name]
    with ssh(vm) as guest:
        on_guest = {mac: {str(i.ip) for i in found} for mac, found in guest.interfaces().items() if found}
    assert len(on_guest) == 1, f"a VM on the dynamic network only: NICs with an address in the guest: {on_guest}"
    for seen in cloud.checks("the dynamic network's port has one address, the one on the guest NIC with its MAC"):
        with seen as w:
            nics = w.nics(vm.cid)
            ports = witness.ips_by_network(nics)
            assert set(ports) == {dyn_net} and len(ports[dyn_net]) == 1, f"{w.name}: NICs of {vm.cid}: {ports}"
            (address,) = ports[dyn_net]
            mac = witness.macs_by_ip(nics)[address]
            assert address in on_guest.get(mac, set()), (
                f"guest NIC {mac}: {sorted(on_guest.get(mac, ()))}, {w.name} says {address}")
