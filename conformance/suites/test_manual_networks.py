"""Manual networks: static IPs on pre-created ports, one or several NICs, seen in Neutron and the guest."""

import pytest

from conformance.cloud import witness

pytestmark = [pytest.mark.capability("network_manual"), pytest.mark.slow]


def _guest_ips_by_mac(guest) -> dict[str, set[str]]:
    return {mac: {str(i.ip) for i in ifaces} for mac, ifaces in guest.interfaces().items()}


def _nic_carrying(by_mac: dict[str, set[str]], ip: str) -> str:
    """The MAC of the one guest NIC that carries ``ip``."""
    carrying = [mac for mac, ips in by_mac.items() if ip in ips]
    assert len(carrying) == 1, f"guest NICs carrying {ip}: {carrying} (the guest's NICs: {by_mac})"
    return carrying[0]


def _check_nics(cloud, vm, wanted: dict[str, tuple[str, str]], only: bool = False) -> None:
    """``wanted``: static IP -> (network id, MAC of the guest NIC carrying it). Every witness that
    sees NICs finds those MACs on the VM; one that sees ports finds each IP on a port of that
    network with that MAC (with ``only``: and no other port)."""
    for seen in cloud.checks("the guest NICs carrying the static IPs are NICs of the VM"):
        with seen as w:
            macs = {nic.mac for nic in w.nics(vm.cid)}
            assert {mac for _, mac in wanted.values()} <= macs, f"{w.name}: NICs of {vm.cid}: {sorted(macs)}"
    for seen in cloud.checks("each static IP is on a port of its network, with the MAC of the guest NIC carrying it"):
        with seen as w:
            nics = w.nics(vm.cid)
            ports, by_ip = witness.ips_by_network(nics), witness.macs_by_ip(nics)
            expected = {net: {ip for ip, (n, _) in wanted.items() if n == net} for net, _ in wanted.values()}
            if only:
                assert ports == expected, f"{w.name}: ports vs requested manual networks"
            else:
                assert all(ports.get(net) == ips for net, ips in expected.items()), f"{w.name}: ports {ports}"
            assert {ip: by_ip.get(ip) for ip in wanted} == {ip: mac for ip, (_, mac) in wanted.items()}, (
                f"{w.name}: port MACs vs guest NICs")


@pytest.mark.case("6874492c-f9c4-495b-9ed8-28f8d0a96aa8")
def test_static_ip_is_on_the_port_and_on_the_matching_nic(cloud, ssh, shared_vm, net_ids, profile):
    """A manual network MUST give the VM a port on that network with exactly the requested IP, and
    the guest MUST carry that IP on the NIC whose MAC is the port's (bosh.io CPI API v2 create_vm:
    the VM "must be ... accessible on the provided networks"; the Director reaches the instance at
    its static IP).

    Steps: SSH in; find the guest NIC carrying the first network's IP; the witnesses show a port
    on that network with exactly that IP and that NIC's MAC.
    """
    first = profile.networks.manual[0]
    ip = shared_vm.ips[first.name]
    with ssh(shared_vm) as guest:
        mac = _nic_carrying(_guest_ips_by_mac(guest), ip)
    _check_nics(cloud, shared_vm, {ip: (net_ids[first.name], mac)})


@pytest.mark.case("8f4e05cc-4028-48fb-bb5d-98d41771a230")
@pytest.mark.requires("multi_nic", "manual_networks>=2")
def test_two_manual_nics_get_one_port_each_with_the_requested_ips(cloud, ssh, shared_vm, net_ids, profile):
    """create_vm with two manual networks MUST give the VM one port per network carrying the
    requested IP; the guest MUST configure both on the NICs with the ports' MACs (bosh.io create_vm:
    "accessible on the provided networks"), and route by the gateway of the network the Director
    marked ``default: [dns, gateway]`` (network_settings.rb; the agent applies it).

    Steps: SSH in; the two IPs on two NICs and the default route; the witnesses show one port per
    network with its IP and the MAC of the NIC carrying it.
    """
    first, second = profile.networks.manual[:2]
    with ssh(shared_vm) as guest:
        by_mac = _guest_ips_by_mac(guest)
        gateway = guest.default_gateway()
    wanted = {shared_vm.ips[net.name]: (net_ids[net.name], _nic_carrying(by_mac, shared_vm.ips[net.name]))
              for net in (first, second)}
    assert len({mac for _, mac in wanted.values()}) == 2, f"the two static IPs on two guest NICs: {by_mac}"
    assert gateway == str(first.gateway), "default route via the gateway of the default network"
    _check_nics(cloud, shared_vm, wanted, only=True)


@pytest.mark.case("c999d86e-b835-4486-9ee0-24568722c84b")
def test_a_second_vm_reaches_the_first_by_its_static_ip(ssh, shared_vm, peer_vm, profile):
    """Two VMs on the same manual network MUST reach each other by their static IPs (bosh.io
    create_vm: "accessible on the provided networks"; jobs of a deployment talk over them).

    Steps: SSH into the second VM; ping the first VM's static IP from inside it.
    """
    target = shared_vm.ips[profile.networks.manual[0].name]
    with ssh(peer_vm) as guest:
        assert guest.ping(target, count=3, timeout=profile.timeouts.ssh_command), f"ping {target} from {peer_vm.cid}"
