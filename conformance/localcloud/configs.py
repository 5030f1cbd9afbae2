"""What each service's config must say: pure functions from the passwords to section/option maps.

The pitfalls of notes/local-cloud.md are applied here: service tokens for the CVE-2023-2088 fix (3),
no AMQP heartbeats for services behind uwsgi (4), TCG with cpu_mode none (7), linuxbridge marked
experimental in Zed, VXLAN underlay on br-vx, the external flat network on br-ex.
"""

from __future__ import annotations

from conformance.localcloud.config import (
    BR_EX,
    BR_VX_IP,
    CEPH_POOL,
    HOST_IP,
    KEYSTONE_ROOT,
    REGION,
)  # fmt: skip
from conformance.localcloud.passwords import Passwords

MEMCACHED = f"{HOST_IP}:11211"


def db_url(pw: Passwords, db: str, user: str | None = None) -> str:
    user = user or db
    return f"mysql+pymysql://{user}:{pw['db_' + user]}@{HOST_IP}/{db}"


def transport_url(pw: Passwords) -> str:
    return f"rabbit://openstack:{pw['rabbit']}@{HOST_IP}:5672/"


def auth_section(pw: Passwords, user: str) -> dict[str, str]:
    """A keystoneauth password section for service user ``user`` in project ``service``."""
    return {
        "auth_url": KEYSTONE_ROOT, "auth_type": "password", "project_domain_name": "Default",
        "user_domain_name": "Default", "project_name": "service", "username": user,
        "password": pw[f"svc_{user}"], "region_name": REGION,
    }  # fmt: skip


def authtoken(pw: Passwords, user: str) -> dict[str, str]:
    return {"www_authenticate_uri": KEYSTONE_ROOT, "memcached_servers": MEMCACHED, **auth_section(pw, user)}


def messaging(pw: Passwords) -> dict[str, dict[str, object]]:
    """The RabbitMQ transport, without heartbeats: uwsgi never runs the heartbeat greenthread."""
    return {
        "DEFAULT": {"transport_url": transport_url(pw)},
        "oslo_messaging_rabbit": {"heartbeat_timeout_threshold": 0},
    }


def keystone(pw: Passwords) -> dict:
    return {
        "database": {"connection": db_url(pw, "keystone")},
        "token": {"provider": "fernet"},
        "cache": {"enabled": True, "backend": "dogpile.cache.memcached", "memcache_servers": MEMCACHED},
    }


def glance(pw: Passwords) -> dict:
    return {
        "DEFAULT": {"workers": 1, "enabled_backends": "fs:file", "bind_host": HOST_IP},  # not 0.0.0.0
        "database": {"connection": db_url(pw, "glance")},
        "keystone_authtoken": authtoken(pw, "glance"),
        "paste_deploy": {"flavor": "keystone"},
        "glance_store": {"default_backend": "fs"},
        "fs": {"filesystem_store_datadir": "/var/lib/glance/images/"},
        "os_glance_tasks_store": {"filesystem_store_datadir": "/var/lib/glance/tasks_work_dir"},
        "os_glance_staging_store": {"filesystem_store_datadir": "/var/lib/glance/staging"},
    }


def placement(pw: Passwords) -> dict:
    return {
        "placement_database": {"connection": db_url(pw, "placement")},
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": authtoken(pw, "placement"),
    }


def nova(pw: Passwords) -> dict:
    settings = messaging(pw)
    settings["DEFAULT"].update({
        "my_ip": HOST_IP, "state_path": "/var/lib/nova", "osapi_compute_workers": 1,
        "metadata_workers": 1, "config_drive_format": "iso9660", "instance_usage_audit": False,
        "compute_driver": "libvirt.LibvirtDriver", "reserved_host_memory_mb": 4096,
    })  # fmt: skip
    settings.update({
        "api": {"auth_strategy": "keystone"},
        "api_database": {"connection": db_url(pw, "nova_api", "nova")},
        "database": {"connection": db_url(pw, "nova")},
        "keystone_authtoken": authtoken(pw, "nova"),
        "service_user": {"send_service_user_token": True, **auth_section(pw, "nova")},
        "vnc": {"enabled": False}, "spice": {"enabled": False},
        "glance": {"api_servers": f"http://{HOST_IP}:9292"},
        "oslo_concurrency": {"lock_path": "/var/lib/nova/tmp"},
        "placement": auth_section(pw, "placement"),
        "neutron": {**auth_section(pw, "neutron"), "service_metadata_proxy": True,
                    "metadata_proxy_shared_secret": pw["metadata_secret"]},
        "cinder": {"os_region_name": REGION},
        "conductor": {"workers": 1},
        "scheduler": {"workers": 1, "discover_hosts_in_cells_interval": 20},
        "libvirt": {"virt_type": "qemu", "cpu_mode": "none"},
    })  # fmt: skip
    return settings


