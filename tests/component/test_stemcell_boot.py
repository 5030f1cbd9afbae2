"""The test stemcell boots without a cloud and its agent does what the suite relies on.

qemu (TCG, as on this machine's cloud) boots a qcow2 overlay of the built stemcell's root.img
with an OpenStack config drive (iso9660, label config-2) and two user-mode NICs that reach
nothing (restrict=on); the only way in is SSH forwarded from 127.0.0.1. The user_data gives
both NICs static addresses by MAC, as a CPI does for manual networks.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import paramiko
import pytest

from conformance.core.waiting import wait_for
from conformance.stemcell import tarball
from conformance.stemcell.build import ensure_stemcell

pytestmark = pytest.mark.component

QEMU = shutil.which("qemu-system-x86_64")
MAC_A, MAC_B = "52:54:00:c0:ff:01", "52:54:00:c0:ff:02"
SSH_READY_TIMEOUT = 600.0


@pytest.fixture(scope="module")
def root_img(tmp_path_factory) -> Path:
    if not QEMU:
        pytest.skip("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    if os.geteuid() != 0:
        pytest.skip("building the stemcell needs root")
    stemcell = ensure_stemcell(progress=lambda line: print(line, flush=True))
    work = tmp_path_factory.mktemp("stemcell")
    return tarball.extract_root_image(tarball.extract_image(stemcell, work), work)


def _settings(agent_id: str) -> dict:
    return {
        "agent_id": agent_id,
        "vm": {"name": f"vm-{agent_id}"},
        "networks": {
            "first": {
                "type": "manual",
                "ip": "10.0.2.15",
                "netmask": "255.255.255.0",
                "gateway": "10.0.2.2",
                "dns": ["10.0.2.3"],
                "default": ["dns", "gateway"],
                "mac": MAC_A,
                "use_dhcp": False,
                "cloud_properties": {},
            },
            "second": {
                "type": "manual",
                "ip": "10.0.3.20",
                "netmask": "255.255.255.0",
                "gateway": "10.0.3.2",
                "dns": [],
                "mac": MAC_B,
                "use_dhcp": False,
                "cloud_properties": {},
            },
        },
        "disks": {"system": "/dev/vda", "ephemeral": None, "persistent": {}},
        "env": {"bosh": {"group": "conformance"}},
    }


def _config_drive(dest: Path, fmt: str, agent_id: str, public_key: str) -> dict[str, bytes]:
    """An OpenStack config drive as Nova writes it (openstack/ and ec2/ views, iso9660 or vfat,
    label config-2) at dest/config.<fmt>; returns its files."""
    user_data = json.dumps(_settings(agent_id)).encode()
    files = {
        "openstack/latest/meta_data.json": json.dumps(
            {
                "uuid": agent_id,
                "name": f"vm-{agent_id}",
                "hostname": "from-metadata",
                "public_keys": {"conformance": public_key},
                "meta": {"role": "test"},
            }
        ).encode(),
        "openstack/latest/user_data": user_data,
        "openstack/latest/network_data.json": json.dumps(
            {"links": [], "networks": [], "services": []}
        ).encode(),
        "ec2/latest/user-data": user_data,
        "ec2/latest/meta-data.json": json.dumps(
            {"instance-id": agent_id, "public-keys": {"0": {"openssh-key": public_key}}}
        ).encode(),
    }
    tree = dest / "config-drive"
    for name, data in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(data)
    image = dest / f"config.{fmt}"
    if fmt == "iso9660":
        subprocess.run(
            ["genisoimage", "-quiet", "-J", "-r", "-V", "config-2", "-o", str(image), str(tree)], check=True
        )
    else:  # the host kernel has no vfat: mtools writes the file system without mounting it
        subprocess.run(
            ["mkfs.vfat", "-n", "config-2", "-C", str(image), "16384"], check=True, capture_output=True
        )
        subprocess.run(
            ["mcopy", "-s", "-i", str(image), str(tree / "openstack"), str(tree / "ec2"), "::/"], check=True
        )
    return files


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config_drive_args(work: Path, fmt: str) -> list[str]:
    """Nova's two config_drive modes: a cdrom (iso9660) or one more virtio disk (vfat)."""
    if fmt == "iso9660":
        return ["-drive", f"file={work / 'config.iso9660'},media=cdrom,if=ide,readonly=on"]
    return ["-drive", f"file={work / 'config.vfat'},if=virtio,format=raw,readonly=on"]


