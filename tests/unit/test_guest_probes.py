"""The parsers of guest tool output, fed with outputs captured on real machines: this Debian 12
host (iproute2 6.1, util-linux 2.38.1: bridges, a tap sharing its bridge's MAC, an IPv6-only
bridge) and the test stemcell booted under qemu (two virtio NICs, a config drive cdrom, a
partitioned root disk), plus the edge cases older tools produce."""

from __future__ import annotations

from ipaddress import IPv4Interface

import pytest

from conformance.guest import probes
from conformance.guest.probes import BlockDevice

pytestmark = pytest.mark.unit

# `ip -j addr` on the host (7 of its 20 links, OpenStack up) and in the booted stemcell, as printed.
HOST_IP_ADDR = (
    '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","oper'
    'state":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00'
    '","broadcast":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"s'
    'cope":"host","label":"lo","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"'
    'inet6","local":"::1","prefixlen":128,"scope":"host","valid_life_time":4294967295,"preferred_life_tim'
    'e":4294967295}]},{"ifindex":2,"ifname":"ifb0","flags":["BROADCAST","NOARP"],"mtu":1500,"qdisc":"noop'
    '","operstate":"DOWN","group":"default","txqlen":32,"link_type":"ether","address":"9a:d7:f9:73:52:8f"'
    ',"broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[]},{"ifindex":4,"ifname":"eth0","flags":["BROADCAST","'
    'MULTICAST","UP","LOWER_UP"],"mtu":1400,"qdisc":"pfifo_fast","operstate":"UP","group":"default","txql'
    'en":1000,"link_type":"ether","address":"02:fc:00:00:00:01","broadcast":"ff:ff:ff:ff:ff:ff","addr_inf'
    'o":[{"family":"inet","local":"192.0.2.2","prefixlen":24,"broadcast":"192.0.2.255","scope":"global","'
    'label":"eth0","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","loca'
    'l":"fd00::2","prefixlen":64,"scope":"global","nodad":true,"valid_life_time":4294967295,"preferred_li'
    'fe_time":4294967295},{"family":"inet6","local":"fe80::fc:ff:fe00:1","prefixlen":64,"scope":"link","v'
    'alid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":5,"ifname":"br-ex","flags"'
    ':["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"de'
    'fault","txqlen":1000,"link_type":"ether","address":"12:05:22:44:c1:1b","broadcast":"ff:ff:ff:ff:ff:f'
    'f","addr_info":[{"family":"inet","local":"172.24.4.1","prefixlen":24,"scope":"global","label":"br-ex'
    '","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::bc'
    '90:4fff:fe40:f52f","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":'
    '4294967295}]},{"ifindex":8,"link_index":2,"ifname":"tapfa1026c4-7b","flags":["BROADCAST","MULTICAST"'
    ',"UP","LOWER_UP"],"mtu":1450,"qdisc":"noqueue","master":"brq2a48552b-7f","operstate":"UP","group":"d'
    'efault","txqlen":1000,"link_type":"ether","address":"72:42:f5:2d:41:1d","broadcast":"ff:ff:ff:ff:ff:'
    'ff","link_netnsid":0,"addr_info":[]},{"ifindex":10,"link_index":2,"ifname":"tap7b88a0f8-43","flags":'
    '["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","master":"br-ex","operstate":'
    '"UP","group":"default","txqlen":1000,"link_type":"ether","address":"12:05:22:44:c1:1b","broadcast":"'
    'ff:ff:ff:ff:ff:ff","link_netnsid":2,"addr_info":[]},{"ifindex":12,"ifname":"brq2a48552b-7f","flags":'
    '["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1450,"qdisc":"noqueue","operstate":"UP","group":"def'
    'ault","txqlen":1000,"link_type":"ether","address":"72:42:f5:2d:41:1d","broadcast":"ff:ff:ff:ff:ff:ff'
    '","addr_info":[{"family":"inet6","local":"fe80::dc90:e1ff:fedf:b3bc","prefixlen":64,"scope":"link","'
    'valid_life_time":4294967295,"preferred_life_time":4294967295}]}]'
)

