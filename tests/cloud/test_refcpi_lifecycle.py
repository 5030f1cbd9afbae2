"""The reference CPI through the real protocol (one process per call) against the local OpenStack.

Every CPI method is driven as the Director drives it, and each effect is checked with openstacksdk.
Resources the test makes itself are named ``cfm-test-...``; the CPI's own names (vm-<uuid>,
volume-<uuid>) are found through the ``cfm-test-`` agent id it puts into the server metadata.
Run with ``-s`` to see the table of call durations.
"""

from __future__ import annotations

import base64
import concurrent.futures
import ipaddress
import json
import os
import random
import socket
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from conformance.cpi.protocol import parse_response

pytestmark = pytest.mark.cloud

CONTEXT = {"director_uuid": "cfm-test-director", "request_id": "cpi-0"}
STATIC = {"use_dhcp": False, "config_drive": "cdrom"}
TIMINGS: list[tuple[str, float, str]] = []


class RefCpi:
    """Runs conformance-openstack-cpi once per call with the Director's near-empty environment."""

    def __init__(self, config_path: Path):
        openstack = json.loads(config_path.read_text())["cloud"]["properties"]["openstack"]
        self.secret = openstack.get("api_key")
        beside = Path(sys.executable).parent / "conformance-openstack-cpi"
        self.command = [str(beside) if beside.exists() else "conformance-openstack-cpi", str(config_path)]
        self.env = {"PATH": os.environ["PATH"], "TMPDIR": os.environ.get("TMPDIR", "/tmp")}

    def raw(self, method, *arguments, api_version=2, context=None):
        doc = {"method": method, "arguments": list(arguments), "context": {**CONTEXT, **(context or {})}}
        if api_version is not None:
            doc["api_version"] = api_version
        started = time.monotonic()
        proc = subprocess.run(
            self.command, input=json.dumps(doc).encode(), capture_output=True, env=self.env, timeout=900
        )
        if self.secret:
            assert self.secret.encode() not in proc.stdout + proc.stderr, f"{method}: the api_key leaked"
        response = parse_response(proc.stdout)
        outcome = "ok" if response.error is None else response.error.type.split("::")[-1]
        TIMINGS.append((method, time.monotonic() - started, outcome))
        return response

    def __call__(self, method, *arguments, **kwargs):
        response = self.raw(method, *arguments, **kwargs)
        if response.error is not None:
            tail = response.log[-3000:]
            pytest.fail(
                f"{method} failed: {response.error.type}: {response.error.message}\n--- log tail ---\n{tail}"
            )
        return response.result

    def error(self, method, *arguments, **kwargs):
        response = self.raw(method, *arguments, **kwargs)
        assert response.error is not None, f"{method} was expected to fail, answered {response.result!r}"
        return response.error


@pytest.fixture(scope="session", autouse=True)
def timing_table():
    yield
    if TIMINGS:
        rows = "\n".join(f"  {m:<30} {d:8.2f}s  {o}" for m, d, o in TIMINGS)
        print(f"\nreference CPI calls against the local cloud ({len(TIMINGS)}):\n{rows}")


@pytest.fixture(scope="module")
def cpi(localcloud_facts):
    return RefCpi(Path(localcloud_facts["cpi_json"]))


@pytest.fixture(scope="module")
def nets(os_conn):
    found = {
        name: os_conn.network.find_network(name, ignore_missing=False)
        for name in ("cfm-manual-a", "cfm-manual-b", "cfm-dynamic", "public")
    }
    return found


def free_ip(os_conn, network) -> str:
    """A random address high in the network's subnet that no port holds."""
    subnet = os_conn.network.get_subnet(network.subnet_ids[0])
    hosts = list(ipaddress.ip_network(subnet.cidr).hosts())[150:240]
    for _ in range(50):
        ip = str(random.choice(hosts))
        if not list(os_conn.network.ports(fixed_ips=f"ip_address={ip}", network_id=network.id)):
            return ip
    raise AssertionError(f"no free address in {subnet.cidr}")


def ports_holding(os_conn, networks) -> list[str]:
    """Ports that hold the static IPs of these manual networks (bound to a server or not)."""
    return [
        p.id
        for n in networks.values()
        if n.get("type", "manual") == "manual"
        for p in os_conn.network.ports(fixed_ips=f"ip_address={n['ip']}", network_id=n["cloud_properties"]["net_id"])
    ]


