"""The test stemcell boots without a cloud and its agent does what the suite relies on.

qemu (TCG, as on this machine's cloud) boots a qcow2 overlay of the built stemcell's root.img
with an OpenStack config drive (iso9660 cdrom or vfat disk, label config-2) and two user-mode NICs
that reach nothing (restrict=on); the only way in is SSH forwarded from 127.0.0.1. The user_data
gives both NICs static addresses by MAC, as a CPI does for manual networks
(conformance/stemcell/localboot.py, shared with scripts/bench-stemcell-boot).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import paramiko
import pytest

from conformance.stemcell import localboot, tarball
from conformance.stemcell.build import ensure_stemcell

pytestmark = pytest.mark.component

MAC_A, MAC_B = localboot.MAC_A, localboot.MAC_B
SSH_READY_TIMEOUT = 600.0


@pytest.fixture(scope="module")
def root_img(tmp_path_factory) -> Path:
    if not localboot.QEMU:
        pytest.skip("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    if os.geteuid() != 0:
        pytest.skip("building the stemcell needs root")
    stemcell = ensure_stemcell(progress=lambda line: print(line, flush=True))
    work = tmp_path_factory.mktemp("stemcell")
    return tarball.extract_root_image(tarball.extract_image(stemcell, work), work)


def _run(client: paramiko.SSHClient, command: str) -> str:
    _, stdout, stderr = client.exec_command(command, timeout=60)
    status = stdout.channel.recv_exit_status()
    out = stdout.read().decode()
    assert status == 0, f"`{command}` exited {status}: {stderr.read().decode()}"
    return out


def needs_vfat_tools(fmt: str) -> None:
    if fmt == "vfat" and not (shutil.which("mkfs.vfat") and shutil.which("mcopy")):
        pytest.skip("a vfat config drive needs mkfs.vfat and mcopy (apt-get install dosfstools mtools)")


@pytest.fixture(scope="module", params=["iso9660", "vfat"])
def guest(request, root_img, tmp_path_factory):
    """A booted stemcell VM: (ssh client, the config drive files, agent_id, boot-to-SSH seconds)."""
    fmt = request.param
    needs_vfat_tools(fmt)
    work = tmp_path_factory.mktemp(f"vm-{fmt}")
    key, agent_id = paramiko.RSAKey.generate(2048), str(uuid.uuid4())
    files = localboot.write_config_drive(work, fmt, agent_id, f"ssh-rsa {key.get_base64()} conformance-test")
    vm = localboot.LocalVM.start(work, root_img, fmt)
    try:
        client = vm.wait_for_ssh(key, timeout=SSH_READY_TIMEOUT)
        boot_to_ssh = time.monotonic() - vm.started
        print(f"\nstemcell boot-to-SSH under TCG ({fmt} config drive): {boot_to_ssh:.1f}s")
        yield client, files, agent_id, boot_to_ssh
        client.close()
    finally:
        console = vm.stop()
        print("agent lines on the console:\n" + "\n".join(localboot.console_lines(console)))


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
