"""Smoke test of the local cloud with openstacksdk only (no CPI): the test stemcell boots with two
fixed-IP NICs and BOSH agent settings in user_data, answers SSH through a floating IP, and a Ceph
volume goes through attach / detach / extend / snapshot. Everything is deleted and checked gone.
"""

from __future__ import annotations

import base64
import json
import random
import time
import uuid

import pytest

from conformance.core.errors import GuestCommandFailed
from conformance.core.waiting import wait_for

pytestmark = pytest.mark.cloud

ACTIVE_TIMEOUT, SSH_TIMEOUT, VOLUME_TIMEOUT, GONE_TIMEOUT, POLL = 600.0, 300.0, 180.0, 300.0, 2.0


@pytest.fixture(scope="module")
def image(os_conn, tmp_path_factory):
    """The test stemcell's root image uploaded to Glance (private), deleted afterwards."""
    from conformance.stemcell.build import ensure_stemcell
    from conformance.stemcell.tarball import extract_image, extract_root_image, read_manifest

    stemcell = ensure_stemcell(progress=lambda _line: None)
    props = read_manifest(stemcell)["cloud_properties"]
    work = tmp_path_factory.mktemp("stemcell")
    root = extract_root_image(extract_image(stemcell, work), work)
    img = os_conn.image.create_image(
        name=f"cfm-smoke-{uuid.uuid4().hex[:8]}", filename=str(root), disk_format=props.get("disk_format", "qcow2"),
        container_format=props.get("container_format", "bare"), visibility="private", wait=True,
    )  # fmt: skip
    yield img
    os_conn.image.delete_image(img, ignore_missing=True)


def port_on(os_conn, spec: dict, cleanup: list):
    net = os_conn.network.find_network(spec["name"])
    subnet = os_conn.network.find_subnet(f"{spec['name']}-subnet")
    ip = spec["cidr"].rsplit(".", 1)[0] + f".{random.randint(200, 249)}"
    port = os_conn.network.create_port(
        network_id=net.id, name=f"cfm-smoke-{uuid.uuid4().hex[:8]}", security_groups=[],
        fixed_ips=[{"subnet_id": subnet.id, "ip_address": ip}],
    )  # fmt: skip
    cleanup.append(lambda: os_conn.network.delete_port(port, ignore_missing=True))
    return port, ip


def agent_settings(agent_id: str, nets: dict) -> dict:
    """BOSH agent settings (api_version 2 user_data): networks by MAC, static, use_dhcp false."""
    networks = {
        name: {"type": "manual", "ip": ip, "netmask": "255.255.255.0", "gateway": gw, "mac": port.mac_address,
               "use_dhcp": False, "default": ["dns", "gateway"] if name == "a" else [], "dns": []}
        for name, (port, ip, gw) in nets.items()
    }  # fmt: skip
    return {"agent_id": agent_id, "vm": {"name": agent_id}, "networks": networks,
            "disks": {"system": "/dev/vda", "persistent": {}}, "env": {}}  # fmt: skip


def ssh_client(host: str, key_path: str):
    import paramiko

    key = paramiko.RSAKey.from_private_key_file(key_path)

    def connect():
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect(host, username="vcap", pkey=key, timeout=10, banner_timeout=10, auth_timeout=10,
                       allow_agent=False, look_for_keys=False)  # fmt: skip
        return client

    return wait_for(connect, timeout=SSH_TIMEOUT, interval=POLL, backoff=1.5, max_interval=10,
                    retry_on=(OSError, EOFError, paramiko.SSHException), what=f"SSH to vcap@{host}",
                    describe=lambda _c: "connected")  # fmt: skip


def guest(client, command: str) -> str:
    _in, out, err = client.exec_command(command, timeout=60)
    status = out.channel.recv_exit_status()
    stdout, stderr = out.read().decode(), err.read().decode()
    if status != 0:
        raise GuestCommandFailed("guest", command, status, stdout, stderr)
    return stdout


def wait_volume(os_conn, volume, status: str, size: int | None = None):
    return wait_for(
        lambda: os_conn.block_storage.get_volume(volume.id),
        ready=lambda v: v.status == status and (size is None or v.size == size),
        failed=lambda v: v.status.startswith("error") and f"status={v.status}",
        describe=lambda v: f"status={v.status} size={v.size}", timeout=VOLUME_TIMEOUT, interval=POLL,
        what=f"volume {volume.id} {status}",
    )  # fmt: skip