def manual(os_conn, network, *, default=False):
    subnet = os_conn.network.get_subnet(network.subnet_ids[0])
    cidr = ipaddress.ip_network(subnet.cidr)
    spec = {
        "type": "manual",
        "ip": free_ip(os_conn, network),
        "netmask": str(cidr.netmask),
        "gateway": subnet.gateway_ip,
        "cloud_properties": {"net_id": network.id},
    }
    if default:
        spec.update(default=["dns", "gateway"], dns=list(subnet.dns_nameservers or ["10.10.1.2"]))
    return spec


def stemcell_image(tmp_dir: Path) -> tuple[Path, dict]:
    """The stemcell's `image` and cloud_properties: the built stemcell if cached, else a blank qcow2."""
    try:
        from conformance.stemcell import build, tarball

        built = build.stemcell_path()
        if built.is_file():
            return tarball.extract_image(built, tmp_dir), tarball.read_manifest(built)["cloud_properties"]
    except ImportError:
        pass
    root = tmp_dir / "root.img"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(root), "1G"], check=True)
    image = tmp_dir / "image"
    with tarfile.open(image, "w:gz") as tar:
        tar.add(root, arcname="root.img")
    props = {
        "name": "cfm-test-stemcell",
        "version": "0.0.1",
        "disk_format": "qcow2",
        "container_format": "bare",
        "os_type": "linux",
        "os_distro": "debian",
        "architecture": "x86_64",
        "hypervisor": "qemu",
    }
    return image, props


@pytest.fixture(scope="module")
def stemcell(cpi, os_conn, tmp_path_factory):
    image, props = stemcell_image(tmp_path_factory.mktemp("stemcell"))
    cid = cpi("create_stemcell", str(image), props)
    yield cid
    cpi("delete_stemcell", cid)
    assert os_conn.image.find_image(cid, ignore_missing=True) is None, "heavy stemcell image deleted"


@pytest.fixture(scope="module")
def floating_ip(os_conn, nets):
    fip = os_conn.network.create_ip(floating_network_id=nets["public"].id, description="cfm-test-refcpi")
    yield fip
    os_conn.network.delete_ip(fip, ignore_missing=True)


@pytest.fixture(scope="module")
def vm(cpi, os_conn, nets, stemcell, floating_ip):
    """A VM on two manual networks plus the vip; deleted (and proven gone) at module end."""
    agent_id = f"cfm-test-agent-{uuid.uuid4()}"
    networks = {
        "a": manual(os_conn, nets["cfm-manual-a"], default=True),
        "b": manual(os_conn, nets["cfm-manual-b"]),
        "pub": {"type": "vip", "ip": floating_ip.floating_ip_address, "cloud_properties": {}},
    }
    cid, returned = cpi(
        "create_vm", agent_id, stemcell, {"instance_type": "cfm.tiny"}, networks, [], {}, context=STATIC
    )
    yield {"cid": cid, "agent_id": agent_id, "networks": networks, "returned": returned}
    cpi("delete_vm", cid)
    assert os_conn.compute.find_server(cid, ignore_missing=True) is None, "server gone after delete_vm"
    assert not list(os_conn.network.ports(device_id=cid)), "no port of the VM left"
    assert not ports_holding(os_conn, networks), "no pre-created port left holding a static IP"


def test_info(cpi):
    assert cpi("info") == {
        "api_version": 2,
        "stemcell_formats": ["openstack-raw", "openstack-qcow2", "openstack-light"],
    }


def test_heavy_stemcell_is_an_active_image_and_a_light_one_points_at_it(cpi, os_conn, stemcell):
    image = os_conn.image.get_image(stemcell)
    assert (image.status, image.visibility) == ("active", "private")
    light = cpi(
        "create_stemcell", "/nonexistent", {"name": "cfm-test-light", "version": "1", "image_id": stemcell}
    )
    assert light == f"{stemcell} light"
    assert cpi("delete_stemcell", light) is None
    assert os_conn.image.get_image(stemcell).status == "active", "deleting a light stemcell keeps the image"
    missing = cpi.error("create_stemcell", "/x", {"image_id": str(uuid.uuid4())})
    assert missing.type == "Bosh::Clouds::CloudError" and "No active image" in missing.message


