"""The local cloud's fixed facts and named timeouts, in one place.

Everything listens on loopback; the only other addresses are the bridges we create (br-ex for the
external network `public`, br-vx as the VXLAN underlay) and what Neutron creates behind them.
"""

from __future__ import annotations

HOST_IP = "127.0.0.1"
REGION = "RegionOne"
KEYSTONE_URL = f"http://{HOST_IP}:5000/v3"
KEYSTONE_ROOT = f"http://{HOST_IP}:5000"

PORTS = {
    "mariadb": 3306, "rabbitmq": 5672, "memcached": 11211, "keystone": 5000, "glance": 9292,
    "placement": 8778, "nova": 8774, "neutron": 9696, "cinder": 8776, "ceph-mon": 3300, "epmd": 4369,
}  # fmt: skip

# service type -> (user/service name, endpoint URL)
CATALOG = {
    "image": ("glance", f"http://{HOST_IP}:9292"),
    "placement": ("placement", f"http://{HOST_IP}:8778"),
    "compute": ("nova", f"http://{HOST_IP}:8774/v2.1"),
    "network": ("neutron", f"http://{HOST_IP}:9696"),
    "volumev3": ("cinder", f"http://{HOST_IP}:8776/v3/%(project_id)s"),
    "block-storage": ("cinder", f"http://{HOST_IP}:8776/v3/%(project_id)s"),
}
DATABASES = {  # database -> owning user (nova also needs nova_api and nova_cell0: pitfall 2)
    "keystone": "keystone", "glance": "glance", "placement": "placement", "nova": "nova",
    "nova_api": "nova", "nova_cell0": "nova", "neutron": "neutron", "cinder": "cinder",
}  # fmt: skip

# host networking (created by us, removed by `down`)
BR_EX, BR_EX_CIDR = "br-ex", "172.24.4.1/24"
BR_VX, BR_VX_IP = "br-vx", "10.250.0.1"
FORWARD_DROP_RULE = ("FORWARD", "-i", BR_EX, "!", "-o", BR_EX, "-j", "DROP")

# the test project and what `up` creates in it
TEST_PROJECT = TEST_USER = KEY_NAME = SECURITY_GROUP = "cfm-conformance"
ADMIN_CLOUD, TEST_CLOUD = "local-admin", "local"
CLOUDS_YAML = "/etc/openstack/clouds.yaml"
VOLUME_TYPE = "ceph"
AVAILABILITY_ZONE = "nova"
FLAVORS = {  # key -> (name, vcpus, ram MiB, root disk GiB); the official CPI needs >= 3 GB root
    "tiny": ("cfm.tiny", 1, 512, 3),
    "small": ("cfm.small", 1, 1024, 5),
}
MANUAL_NETWORKS = (
    {"name": "cfm-manual-a", "cidr": "10.10.1.0/24", "gateway": "10.10.1.1", "dhcp": True},
    {"name": "cfm-manual-b", "cidr": "10.10.2.0/24", "gateway": "10.10.2.1", "dhcp": False},
)
DYNAMIC_NETWORK = {"name": "cfm-dynamic", "cidr": "10.10.3.0/24", "gateway": "10.10.3.1"}
EXTERNAL_NETWORK = {"name": "public", "cidr": "172.24.4.0/24", "pool": "172.24.4.100-172.24.4.250"}
ROUTER = "cfm-router"

# Ceph: one mon, one bluestore OSD on a sparse file, no cephx, no mgr
CEPH_MON_ID = "localcloud"
CEPH_POOL = "volumes"
CEPH_OSD_BYTES = 30 * 1024**3

# named timeouts (seconds) and the poll interval
POLL = 1.0
PORT_OPEN_TIMEOUT = 120.0
DAEMON_STOP_TIMEOUT = 30.0
RABBIT_READY_TIMEOUT = 120.0
LIBVIRT_READY_TIMEOUT = 120.0
SERVICE_UP_TIMEOUT = 240.0  # nova-compute / cinder-volume / neutron agents report in
CEPH_READY_TIMEOUT = 120.0
API_TIMEOUT = 60.0  # one openstacksdk HTTP call