def test_server_boots_answers_ssh_and_a_volume_cycles(os_conn, localcloud_facts, image, record_property):
    """A server from the test stemcell MUST come up with both fixed IPs on the right MACs, its config
    drive, SSH as vcap through a floating IP; a Ceph volume MUST attach (virtio serial), detach,
    extend and snapshot. Everything MUST be gone afterwards."""
    facts, cleanup = localcloud_facts, []
    try:
        (manual_a, manual_b) = facts["networks"]["manual"]
        nets = {}
        for name, spec in (("a", manual_a), ("b", manual_b)):
            port, ip = port_on(os_conn, spec, cleanup)
            nets[name] = (port, ip, spec["gateway"])
        sg = os_conn.network.find_security_group(facts["security_group"], project_id=os_conn.current_project_id)
        for port, _ip, _gw in nets.values():
            os_conn.network.update_port(port, security_group_ids=[sg.id])
        agent_id = f"cfm-smoke-{uuid.uuid4().hex[:8]}"
        user_data = base64.b64encode(json.dumps(agent_settings(agent_id, nets)).encode()).decode()
        flavor = os_conn.compute.find_flavor(facts["flavors"]["tiny"])
        started = time.monotonic()
        server = os_conn.compute.create_server(
            name=agent_id, image_id=image.id, flavor_id=flavor.id, key_name=facts["key_name"],
            networks=[{"port": p.id} for p, _ip, _gw in nets.values()], config_drive=True, user_data=user_data,
        )  # fmt: skip
        cleanup.append(lambda: delete_server_and_wait(os_conn, server.id))
        wait_for(lambda: os_conn.compute.get_server(server.id), ready=lambda s: s.status == "ACTIVE",
                 failed=lambda s: s.status == "ERROR" and f"ERROR fault={s.fault}",
                 describe=lambda s: f"status={s.status} task={s.task_state}", timeout=ACTIVE_TIMEOUT,
                 interval=POLL, what=f"server {server.id} ACTIVE")  # fmt: skip
        public = os_conn.network.find_network(facts["networks"]["external"]["name"])
        fip = os_conn.network.create_ip(floating_network_id=public.id, port_id=nets["a"][0].id)
        cleanup.append(lambda: os_conn.network.delete_ip(fip, ignore_missing=True))
        client = ssh_client(fip.floating_ip_address, facts["ssh_private_key"])
        cleanup.append(client.close)
        boot_to_ssh = time.monotonic() - started
        record_property("boot_to_ssh_seconds", round(boot_to_ssh, 1))
        print(f"boot-to-SSH {boot_to_ssh:.1f}s")
        check_guest_network(client, nets)
        for path in ("openstack/latest/meta_data.json", "openstack/latest/user_data",
                     "openstack/latest/network_data.json", "ec2/latest/user-data"):  # fmt: skip
            guest(client, f"test -s /var/vcap/bosh/config-drive/{path}")
        volume_cycle(os_conn, server, client, cleanup)
    finally:
        errors = run_cleanup(cleanup)
    assert errors == [], "cleanup steps that failed"


def check_guest_network(client, nets: dict) -> None:
    """Both fixed IPs sit on the NICs whose MACs match their ports."""
    seen = {}
    for line in guest(client, "ip -o -4 addr show").splitlines():
        ifname, cidr = line.split()[1], line.split()[3]
        mac = guest(client, f"cat /sys/class/net/{ifname}/address").strip()
        seen[mac] = cidr.split("/")[0]
    expected = {port.mac_address: ip for port, ip, _gw in nets.values()}
    assert {mac: seen.get(mac) for mac in expected} == expected, "guest IPs by MAC vs Neutron ports"


def volume_cycle(os_conn, server, client, cleanup: list) -> None:
    volume = os_conn.block_storage.create_volume(size=1, name=f"cfm-smoke-{uuid.uuid4().hex[:8]}")
    cleanup.append(lambda: delete_volume_and_wait(os_conn, volume.id))
    wait_volume(os_conn, volume, "available")
    os_conn.compute.create_volume_attachment(server, volume_id=volume.id)
    wait_volume(os_conn, volume, "in-use")
    device = f"/dev/disk/by-id/virtio-{volume.id[:20]}"
    wait_for(lambda: guest(client, f"test -b {device} && echo yes || echo no").strip(), ready=lambda s: s == "yes",
             timeout=VOLUME_TIMEOUT, interval=POLL, what=f"{device} in the guest")  # fmt: skip
    os_conn.compute.delete_volume_attachment(volume.id, server)
    wait_volume(os_conn, volume, "available")
    os_conn.block_storage.extend_volume(volume, 2)
    wait_volume(os_conn, volume, "available", size=2)
    snap = os_conn.block_storage.create_snapshot(volume_id=volume.id, name=f"{volume.name}-snap")
    cleanup.append(lambda: delete_snapshot_and_wait(os_conn, snap.id))
    wait_for(lambda: os_conn.block_storage.get_snapshot(snap.id), ready=lambda s: s.status == "available",
             failed=lambda s: s.status == "error", describe=lambda s: f"status={s.status}",
             timeout=VOLUME_TIMEOUT, interval=POLL, what=f"snapshot {snap.id} available")  # fmt: skip


def gone(getter, what: str) -> None:
    from openstack.exceptions import NotFoundException

    def probe():
        try:
            return getter().status
        except NotFoundException:
            return "gone"

    wait_for(probe, ready=lambda s: s == "gone", failed=lambda s: "error" in str(s).lower() and s,
             describe=str, timeout=GONE_TIMEOUT, interval=POLL, what=f"{what} to be gone")  # fmt: skip


def delete_server_and_wait(os_conn, server_id: str) -> None:
    os_conn.compute.delete_server(server_id, ignore_missing=True)
    gone(lambda: os_conn.compute.get_server(server_id), f"server {server_id}")


def delete_volume_and_wait(os_conn, volume_id: str) -> None:
    os_conn.block_storage.delete_volume(volume_id, ignore_missing=True)
    gone(lambda: os_conn.block_storage.get_volume(volume_id), f"volume {volume_id}")


def delete_snapshot_and_wait(os_conn, snapshot_id: str) -> None:
    os_conn.block_storage.delete_snapshot(snapshot_id, ignore_missing=True)
    gone(lambda: os_conn.block_storage.get_snapshot(snapshot_id), f"snapshot {snapshot_id}")


def run_cleanup(cleanup: list) -> list[str]:
    """LIFO, every step runs, failures are collected (never hide the test's own failure)."""
    errors = []
    for step in reversed(cleanup):
        try:
            step()
        except Exception as exc:  # collected and asserted on by the caller
            errors.append(f"{type(exc).__name__}: {exc}")
    return errors