def test_create_vm_gives_one_port_per_manual_network_and_the_floating_ip(os_conn, vm, floating_ip):
    server = os_conn.compute.get_server(vm["cid"])
    assert server.status == "ACTIVE" and server.name.startswith("vm-")
    assert server.metadata.get("agent_id") == vm["agent_id"]
    ports = {p.network_id: p for p in os_conn.network.ports(device_id=vm["cid"])}
    by_net = {net_id: {ip["ip_address"] for ip in p.fixed_ips} for net_id, p in ports.items()}
    expected = {
        n["cloud_properties"]["net_id"]: {n["ip"]} for n in vm["networks"].values() if n["type"] == "manual"
    }
    assert by_net == expected, "Neutron ports vs requested manual networks"
    returned = vm["returned"]
    assert {returned[n]["mac"] for n in ("a", "b")} == {p.mac_address for p in ports.values()}
    assert returned["a"]["use_dhcp"] is False and "use_dhcp" not in returned["pub"]
    fip = os_conn.network.get_ip(floating_ip.id)
    assert fip.port_id == ports[vm["networks"]["a"]["cloud_properties"]["net_id"]].id, (
        "vip on the gateway NIC"
    )


def test_user_data_carries_the_agent_settings(os_admin, vm):
    """Read back through the admin API (a director could not): the registry-less v2 settings."""
    settings = json.loads(base64.b64decode(os_admin.compute.get_server(vm["cid"]).user_data))
    assert settings["agent_id"] == vm["agent_id"] and settings["vm"]["name"] == settings["server"]["name"]
    assert settings["networks"]["a"]["mac"] == vm["returned"]["a"]["mac"]
    assert settings["networks"]["b"]["use_dhcp"] is False
    assert settings["disks"] == {"system": "/dev/sda", "ephemeral": None, "persistent": {}}
    assert settings["dns"] == {"nameserver": vm["networks"]["a"]["dns"]}
    assert "mbus" in settings, "the config's agent block at top level"


def test_parallel_calls_do_not_interfere(cpi, os_conn):
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        disks = list(pool.map(lambda _i: cpi("create_disk", 1024, {}, None), range(3)))
    try:
        assert len(set(disks)) == 3 and all(
            os_conn.block_storage.get_volume(d).status == "available" for d in disks
        )
    finally:
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(lambda d: cpi("delete_disk", d), disks))


def test_has_vm(cpi, vm):
    assert cpi("has_vm", vm["cid"]) is True
    assert cpi("has_vm", str(uuid.uuid4())) is False


def test_set_vm_metadata_tags_and_renames(cpi, os_conn, vm):
    cpi(
        "set_vm_metadata",
        vm["cid"],
        {"director": "cfm-test", "job": "cfm-test-job", "index": "0", "deployment": "d"},
        context={"human_readable_vm_names": True},
    )
    server = os_conn.compute.get_server(vm["cid"])
    assert server.metadata["job"] == "cfm-test-job" and server.metadata["deployment"] == "d"
    assert server.name == "cfm-test-job/0"
    err = cpi.error("set_vm_metadata", str(uuid.uuid4()), {"a": "b"})
    assert err.type == "Bosh::Clouds::VMNotFound"


def _wait_sshd(address: str, timeout: float = 240) -> None:
    """The guest has booted (sshd listens): only then does it act on an ACPI power button press.
    Nova presses it once; a press during early boot is lost and Nova falls back to a hard
    reboot after wait_soft_reboot_seconds (a BOSH Director reboots only VMs whose agent is up)."""
    from conformance.core.waiting import wait_for

    def listening():
        with socket.create_connection((address, 22), timeout=5):
            return True

    wait_for(listening, timeout=timeout, interval=2, retry_on=(OSError,), what=f"sshd on {address}:22",
             describe=lambda _r: "listening")  # fmt: skip


def test_reboot_vm_comes_back_active(cpi, os_conn, vm):
    _wait_sshd(vm["networks"]["pub"]["ip"])
    cpi("reboot_vm", vm["cid"])
    server = os_conn.compute.get_server(vm["cid"])
    assert (server.status, server.task_state) == ("ACTIVE", None)


