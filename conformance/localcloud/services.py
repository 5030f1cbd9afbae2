"""The daemons of the local cloud, in start order: how each is started, as whom, where it answers.

Argument lists follow Debian's own init scripts (`/etc/init.d/<svc> show-args`) minus
``--log-file``: each daemon logs to stderr, which goes to ``<state>/logs/<name>.log``. APIs bind
to loopback only.
"""

from __future__ import annotations

import signal

from conformance.localcloud.config import CEPH_MON_ID, PORTS
from conformance.localcloud.daemons import Daemon

UWSGI = "/usr/bin/uwsgi_python311"


def uwsgi(name: str, port: int, ini: str, user: str, *configs: str, pyargv: str | None = None) -> Daemon:
    """An API under uwsgi; ``configs`` are the oslo files its app reads (restart when they change)."""
    argv = [UWSGI, "--http-socket", f"127.0.0.1:{port}", "--ini", ini]
    if pyargv:
        argv += ["--pyargv", pyargv]
    return Daemon(name, tuple(argv), user=user, cwd=f"/var/lib/{user}", stop_signal=signal.SIGINT,
                  port=port, watch=(ini, *configs))  # fmt: skip


def oslo(name: str, user: str, *config_files: str, port: int | None = None, tmp: bool = False) -> Daemon:
    argv = [f"/usr/bin/{name}"] + [f"--config-file={c}" for c in config_files]
    env = {"TMPDIR": f"/var/lib/{user}/tmp"} if tmp else {}
    return Daemon(name, tuple(argv), user=user, cwd=f"/var/lib/{user}", env=env, port=port,
                  watch=config_files)  # fmt: skip


NEUTRON = "/etc/neutron/neutron.conf"
ML2 = "/etc/neutron/plugins/ml2/ml2_conf.ini"

MARIADB = Daemon(
    "mariadb", ("/usr/sbin/mariadbd",), user="mysql", cwd="/var/lib/mysql", port=PORTS["mariadb"],
    watch=("/etc/mysql/mariadb.conf.d/99-cpi-conformance.cnf",),
)
EPMD = Daemon("epmd", ("/usr/bin/epmd", "-address", "127.0.0.1"), user="rabbitmq", cwd="/var/lib/rabbitmq",
              port=PORTS["epmd"])  # waited for: an Erlang program finding none starts its own, on 0.0.0.0
RABBITMQ = Daemon(
    "rabbitmq", ("/usr/lib/rabbitmq/bin/rabbitmq-server",), user="rabbitmq", cwd="/var/lib/rabbitmq",
    env={"RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "ERL_EPMD_ADDRESS": "127.0.0.1",
         # the Erlang distribution port (25672) too, or it listens on every address
         "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}"},
    port=PORTS["rabbitmq"],
)  # fmt: skip
MEMCACHED = Daemon(
    "memcached", ("/usr/bin/memcached", "-l", "127.0.0.1", "-p", "11211", "-m", "64"),
    user="memcache", port=PORTS["memcached"],
)  # fmt: skip

KEYSTONE = uwsgi(
    "keystone", PORTS["keystone"], "/etc/keystone/keystone-uwsgi.ini", "keystone", "/etc/keystone/keystone.conf"
)
GLANCE = oslo("glance-api", "glance", "/etc/glance/glance-api.conf", port=PORTS["glance"])
PLACEMENT = uwsgi(
    "placement-api", PORTS["placement"], "/etc/placement/placement-api-uwsgi.ini", "placement",
    "/etc/placement/placement.conf",
)  # fmt: skip

NOVA_API = uwsgi("nova-api", PORTS["nova"], "/etc/nova/nova-api-uwsgi.ini", "nova", "/etc/nova/nova.conf")
NOVA_METADATA = uwsgi(
    "nova-api-metadata", 8775, "/etc/nova/nova-api-metadata-uwsgi.ini", "nova", "/etc/nova/nova.conf"
)
NOVA_CONDUCTOR = oslo("nova-conductor", "nova", "/etc/nova/nova.conf")
NOVA_SCHEDULER = oslo("nova-scheduler", "nova", "/etc/nova/nova.conf")
NOVA_COMPUTE = oslo("nova-compute", "nova", "/etc/nova/nova.conf", "/etc/nova/nova-compute.conf")

VIRTLOGD = Daemon("virtlogd", ("/usr/sbin/virtlogd",))
LIBVIRTD = Daemon("libvirtd", ("/usr/sbin/libvirtd",), watch=("/etc/libvirt/libvirtd.conf",))

NEUTRON_API = uwsgi(
    "neutron-api", PORTS["neutron"], "/etc/neutron/neutron-api-uwsgi.ini", "neutron", NEUTRON, ML2,
    pyargv=f"--config-dir=/etc/neutron/server.conf.d --config-file={NEUTRON} --config-file={ML2}",
)  # fmt: skip
NEUTRON_RPC = oslo("neutron-rpc-server", "neutron", NEUTRON, ML2, tmp=True)
NEUTRON_LB = oslo(
    "neutron-linuxbridge-agent", "neutron", NEUTRON, ML2, "/etc/neutron/plugins/ml2/linuxbridge_agent.ini"
)
NEUTRON_DHCP = oslo("neutron-dhcp-agent", "neutron", NEUTRON, "/etc/neutron/dhcp_agent.ini")
NEUTRON_L3 = oslo("neutron-l3-agent", "neutron", NEUTRON, "/etc/neutron/l3_agent.ini")
NEUTRON_METADATA = oslo("neutron-metadata-agent", "neutron", NEUTRON, "/etc/neutron/metadata_agent.ini")

CEPH_CONF = "/etc/ceph/ceph.conf"
CEPH_MON = Daemon("ceph-mon", ("/usr/bin/ceph-mon", "-f", "-i", CEPH_MON_ID), port=PORTS["ceph-mon"], watch=(CEPH_CONF,))
CEPH_OSD = Daemon("ceph-osd", ("/usr/bin/ceph-osd", "-f", "-i", "0"), watch=(CEPH_CONF,))

CINDER_API = uwsgi(
    "cinder-api", PORTS["cinder"], "/etc/cinder/cinder-api-uwsgi.ini", "cinder", "/etc/cinder/cinder.conf"
)
CINDER_SCHEDULER = oslo("cinder-scheduler", "cinder", "/etc/cinder/cinder.conf")
CINDER_VOLUME = oslo("cinder-volume", "cinder", "/etc/cinder/cinder.conf")

ALL = (
    MARIADB, EPMD, RABBITMQ, MEMCACHED, KEYSTONE, GLANCE, PLACEMENT,
    NOVA_API, NOVA_METADATA, NOVA_CONDUCTOR, NOVA_SCHEDULER, VIRTLOGD, LIBVIRTD, NOVA_COMPUTE,
    NEUTRON_API, NEUTRON_RPC, NEUTRON_LB, NEUTRON_DHCP, NEUTRON_L3, NEUTRON_METADATA,
    CEPH_MON, CEPH_OSD, CINDER_API, CINDER_SCHEDULER, CINDER_VOLUME,
)  # fmt: skip


def required_files() -> list[str]:
    """The programs the daemons start from, and the packaged uwsgi ini files they read."""
    files = []
    for daemon in ALL:
        files.append(daemon.argv[0])
        if "--ini" in daemon.argv:
            files.append(daemon.argv[daemon.argv.index("--ini") + 1])
    return files
