"""Manual networks: static IPs on pre-created ports, one or several NICs, seen in Neutron and the guest."""

import pytest

pytestmark = [pytest.mark.capability("network_manual"), pytest.mark.slow]


def _guest_ips_by_mac(guest) -> dict[str, set[str]]:
    return {mac: {str(i.ip) for i in ifaces} for mac, ifaces in guest.interfaces().items()}


@pytest.mark.case("6874492c-f9c4-495b-9ed8-28f8d0a96aa8")
def test_static_ip_is_on_the_port_and_on_the_matching_nic(cloud, ssh, shared_vm, net_ids, profile):
    """A manual network MUST give the VM a port on that network with exactly the requested IP, and
    the guest MUST carry that IP on the NIC whose MAC is the port's (bosh.io CPI API v2 create_vm:
    the VM "must be ... accessible on the provided networks"; the Director reaches the instance at
    its static IP).

    Steps: compare Neutron's fixed IPs on the first network with the request; SSH in; compare the
    guest's addresses by MAC.
    """
    first = profile.networks.manual[0]
    ip = shared_vm.ips[first.name]
    assert cloud.fixed_ips_by_network(shared_vm.cid).get(net_ids[first.name]) == {ip}, "Neutron port on network 1"
    mac = cloud.mac_by_ip(shared_vm.cid)[ip]
    with ssh(shared_vm) as guest:
        assert ip in _guest_ips_by_mac(guest).get(mac, set()), f"guest NIC {mac} carries {ip}"


@pytest.mark.case("8f4e05cc-4028-48fb-bb5d-98d41771a230")
@pytest.mark.requires("multi_nic", "manual_networks>=2")
def test_two_manual_nics_get_one_port_each_with_the_requested_ips(cloud, ssh, shared_vm, net_ids, profile):
    """create_vm with two manual networks MUST give the VM one port per network carrying the
    requested IP; the guest MUST configure both on the NICs with the ports' MACs (bosh.io create_vm:
    "accessible on the provided networks"), and route by the gateway of the network the Director
    marked ``default: [dns, gateway]`` (network_settings.rb; the agent applies it).

    Steps: compare Nova/Neutron ports with the request; SSH in; compare addresses by MAC and the
    default route.
    """
    first, second = profile.networks.manual[:2]
    expected = {net_ids[first.name]: {shared_vm.ips[first.name]}, net_ids[second.name]: {shared_vm.ips[second.name]}}
    assert cloud.fixed_ips_by_network(shared_vm.cid) == expected, "Neutron ports vs requested manual networks"
    macs = cloud.mac_by_ip(shared_vm.cid)
    with ssh(shared_vm) as guest:
        by_mac = _guest_ips_by_mac(guest)
        gateway = guest.default_gateway()
    for net in (first, second):
        ip = shared_vm.ips[net.name]
        assert ip in by_mac.get(macs[ip], set()), f"guest NIC {macs[ip]} carries {ip} ({net.name})"
    assert gateway == str(first.gateway), "default route via the gateway of the default network"


@pytest.mark.case("c999d86e-b835-4486-9ee0-24568722c84b")
def test_a_second_vm_reaches_the_first_by_its_static_ip(ssh, shared_vm, peer_vm, profile):
    """Two VMs on the same manual network MUST reach each other by their static IPs (bosh.io
    create_vm: "accessible on the provided networks"; jobs of a deployment talk over them).

    Steps: SSH into the second VM; ping the first VM's static IP from inside it.
    """
    target = shared_vm.ips[profile.networks.manual[0].name]
    with ssh(peer_vm) as guest:
        assert guest.ping(target, count=3, timeout=profile.timeouts.ssh_command), f"ping {target} from {peer_vm.cid}"
