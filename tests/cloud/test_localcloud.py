"""The local cloud that `conformance local-cloud up` built: answers, lets the test user work, keeps
its traffic on this machine, and publishes no secret in its facts file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from conformance.localcloud import daemons, hostnet, services, status
from conformance.localcloud.passwords import NAMES, Passwords

pytestmark = pytest.mark.cloud


def test_status_is_green(localcloud_facts, localcloud_layout):
    """Every daemon's pid file is alive and every endpoint answers."""
    rows = status.collect(localcloud_layout)
    assert [f"{r.name}: {r.detail}" for r in rows if not r.ok] == [], "failing status checks"


def test_test_user_is_not_admin(os_conn, os_admin, localcloud_facts):
    """The suite runs with member rights, as a BOSH director would."""
    user = os_admin.identity.find_user("cfm-conformance")
    project = os_admin.identity.find_project("cfm-conformance")
    roles = {
        os_admin.identity.get_role(a.role["id"]).name
        for a in os_admin.identity.role_assignments(user_id=user.id, scope_project_id=project.id)
    }
    assert roles == {"member"}, "roles of cfm-conformance in its project"


def test_test_user_can_create_and_delete_a_port(os_conn, localcloud_facts):
    """A port with a fixed IP on cfm-manual-b (no DHCP) is created, then gone after delete."""
    spec = localcloud_facts["networks"]["manual"][1]
    net = os_conn.network.find_network(spec["name"])
    subnet = os_conn.network.find_subnet(f"{spec['name']}-subnet")
    name = f"cfm-test-port-{uuid.uuid4().hex[:8]}"
    port = os_conn.network.create_port(
        name=name, network_id=net.id, fixed_ips=[{"subnet_id": subnet.id, "ip_address": "10.10.2.250"}]
    )
    try:
        assert [ip["ip_address"] for ip in port.fixed_ips] == ["10.10.2.250"], "fixed IP of the new port"
    finally:
        os_conn.network.delete_port(port, ignore_missing=True)
    assert os_conn.network.find_port(name) is None, "port gone after delete"


def test_floating_ip_is_allocatable_from_public(os_conn, localcloud_facts):
    """The test project can allocate (and release) a floating IP in the external pool."""
    public = os_conn.network.find_network(localcloud_facts["networks"]["external"]["name"])
    fip = os_conn.network.create_ip(floating_network_id=public.id)
    try:
        last = int(fip.floating_ip_address.rsplit(".", 1)[1])
        assert fip.floating_ip_address.startswith("172.24.4.") and 100 <= last <= 250, "FIP in the pool"
    finally:
        os_conn.network.delete_ip(fip, ignore_missing=True)
    assert os_conn.network.find_ip(fip.id) is None, "floating IP released"


def test_safety_rules_are_in_place(os_admin, localcloud_facts):
    """No routing, no NAT on the host; the external subnet has no gateway."""
    assert hostnet.safety_problems() == [], "host forwarding/NAT rules"
    subnet = os_admin.network.find_subnet("public-subnet")
    assert subnet.gateway_ip is None, "external subnet must not have a gateway"
    routes = subprocess.run(["ip", "-4", "route", "show", "dev", "br-ex"], capture_output=True, text=True)
    assert routes.stdout.split() and "via" not in routes.stdout, "br-ex carries only its own /24"


# an Erlang program that finds no epmd starts its own (as a daemon of its own session, on 0.0.0.0)
ERLANG = ("epmd", "beam.smp")


def test_cloud_daemons_listen_only_on_loopback(localcloud_facts, localcloud_layout):
    """The services' APIs, databases and queues answer on 127.0.0.1 only: a guest reaching the
    host through the router (172.24.4.1) finds nothing of the control plane."""
    sessions = {pid: d.name for d in services.ALL if (pid := daemons.running(localcloud_layout, d))}
    listeners = subprocess.run(["ss", "-ltnupH"], capture_output=True, text=True, check=True).stdout
    exposed = []
    for line in listeners.splitlines():
        fields = line.split()
        address = fields[4]
        for pid in map(int, re.findall(r"pid=(\d+)", line)):
            try:
                owner = sessions.get(os.getsid(pid))
            except ProcessLookupError:
                continue
            owner = owner or next((n for n in ERLANG if f'"{n}",pid={pid},' in line), None)
            if owner and not address.startswith(("127.", "[::1]", "[::ffff:127.")):
                exposed.append(f"{owner} (pid {pid}) listens on {address}")
    assert len(sessions) >= 10, f"the cloud's daemons, found by pid file: {sorted(sessions.values())}"
    assert sorted(set(exposed)) == [], "control-plane listeners beyond loopback"


def test_facts_file_holds_no_secret(localcloud_facts, localcloud_layout):
    """localcloud.json is for everyone: none of the generated passwords may appear in it."""
    text = localcloud_layout.facts.read_text()
    passwords = Passwords.load_or_create(localcloud_layout.secrets)
    assert passwords.redact(text) == text, "a generated password appears in localcloud.json"
    assert "PRIVATE KEY" not in text and "password" not in json.loads(text), "no key material or password"
    assert set(NAMES) <= set(json.loads(localcloud_layout.secrets.read_text())), "all passwords generated"


def test_secret_files_are_private(localcloud_facts, localcloud_layout):
    """Passwords, CPI config, private key and clouds.yaml are 0600."""
    paths = [localcloud_layout.secrets, localcloud_layout.cpi_json, localcloud_layout.ssh_private_key,
             Path(localcloud_facts["clouds_yaml"])]  # fmt: skip
    modes = {str(p): oct(p.stat().st_mode & 0o777) for p in paths}
    assert modes == dict.fromkeys(modes, "0o600"), "modes of the secret files"