GUEST_IP_ADDR = (
    '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","oper'
    'state":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00'
    '","broadcast":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"s'
    'cope":"host","label":"lo","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"'
    'inet6","local":"::1","prefixlen":128,"scope":"host","noprefixroute":true,"valid_life_time":429496729'
    '5,"preferred_life_time":4294967295}]},{"ifindex":2,"ifname":"ens3","flags":["BROADCAST","MULTICAST",'
    '"UP","LOWER_UP"],"mtu":1500,"qdisc":"fq_codel","operstate":"UP","group":"default","txqlen":1000,"lin'
    'k_type":"ether","address":"52:54:00:c0:ff:01","broadcast":"ff:ff:ff:ff:ff:ff","altnames":["enp0s3"],'
    '"addr_info":[{"family":"inet","local":"10.0.2.15","prefixlen":24,"scope":"global","label":"ens3","va'
    'lid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fec0::5054:ff'
    ':fec0:ff01","prefixlen":64,"scope":"site","dynamic":true,"mngtmpaddr":true,"valid_life_time":86394,"'
    'preferred_life_time":14394},{"family":"inet6","local":"fe80::5054:ff:fec0:ff01","prefixlen":64,"scop'
    'e":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":3,"ifname":"en'
    's4","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"fq_codel","operstate":"UP"'
    ',"group":"default","txqlen":1000,"link_type":"ether","address":"52:54:00:c0:ff:02","broadcast":"ff:f'
    'f:ff:ff:ff:ff","altnames":["enp0s4"],"addr_info":[{"family":"inet","local":"10.0.3.20","prefixlen":2'
    '4,"scope":"global","label":"ens4","valid_life_time":4294967295,"preferred_life_time":4294967295},{"f'
    'amily":"inet6","local":"fec0::5054:ff:fec0:ff02","prefixlen":64,"scope":"site","dynamic":true,"mngtm'
    'paddr":true,"valid_life_time":86399,"preferred_life_time":14399},{"family":"inet6","local":"fe80::50'
    '54:ff:fec0:ff02","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":42'
    '94967295}]}]'
)

GUEST_IP_O_ADDR = """\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
1: lo    inet6 ::1/128 scope host noprefixroute \\       valid_lft forever preferred_lft forever
2: ens3    inet 10.0.2.15/24 scope global ens3\\       valid_lft forever preferred_lft forever
2: ens3    inet6 fe80::5054:ff:fec0:ff01/64 scope link \\       valid_lft forever preferred_lft forever
3: ens4    inet 10.0.3.20/24 scope global ens4\\       valid_lft forever preferred_lft forever
3: ens4    inet6 fe80::5054:ff:fec0:ff02/64 scope link \\       valid_lft forever preferred_lft forever
"""
GUEST_SYS_ADDRESSES = """\
/sys/class/net/ens3/address:52:54:00:c0:ff:01
/sys/class/net/ens4/address:52:54:00:c0:ff:02
/sys/class/net/lo/address:00:00:00:00:00:00
"""
GUEST_LSBLK = """{
   "blockdevices": [
      {"name": "sr0", "size": 397312, "serial": "QM00001", "type": "rom"},
      {"name": "vda", "size": 1073741824, "serial": null, "type": "disk",
         "children": [{"name": "vda1", "size": 1072693248, "serial": null, "type": "part"}]},
      {"name": "vdb", "size": 67108864, "serial": null, "type": "disk"}
   ]
}"""
HOST_LSBLK = """{
   "blockdevices": [
      {
         "name": "zram0",
         "size": 0,
         "serial": null,
         "type": "disk"
      },{
         "name": "vda",
         "size": 274877906944,
         "serial": null,
         "type": "disk"
      }
   ]
}
"""
GUEST_BLKID_EXPORT = "DEVNAME=/dev/sr0\nBLOCK_SIZE=2048\nUUID=2026-11-21-09-42-28-00\nLABEL=config-2\nTYPE=iso9660\n"


def test_ip_addr_json_of_the_stemcell_maps_each_mac_to_its_static_address():
    assert probes.parse_ip_addr_json(GUEST_IP_ADDR) == {
        "52:54:00:c0:ff:01": [IPv4Interface("10.0.2.15/24")],
        "52:54:00:c0:ff:02": [IPv4Interface("10.0.3.20/24")],
    }


def test_ip_addr_json_of_the_host_leaves_out_loopback_and_pools_a_shared_mac():
    assert probes.parse_ip_addr_json(HOST_IP_ADDR) == {
        "9a:d7:f9:73:52:8f": [],  # ifb0: down, no address
        "02:fc:00:00:00:01": [IPv4Interface("192.0.2.2/24")],  # eth0; its IPv6 addresses left out
        "12:05:22:44:c1:1b": [IPv4Interface("172.24.4.1/24")],  # br-ex and its port tap7b88a0f8-43
        "72:42:f5:2d:41:1d": [],  # a bridge with IPv6 link-local only
    }


def test_ip_addr_json_lower_cases_macs_and_skips_links_without_one():
    text = (
        '[{"ifname":"eth0","link_type":"ether","address":"FA:16:3E:AA:BB:CC",'
        '"addr_info":[{"family":"inet","local":"10.1.0.4","prefixlen":26}]},'
        '{"ifname":"tun0","link_type":"none","flags":["POINTOPOINT"],'
        '"addr_info":[{"family":"inet","local":"10.9.0.1","prefixlen":32}]}]'
    )

    assert probes.parse_ip_addr_json(text) == {"fa:16:3e:aa:bb:cc": [IPv4Interface("10.1.0.4/26")]}