def _start_qemu(work: Path, root_img: Path, port: int, fmt: str) -> subprocess.Popen:
    """TCG, 512 MiB, no default devices (as libvirt starts it); serial console to a file."""
    overlay, blank = work / "overlay.qcow2", work / "persistent.raw"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(root_img), str(overlay)],
        check=True,
    )
    blank.write_bytes(b"")
    os.truncate(blank, 64 * 2**20)  # a blank "persistent disk": vdb, which the agent must leave alone
    machine = "-nodefaults -accel tcg -m 512 -smp 1 -nographic -monitor none".split()
    disks = [
        "-drive",
        f"file={overlay},if=virtio,format=qcow2",
        "-drive",
        f"file={blank},if=virtio,format=raw",
    ]
    nics = [
        *("-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:22"),
        *("-device", f"virtio-net-pci,netdev=n0,mac={MAC_A}"),
        *("-netdev", "user,id=n1,restrict=on,net=10.0.3.0/24"),
        *("-device", f"virtio-net-pci,netdev=n1,mac={MAC_B}"),
    ]
    return subprocess.Popen(
        [
            QEMU,
            *machine,
            "-serial",
            f"file:{work / 'console.log'}",
            *disks,
            *_config_drive_args(work, fmt),
            *nics,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(work / "qemu.err", "w"),
    )


def _connect(port: int, key: paramiko.PKey, qemu: subprocess.Popen) -> paramiko.SSHClient:
    if qemu.poll() is not None:
        raise RuntimeError(f"qemu exited with {qemu.returncode} before SSH came up")
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # a fresh throwaway VM
    try:
        client.connect(
            "127.0.0.1",
            port=port,
            username="vcap",
            pkey=key,
            timeout=5,
            banner_timeout=10,
            auth_timeout=10,
            allow_agent=False,
            look_for_keys=False,
        )
    except BaseException:
        client.close()
        raise
    return client


def _run(client: paramiko.SSHClient, command: str) -> str:
    _, stdout, stderr = client.exec_command(command, timeout=60)
    status = stdout.channel.recv_exit_status()
    out = stdout.read().decode()
    assert status == 0, f"`{command}` exited {status}: {stderr.read().decode()}"
    return out


@pytest.fixture(scope="module", params=["iso9660", "vfat"])
def guest(request, root_img, tmp_path_factory):
    """A booted stemcell VM: (ssh client, the config drive files, agent_id, boot-to-SSH seconds)."""
    fmt = request.param
    if fmt == "vfat" and not (shutil.which("mkfs.vfat") and shutil.which("mcopy")):
        pytest.skip("a vfat config drive needs mkfs.vfat and mcopy (apt-get install dosfstools mtools)")
    work = tmp_path_factory.mktemp(f"vm-{fmt}")
    key, agent_id, port = paramiko.RSAKey.generate(2048), str(uuid.uuid4()), _free_port()
    files = _config_drive(work, fmt, agent_id, f"ssh-rsa {key.get_base64()} conformance-test")
    started = time.monotonic()
    qemu = _start_qemu(work, root_img, port, fmt)
    try:
        client = wait_for(
            lambda: _connect(port, key, qemu),
            timeout=SSH_READY_TIMEOUT,
            interval=2,
            what=f"SSH as vcap on 127.0.0.1:{port}",
            retry_on=(paramiko.SSHException, OSError, EOFError),
        )
        boot_to_ssh = time.monotonic() - started
        print(f"\nstemcell boot-to-SSH under TCG ({fmt} config drive): {boot_to_ssh:.1f}s")
        yield client, files, agent_id, boot_to_ssh
        client.close()
    finally:
        qemu.kill()
        qemu.wait(timeout=30)
        console = (work / "console.log").read_text(errors="replace")
        print(
            "agent lines on the console:\n"
            + "\n".join(line for line in console.splitlines() if "conformance-agent" in line)
        )


def _addresses_by_mac(client) -> dict[str, set[str]]:
    links = json.loads(_run(client, "ip -j addr show"))
    return {
        link["address"]: {
            f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"] if a["family"] == "inet"
        }
        for link in links
        if link.get("link_type") == "ether"
    }


def test_agent_configures_static_ips_on_the_nics_by_mac(guest):
    """Each manual network with use_dhcp false MUST get its IP on the NIC with its MAC, and the
    network carrying the default gateway MUST hold the default route."""
    client, _, _, _ = guest

    assert _addresses_by_mac(client) == {MAC_A: {"10.0.2.15/24"}, MAC_B: {"10.0.3.20/24"}}, (
        "IPv4 addresses per NIC MAC"
    )
    assert _run(client, "ip -4 route show default").split()[:3] == ["default", "via", "10.0.2.2"]
    assert "nameserver 10.0.2.3" in _run(client, "cat /etc/resolv.conf").splitlines()


def test_hostname_is_the_agent_id(guest):
    """The agent MUST set the hostname to the agent_id from the settings."""
    client, _, agent_id, _ = guest

    assert _run(client, "hostname").strip() == agent_id


def test_config_drive_files_are_readable_by_vcap(guest):
    """Both config drive views MUST be readable by vcap under /var/vcap/bosh/config-drive."""
    client, files, _, _ = guest

    seen = {name: _run(client, f"cat /var/vcap/bosh/config-drive/{name}").encode() for name in files}

    assert seen == files, "config drive files as seen by vcap"


def test_settings_json_is_the_user_data(guest):
    """/var/vcap/bosh/settings.json MUST hold the agent settings from user_data."""
    client, files, _, _ = guest

    settings = json.loads(_run(client, "cat /var/vcap/bosh/settings.json"))

    assert settings == json.loads(files["openstack/latest/user_data"])


def test_agent_is_ready_vcap_has_sudo_and_the_persistent_disk_is_untouched(guest):
    """The agent MUST announce readiness, give vcap passwordless sudo, and leave vdb alone."""
    client, _, _, _ = guest

    assert _run(client, "test -s /var/vcap/bosh/agent-ready && sudo -n id -u").strip() == "0"
    assert _run(client, "lsblk -rno FSTYPE,MOUNTPOINT /dev/vdb").strip() == "", "vdb: no fs, not mounted"
    assert "conformance-agent: " in _run(client, "cat /var/log/conformance-agent.log")