def test_disk_lifecycle(cpi, os_conn, vm):
    disk = cpi("create_disk", 1536, {}, vm["cid"])
    try:
        volume = os_conn.block_storage.get_volume(disk)
        assert (volume.size, volume.status) == (2, "available"), "1536 MiB rounds up to 2 GiB"
        assert cpi("has_disk", disk) is True
        hint = cpi("attach_disk", vm["cid"], disk)
        assert hint in ("/dev/sdb", "/dev/sdc"), "the official CPI's sd-style hint"
        assert os_conn.block_storage.get_volume(disk).status == "in-use"
        assert cpi("get_disks", vm["cid"]) == [disk]
        resize = cpi.error("resize_disk", disk, 4096)
        assert resize.type == "Bosh::Clouds::CloudError" and "attachment" in resize.message
        cpi("set_disk_metadata", disk, {"director": "cfm-test", "instance_id": "i-1"})
        assert os_conn.block_storage.get_volume(disk).metadata["instance_id"] == "i-1"
        snapshot = cpi(
            "snapshot_disk",
            disk,
            {
                "deployment": "d",
                "job": "cfm-test-job",
                "index": 0,
                "instance_id": "i-1",
                "director_name": "cfm-test",
            },
        )
        snap = os_conn.block_storage.get_snapshot(snapshot)
        assert (
            snap.description.startswith("d/cfm-test-job/0/")
            and snap.metadata["instance_name"] == "cfm-test-job/i-1"
        )
        cpi("delete_snapshot", snapshot)
        cpi("delete_snapshot", snapshot)  # already gone: normal return
        cpi("detach_disk", vm["cid"], disk)
        cpi("detach_disk", vm["cid"], disk)  # not attached: normal return
        assert cpi("get_disks", vm["cid"]) == []
        cpi("resize_disk", disk, 4096)
        cpi("resize_disk", disk, 4000)  # rounds to the same 4 GiB: nothing to do
        assert os_conn.block_storage.get_volume(disk).size == 4
        assert cpi.error("resize_disk", disk, 1024).type == "Bosh::Clouds::NotSupported"
    finally:
        cpi.raw("detach_disk", vm["cid"], disk)
        cpi("delete_disk", disk)
    assert cpi("has_disk", disk) is False
    cpi("delete_disk", disk)  # already gone: normal return


def test_calculate_vm_cloud_properties_picks_a_fitting_flavor(cpi, os_conn):
    props = cpi("calculate_vm_cloud_properties", {"cpu": 1, "ram": 512, "ephemeral_disk_size": 1024})
    flavor = next(f for f in os_conn.compute.flavors() if f.name == props["instance_type"])
    assert flavor.vcpus >= 1 and flavor.ram >= 512 and flavor.disk >= 4, (
        "root holds 3 GiB OS + 1 GiB ephemeral"
    )
    err = cpi.error("calculate_vm_cloud_properties", {"cpu": 512, "ram": 512, "ephemeral_disk_size": 0})
    assert "Unable to meet requested VM requirements" in err.message


def test_api_v1_shapes_on_a_dynamic_network(cpi, os_conn, nets, stemcell):
    agent_id = f"cfm-test-agent-{uuid.uuid4()}"
    networks = {"d": {"type": "dynamic", "cloud_properties": {"net_id": nets["cfm-dynamic"].id}}}
    cid = cpi(
        "create_vm", agent_id, stemcell, {"instance_type": "cfm.tiny"}, networks, [], {}, api_version=None
    )
    try:
        assert isinstance(cid, str), "CPI API v1 create_vm answers the cid alone"
        disk = cpi("create_disk", 1024, {}, cid, api_version=None)
        try:
            assert cpi("attach_disk", cid, disk, api_version=None) is None, "v1 attach_disk answers null"
            cpi("detach_disk", cid, disk, api_version=None)
        finally:
            cpi("delete_disk", disk)
    finally:
        cpi("delete_vm", cid)
    cpi("delete_vm", cid)  # already gone: normal return
    assert not list(os_conn.network.ports(device_id=cid))