@pytest.mark.parametrize("text", ["", "Option \"-j\" is unknown, try \"ip -help\".", '{"not": "a list"}'])
def test_ip_addr_json_refuses_what_is_not_a_json_list(text):
    with pytest.raises(ValueError, match="ip -j addr"):
        probes.parse_ip_addr_json(text)


def test_ip_addr_oneline_fallback_gives_the_same_answer_as_json():
    assert probes.parse_ip_addr_oneline(GUEST_IP_O_ADDR, GUEST_SYS_ADDRESSES) == probes.parse_ip_addr_json(
        GUEST_IP_ADDR
    )


def test_ip_addr_oneline_reads_vlan_style_names_and_several_addresses():
    text = (
        "4: eth0.100@eth0    inet 10.2.0.5/24 brd 10.2.0.255 scope global eth0.100\\ valid_lft forever\n"
        "4: eth0.100@eth0    inet 10.2.0.6/24 scope global secondary eth0.100\\ valid_lft forever\n"
    )
    macs = "/sys/class/net/eth0.100/address:FA:16:3E:00:00:01\n"

    assert probes.parse_ip_addr_oneline(text, macs) == {
        "fa:16:3e:00:00:01": [IPv4Interface("10.2.0.5/24"), IPv4Interface("10.2.0.6/24")]
    }


def test_default_gateway_from_the_captured_routes():
    assert probes.parse_default_gateway_json('[{"dst":"default","gateway":"10.0.2.2","dev":"ens3","flags":[]}]') == (
        "10.0.2.2"
    )
    assert probes.parse_default_gateway_text("default via 10.0.2.2 dev ens3 \n") == "10.0.2.2"


def test_default_gateway_takes_the_lowest_metric_and_none_without_a_gateway():
    two = (
        '[{"dst":"default","gateway":"10.0.3.1","dev":"ens4","metric":200,"flags":[]},'
        '{"dst":"default","gateway":"10.0.2.1","dev":"ens3","metric":100,"flags":[]}]'
    )
    assert probes.parse_default_gateway_json(two) == "10.0.2.1"
    assert probes.parse_default_gateway_text(
        "default via 10.0.3.1 dev ens4 metric 200\ndefault via 10.0.2.1 dev ens3 proto dhcp metric 100\n"
    ) == "10.0.2.1"
    assert probes.parse_default_gateway_json("[]") is None
    assert probes.parse_default_gateway_json("") is None
    assert probes.parse_default_gateway_json('[{"dst":"default","dev":"ppp0","flags":[]}]') is None
    assert probes.parse_default_gateway_text("") is None


def test_lsblk_flattens_partitions_after_their_disk():
    assert probes.parse_lsblk_json(GUEST_LSBLK) == [
        BlockDevice("sr0", 397312, "QM00001", "rom"),
        BlockDevice("vda", 1073741824, None, "disk"),
        BlockDevice("vda1", 1072693248, None, "part"),
        BlockDevice("vdb", 67108864, None, "disk"),
    ]
    assert [d.path for d in probes.parse_lsblk_json(HOST_LSBLK)] == ["/dev/zram0", "/dev/vda"]


def test_lsblk_of_older_util_linux_prints_sizes_as_strings_and_blank_serials():
    text = '{"blockdevices": [{"name": "vdc", "size": "10737418240", "serial": "  ", "type": "disk"}]}'

    assert probes.parse_lsblk_json(text) == [BlockDevice("vdc", 10737418240, None, "disk")]


def test_lsblk_refuses_other_json():
    with pytest.raises(ValueError, match="blockdevices"):
        probes.parse_lsblk_json("[]")


def test_blkid_devices_and_export():
    assert probes.parse_blkid_devices("/dev/sr0\n") == ["/dev/sr0"]
    assert probes.parse_blkid_devices("/dev/vdc\n/dev/vdc\n/dev/sr0\n") == ["/dev/vdc", "/dev/sr0"]
    assert probes.parse_blkid_devices("") == []
    fields = probes.parse_blkid_export(GUEST_BLKID_EXPORT)
    assert (fields["DEVNAME"], fields["LABEL"], fields["TYPE"]) == ("/dev/sr0", "config-2", "iso9660")


def test_virtio_serial_is_the_volume_id_cut_to_20():
    assert probes.virtio_serial("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0") == "0f1e2d3c-4b5a-6978-8"


def test_size_is_the_first_line_in_bytes():
    assert probes.parse_size("67108864\n") == 67108864
    with pytest.raises(ValueError):
        probes.parse_size("lsblk: /dev/vdz: not a block device\n")