def nova_compute() -> dict:
    return {"libvirt": {"virt_type": "qemu", "cpu_mode": "none"}}


def neutron(pw: Passwords) -> dict:
    settings = messaging(pw)
    settings["DEFAULT"].update({
        "core_plugin": "ml2", "service_plugins": "router", "auth_strategy": "keystone",
        "notify_nova_on_port_status_changes": True, "notify_nova_on_port_data_changes": True,
        "api_workers": 1, "rpc_workers": 1, "rpc_state_report_workers": 1, "dhcp_agents_per_network": 1,
    })  # fmt: skip
    settings.update({
        "database": {"connection": db_url(pw, "neutron")},
        "keystone_authtoken": authtoken(pw, "neutron"),
        "nova": auth_section(pw, "nova"),
        "oslo_concurrency": {"lock_path": "/var/lib/neutron/lock"},
        "experimental": {"linuxbridge": True},
    })
    return settings


def ml2() -> dict:
    return {
        "ml2": {"type_drivers": "flat,vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": "linuxbridge,l2population", "extension_drivers": "port_security"},
        "ml2_type_flat": {"flat_networks": "public"},
        "ml2_type_vxlan": {"vni_ranges": "1:1000"},
        "securitygroup": {"enable_ipset": True},
    }  # fmt: skip


def linuxbridge_agent() -> dict:
    return {
        "linux_bridge": {"bridge_mappings": f"public:{BR_EX}", "physical_interface_mappings": None},
        "vxlan": {"enable_vxlan": True, "local_ip": BR_VX_IP, "l2_population": True},
        "securitygroup": {"enable_security_group": True, "firewall_driver": "iptables"},
    }


def l3_agent() -> dict:
    return {"DEFAULT": {"interface_driver": "linuxbridge"}}


def dhcp_agent() -> dict:
    return {"DEFAULT": {"interface_driver": "linuxbridge", "enable_isolated_metadata": False,
                        "dhcp_driver": "neutron.agent.linux.dhcp.Dnsmasq"}}  # fmt: skip


def metadata_agent(pw: Passwords) -> dict:
    return {"DEFAULT": {"nova_metadata_host": HOST_IP, "metadata_proxy_shared_secret": pw["metadata_secret"]}}


def cinder(pw: Passwords) -> dict:
    settings = messaging(pw)
    settings["DEFAULT"].update({
        "my_ip": HOST_IP, "enabled_backends": "ceph", "glance_api_servers": f"http://{HOST_IP}:9292",
        "osapi_volume_workers": 1, "default_volume_type": "ceph",
    })  # fmt: skip
    settings.update({
        "database": {"connection": db_url(pw, "cinder")},
        "keystone_authtoken": {**authtoken(pw, "cinder"), "service_token_roles": "service",
                               "service_token_roles_required": True},
        "nova": auth_section(pw, "nova"),
        "oslo_concurrency": {"lock_path": "/var/lib/cinder/tmp"},
        "ceph": {"volume_driver": "cinder.volume.drivers.rbd.RBDDriver", "volume_backend_name": "ceph",
                 "rbd_pool": CEPH_POOL, "rbd_ceph_conf": "/etc/ceph/ceph.conf",
                 "rbd_flatten_volume_from_snapshot": False, "rbd_max_clone_depth": 5,
                 "rados_connect_timeout": 10, "report_discard_supported": True},
    })  # fmt: skip
    return settings


# uwsgi: few processes, one thread each (pitfall 4), no keep-alive (pitfall 5), die on SIGTERM
UWSGI_OPTIONS = {"processes": "2", "threads": "1", "plugins": "python3", "die-on-term": "true"}
UWSGI_APPEND = ("add-header = Connection: close",)

LIBVIRTD = {  # no D-Bus, so no polkit: the libvirt group (nova is in it) with auth none (pitfall 1)
    "unix_sock_group": '"libvirt"', "unix_sock_rw_perms": '"0770"',
    "auth_unix_rw": '"none"', "auth_unix_ro": '"none"',
}  # fmt: skip
