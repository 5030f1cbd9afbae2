"""`conformance local-cloud down [--purge]`: stop what `up` started, by pid file only.

Order: libvirt guests left over, then our daemons in reverse start order (each by its pid file and
recorded start time), then what Neutron spawned (dnsmasq, haproxy: by the pid files Neutron keeps),
then the namespaces, links and iptables/ipset entries the cloud created, then our bridges and rule.
Never by process name. ``--purge`` also drops the databases and users, Ceph's data, keys, images,
instances, our clouds.yaml entries and the state directory, so that the next `up` starts clean.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from conformance.localcloud import daemons, ebtables, hostnet, services
from conformance.localcloud.config import ADMIN_CLOUD, CLOUDS_YAML, DATABASES, TEST_CLOUD
from conformance.localcloud.context import wait_listening
from conformance.localcloud.layout import Layout, write_private
from conformance.localcloud.procs import Runner
from conformance.localcloud.steps_infra import mysqld_run_dir
from conformance.localcloud.steps_storage import MON_DIR, OSD_DIR
from conformance.localcloud.surfaces import wiring as surfaces

NEUTRON_NETNS_PREFIXES = ("qrouter-", "qdhcp-")
# brq<net id[:11]>, tap<port id[:11]>, vxlan-<vni>: names only Neutron/Nova give their links
NEUTRON_LINK = re.compile(r"^(brq|tap)[0-9a-f]{8}-[0-9a-f]{2}$|^vxlan-\d+$")
NEUTRON_PIDFILES = ("/var/lib/neutron/dhcp/*/pid", "/var/lib/neutron/external/pids/*.pid*")
PURGE_PATHS = (
    MON_DIR, OSD_DIR, Path("/etc/keystone/fernet-keys"), Path("/etc/keystone/credential-keys"),
    Path("/var/lib/glance/images"), Path("/var/lib/nova/instances"), Path("/var/lib/neutron/dhcp"),
    Path("/var/lib/neutron/external"),
)  # fmt: skip


def run(layout: Layout, purge: bool, out=sys.stdout) -> int:
    if not layout.root.exists():
        print(f"nothing to do: no state dir {layout.root}", file=out)
        return 0
    runner = Runner(layout.log("down"))
    t0 = time.monotonic()
    guests = destroy_guests(runner, undefine=purge)
    if purge:
        drop_databases(runner, layout)
    stopped = [d.name for d in (*surfaces.DAEMONS, *reversed(services.ALL)) if daemons.stop(layout, d)]
    spawned = stop_neutron_spawned()
    netns = remove_neutron_netns(runner)
    links = remove_neutron_links(runner)
    remove_neutron_firewall(runner)
    hostnet.remove(runner)
    print(f"guests destroyed: {len(guests)}; daemons stopped: {len(stopped)}; neutron helpers: {spawned}; "
          f"netns removed: {len(netns)}; links removed: {len(links)}", file=out)  # fmt: skip
    if purge:
        purge_data(layout)
        print(f"purged databases, Ceph data, keys, images, instances, clouds.yaml entries, {layout.root}",
              file=out)  # fmt: skip
    print(f"local cloud down in {time.monotonic() - t0:.1f}s", file=out)
    return 0


def destroy_guests(runner: Runner, undefine: bool) -> list[str]:
    if not Path("/run/libvirt/libvirt-sock").exists():
        return []
    virsh = ["virsh", "-c", "qemu:///system"]
    proc = runner.run([*virsh, "list", "--all", "--name"], check=False, timeout=30)
    names = [n for n in proc.stdout.split() if n.startswith("instance-")]
    for name in names:
        runner.run([*virsh, "destroy", name], check=False, timeout=60)
        if undefine:
            runner.run([*virsh, "undefine", "--nvram", name], check=False, timeout=60)
    return names


def drop_databases(runner: Runner, layout: Layout) -> None:
    """Drop our databases and users: MariaDB is started for it when it is down (after a plain
    `down`), since the passwords go with the state directory and databases left behind would
    hold the old ones (keystone's admin, nova's cell mappings) and make the next `up` fail."""
    if not daemons.running(layout, services.MARIADB) and Path("/var/lib/mysql/mysql").is_dir():
        mysqld_run_dir()
        daemons.start(layout, services.MARIADB)
        wait_listening(layout, services.MARIADB)
    users = sorted(set(DATABASES.values()))
    sql = [f"DROP DATABASE IF EXISTS {db};" for db in DATABASES]
    sql += [f"DROP USER IF EXISTS '{u}'@'{h}';" for u in users for h in ("localhost", "%")]
    runner.run(["mysql", "-u", "root"], input="\n".join(sql) + "\n", check=False)
    if daemons.running(layout, services.RABBITMQ):  # else rabbitmqctl would start a stray epmd
        runner.run(["rabbitmqctl", "-q", "delete_user", "openstack"], check=False, timeout=60)


def stop_neutron_spawned() -> int:
    count = 0
    for pattern in NEUTRON_PIDFILES:
        for pidfile in Path("/").glob(pattern.lstrip("/")):
            count += daemons.stop_by_foreign_pidfile(pidfile)
    return count


def remove_neutron_netns(runner: Runner) -> list[str]:
    out = runner.run(["ip", "netns", "list"], check=False).stdout
    names = [line.split()[0] for line in out.splitlines() if line.startswith(NEUTRON_NETNS_PREFIXES)]
    for name in names:
        runner.run(["ip", "netns", "delete", name], check=False)
    return names


def remove_neutron_links(runner: Runner) -> list[str]:
    names = [p.name for p in Path("/sys/class/net").iterdir() if NEUTRON_LINK.match(p.name)]
    for name in names:
        runner.run(["ip", "link", "delete", name], check=False)
    return names


def without_neutron_rules(saved: str) -> str:
    """Pure: iptables-save output minus every neutron chain and every rule that mentions one."""
    return "\n".join(line for line in saved.splitlines() if "neutron-" not in line) + "\n"


def remove_neutron_firewall(runner: Runner) -> None:
    saved = runner.run(["iptables-save"], check=False).stdout
    if "neutron-" in saved:
        runner.run(["iptables-restore"], input=without_neutron_rules(saved), check=False)
    sets = runner.run(["ipset", "list", "-n"], check=False).stdout.split()
    for name in sets:
        if name.startswith("NI"):  # neutron's ipsets: NIPv4<sg id>, NIPv6<sg id>
            runner.run(["ipset", "destroy", name], check=False)


def purge_data(layout: Layout) -> None:
    for path in PURGE_PATHS:
        shutil.rmtree(path, ignore_errors=True)
    for owner, path in (("glance", "/var/lib/glance/images"), ("nova", "/var/lib/nova/instances")):
        Path(path).mkdir(parents=True, exist_ok=True)
        shutil.chown(path, owner, owner)
    Path("/etc/ceph/ceph.conf").unlink(missing_ok=True)
    ebtables.remove()
    remove_clouds_entries(Path(CLOUDS_YAML))
    subprocess.run(["rm", "-rf", "--one-file-system", str(layout.root)], check=False)


def remove_clouds_entries(path: Path) -> None:
    if not path.exists():
        return
    data = yaml.safe_load(path.read_text()) or {}
    clouds = data.get("clouds") or {}
    for name in (TEST_CLOUD, ADMIN_CLOUD, *surfaces.cloud_entries("").keys()):
        clouds.pop(name, None)
    write_private(path, yaml.safe_dump(data, default_flow_style=False, sort_keys=True))
