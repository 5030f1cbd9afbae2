"""The guest witness against a real sshd in a network namespace we create for the test.

The namespace gets one end of a veth pair with 10.251.<random>.2/30 and a default route via
the host end (.1); the host does not forward (the route ends on this machine). sshd runs in the
namespace with a temporary host key and lets root in with a temporary key, nothing else. The
"guest" is therefore this machine seen from the namespace: its disks, its boot id, its tools.
"""

from __future__ import annotations

import ipaddress
import os
import random
import secrets
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
import pytest

from conformance.core.errors import GuestCommandFailed, WaitTimeout
from conformance.guest import GuestCommandTimeout, GuestKeyError, connect

pytestmark = pytest.mark.component

SSHD = "/usr/sbin/sshd"


def _sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def _ensure_tool(path: str, package: str) -> None:
    """Install a missing Debian package (root only); skip with the reason when that fails."""
    if shutil.which(path):
        return
    result = subprocess.run(["apt-get", "install", "-y", "-q", package], capture_output=True, text=True,
                            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if result.returncode != 0 or not shutil.which(path):
        pytest.skip(f"{path} is missing and `apt-get install {package}` failed: {result.stderr.strip()[-200:]}")


@dataclass
class Netns:
    """The namespace, its veth pair, the sshd (started on demand) and the keys to log in."""

    tmp: Path
    name: str = field(default_factory=lambda: f"cfm-guest-{secrets.token_hex(3)}")
    octet: int = field(default_factory=lambda: random.randrange(256))
    sshd: subprocess.Popen | None = None

    @property
    def host_veth(self) -> str:
        return f"cfg{self.name[-6:]}h"

    @property
    def ns_veth(self) -> str:
        return f"cfg{self.name[-6:]}g"

    @property
    def host_ip(self) -> str:
        return f"10.251.{self.octet}.1"

    @property
    def guest_ip(self) -> str:
        return f"10.251.{self.octet}.2"

    @property
    def key_path(self) -> str:
        return str(self.tmp / "id_rsa")

    def create(self) -> None:
        _sh("ip", "netns", "add", self.name)
        _sh("ip", "link", "add", self.host_veth, "type", "veth", "peer", "name", self.ns_veth, "netns", self.name)
        _sh("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_veth)
        _sh("ip", "link", "set", self.host_veth, "up")
        for args in (("addr", "add", f"{self.guest_ip}/30", "dev", self.ns_veth), ("link", "set", self.ns_veth, "up"),
                     ("link", "set", "lo", "up"), ("route", "add", "default", "via", self.host_ip),
                     ("route", "add", "unreachable", "198.51.100.7/32")):
            _sh("ip", "-n", self.name, *args)
        self.mac = _sh("ip", "-n", self.name, "-br", "link", "show", self.ns_veth).split()[2].lower()

    def write_config(self) -> None:
        _sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.tmp / "host_key"))
        key = paramiko.RSAKey.generate(2048)
        key.write_private_key_file(self.key_path)
        (self.tmp / "authorized_keys").write_text(f"ssh-rsa {key.get_base64()} cfm-guest-test\n")
        (self.tmp / "sshd_config").write_text(
            f"ListenAddress {self.guest_ip}:22\nHostKey {self.tmp / 'host_key'}\nPidFile {self.tmp / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.tmp / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        )
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        _sh(SSHD, "-t", "-f", str(self.tmp / "sshd_config"))

    def start_sshd(self) -> None:
        if self.sshd is None:  # `ip netns exec` execs sshd in place: the Popen pid is sshd's
            self.sshd = subprocess.Popen(["ip", "netns", "exec", self.name, SSHD, "-D", "-e", "-f",
                                          str(self.tmp / "sshd_config")], stderr=open(self.tmp / "sshd.log", "w"))

    def host_key_fingerprint(self) -> str:
        return _sh("ssh-keygen", "-l", "-f", str(self.tmp / "host_key.pub")).split()[1]

    def destroy(self) -> None:
        if self.sshd is not None:
            self.sshd.terminate()
            self.sshd.wait(timeout=10)
        subprocess.run(["ip", "link", "del", self.host_veth], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


@pytest.fixture(scope="module")
def netns(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root: creates a network namespace, a veth pair and an sshd")
    _ensure_tool(SSHD, "openssh-server")
    _ensure_tool("ping", "iputils-ping")
    ns = Netns(tmp_path_factory.mktemp("guest-ssh"))
    try:
        ns.create()
        ns.write_config()
        yield ns
    finally:
        ns.destroy()


@pytest.fixture
def guest(netns):
    netns.start_sshd()
    with connect(netns.guest_ip, "root", key_path=netns.key_path, timeout=30, interval=0.5,
                 command_timeout=20) as session:
        yield session


def test_connect_retries_until_sshd_listens(netns):
    """connect() keeps trying while nothing listens and succeeds once sshd is up; it records
    the host key's fingerprint in OpenSSH's form."""
    if netns.sshd is not None:
        pytest.skip("sshd already started by an earlier test (run this test first or alone)")
    outcome: dict = {}

    def dial() -> None:
        try:
            outcome["session"] = connect(netns.guest_ip, "root", key_path=netns.key_path, timeout=60, interval=0.5)
        except Exception as exc:  # reported by the assertion below
            outcome["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=dial)
    thread.start()
    time.sleep(3)
    netns.start_sshd()
    thread.join(90)

    assert "error" not in outcome, outcome.get("error")
    with outcome["session"] as session:
        assert time.monotonic() - started >= 3, "connected before sshd was started?"
        assert session.host_key_fingerprint == netns.host_key_fingerprint()
        assert session.run("echo up").stdout == "up\n"


def test_run_returns_output_and_exit_status(guest):
    result = guest.run("echo out; echo err >&2; exit 3", check=False)

    assert (result.stdout, result.stderr, result.exit_status) == ("out\n", "err\n", 3)


def test_output_written_after_the_exit_status_is_not_lost(guest):
    # sshd sends the exit status when the command exits; output still on its way (here from a
    # child that outlives the command by 0.3 s) follows it. A reader that stops at the status
    # loses that tail: CI once saw `ping:` for `ping: connect: No route to host`.
    result = guest.run("(sleep 0.3; echo late-out; echo late-err >&2) & exit 3", check=False)

    assert (result.stdout, result.stderr, result.exit_status) == ("late-out\n", "late-err\n", 3)


def test_a_background_child_holding_the_output_open_does_not_hang_the_command(guest):
    started = time.monotonic()
    result = guest.run("sleep 30 & echo parent", timeout=20)

    assert (result.stdout, result.exit_status) == ("parent\n", 0)
    assert time.monotonic() - started < 15, "waited for the background child, not for the command"


def test_run_with_check_raises_guest_command_failed_with_the_evidence(guest, netns):
    with pytest.raises(GuestCommandFailed) as caught:
        guest.run("echo partial; echo broken >&2; exit 7")

    failure = caught.value
    assert (failure.host, failure.command, failure.exit_status) == (netns.guest_ip, "echo partial; echo broken >&2; exit 7", 7)
    assert (failure.stdout, failure.stderr) == ("partial\n", "broken\n")
    assert "broken" in str(failure) and netns.guest_ip in str(failure)


def test_sudo_runs_the_whole_command_line_as_root(guest):
    assert guest.run("id -u && id -u", sudo=True).stdout == "0\n0\n"


def test_files_round_trip_through_stdin_with_any_content(guest, netns):
    path = str(netns.tmp / "it's a file.txt")
    content = "line 1\n'quotes' \"and\" $dollars `ticks`\nünïcode ✓\n" * 200

    guest.write_file(path, content, sudo=True)

    assert guest.read_file(path) == content
    assert Path(path).read_text() == content


def test_a_hung_command_times_out_naming_command_and_host(guest, netns):
    started = time.monotonic()
    with pytest.raises(GuestCommandTimeout) as caught:
        guest.run("echo started; sleep 100", timeout=2)

    assert 2 <= time.monotonic() - started < 6
    assert (caught.value.command, caught.value.host, caught.value.stdout) == ("echo started; sleep 100", netns.guest_ip,
                                                                               "started\n")
    assert "sleep 100" in str(caught.value) and netns.guest_ip in str(caught.value)
    assert guest.run("echo still usable").stdout == "still usable\n", "the session survives a timed-out command"


def test_command_timeout_is_the_default_for_every_command(netns):
    netns.start_sshd()
    with connect(netns.guest_ip, "root", key_path=netns.key_path, timeout=30, command_timeout=1) as session:
        with pytest.raises(GuestCommandTimeout):
            session.run("sleep 10")


def test_interfaces_gateway_and_addresses_are_the_namespace_view(guest, netns):
    assert guest.interfaces() == {netns.mac: [ipaddress.IPv4Interface(f"{netns.guest_ip}/30")]}
    assert guest.ipv4_addresses() == {netns.guest_ip}
    assert guest.default_gateway() == netns.host_ip


def test_identity_is_the_host_seen_from_the_namespace(guest):
    assert guest.boot_id() == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert guest.hostname() == os.uname().nodename


def test_block_devices_list_the_disks(guest):
    devices = guest.block_devices()

    assert [d for d in devices if d.type == "disk" and d.size_bytes > 0], devices
    assert guest.device_for_volume("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0") is None


def test_ping_from_inside_the_guest(guest, netns):
    assert guest.ping(netns.host_ip, count=2, timeout=5) is True
    assert guest.ping("198.51.100.7", count=1, timeout=2) is False, "unreachable route in the namespace"


def test_a_wrong_key_times_out_naming_the_target_and_never_the_key(netns):
    netns.start_sshd()
    wrong = paramiko.RSAKey.generate(2048)
    wrong_path = netns.tmp / "wrong_key"
    wrong.write_private_key_file(str(wrong_path))

    with pytest.raises(WaitTimeout) as caught:
        connect(netns.guest_ip, "root", key_path=str(wrong_path), timeout=3, interval=0.5)

    message = str(caught.value)
    assert f"SSH to root@{netns.guest_ip}:22" in message and "AuthenticationException" in message, message
    key_lines = wrong_path.read_text().splitlines()[1:-1] + [wrong.get_base64()[:40]]
    assert not [line for line in key_lines if line in message], "key material in the error"


def test_nothing_listening_times_out_with_the_last_error(netns):
    with pytest.raises(WaitTimeout) as caught:
        connect(netns.guest_ip, "root", key_path=netns.key_path, port=2222, timeout=2, interval=0.5)

    assert caught.value.what == f"SSH to root@{netns.guest_ip}:2222"
    assert "NoValidConnectionsError" in (caught.value.last_error or ""), caught.value.last_error


def test_an_unreadable_key_fails_at_once_naming_only_the_path(netns):
    started = time.monotonic()
    with pytest.raises(GuestKeyError, match="no such file"):
        connect(netns.guest_ip, "root", key_path=str(netns.tmp / "missing"), timeout=30)
    assert time.monotonic() - started < 1


@pytest.fixture
def loop_device(netns):
    """``attach(image)`` -> a loop device backed by the image file; detached (and unmounted)
    after the test. The host kernel has ext4 but neither iso9660 nor vfat: config drives made
    here are ext4 with the label config-2, which exercises the same find/mount/read path."""
    attached: list[str] = []

    def attach(image: Path) -> str:
        result = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"no loop device: {result.stderr.strip()}")
        attached.append(result.stdout.strip())
        return attached[-1]

    yield attach
    for device in attached:
        subprocess.run(["umount", device], capture_output=True)
        subprocess.run(["losetup", "-d", device], capture_output=True)


def _ext4_image(path: Path, size_mib: int, label: str = "", tree: Path | None = None) -> Path:
    args = ["mkfs.ext4", "-q", "-F", *(["-L", label] if label else []), *(["-d", str(tree)] if tree else [])]
    subprocess.run([*args, str(path), f"{size_mib}M"], check=True, capture_output=True)
    return path


def _config_drive_tmp_mounts() -> list[str]:
    return [line for line in Path("/proc/mounts").read_text().splitlines() if "cfm-config-drive" in line]


def test_config_drive_is_found_by_label_read_read_only_and_unmounted(guest, netns, loop_device):
    from conformance.guest import ConfigDriveError

    with pytest.raises(ConfigDriveError, match="no file system labelled config-2") as caught:
        guest.config_drive()
    assert "NAME" in caught.value.detail, "the error shows what lsblk saw"

    tree = netns.tmp / "drive"
    settings = '{"agent_id": "a-1", "networks": {}}'
    for name, text in {"openstack/latest/meta_data.json": '{"uuid": "u-1", "name": "vm"}',
                       "openstack/latest/user_data": settings, "ec2/latest/user-data": settings,
                       "openstack/2012-08-10/meta_data.json": "{}"}.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    image = _ext4_image(netns.tmp / "config-2.img", 4, "config-2", tree)
    before = image.read_bytes()
    device = loop_device(image)

    drive = guest.config_drive()

    assert (drive.device, drive.label, drive.fstype) == (device, "config-2", "ext4")
    assert drive.meta_data == {"uuid": "u-1", "name": "vm"} and drive.user_data == drive.ec2_user_data
    assert drive.network_data is None and "openstack/latest/network_data.json" not in drive.files
    assert "openstack/2012-08-10/meta_data.json" in drive.listing
    assert image.read_bytes() == before, "mounted read-only: not one byte of the image changed"
    assert _config_drive_tmp_mounts() == [] and not list(Path("/tmp").glob("cfm-config-drive.*"))


def test_format_mount_write_size_and_unmount_a_disk(guest, netns, loop_device):
    device = loop_device(_ext4_image(netns.tmp / "disk.img", 32))
    mountpoint = str(netns.tmp / "mnt")

    guest.format_and_mount(device, mountpoint)
    guest.write_file(f"{mountpoint}/token", "t-123\n", sudo=True)
    assert guest.read_file(f"{mountpoint}/token", sudo=True) == "t-123\n"
    guest.unmount(mountpoint)

    assert guest.filesystem_size_bytes(device) == 32 * 2**20
    assert mountpoint not in Path("/proc/mounts").read_text()


def test_a_connection_that_dies_mid_command_is_lost_not_a_failed_command(netns):
    from conformance.guest import GuestConnectionLost

    netns.start_sshd()
    session = connect(netns.guest_ip, "root", key_path=netns.key_path, timeout=30, command_timeout=10)
    with pytest.raises(GuestConnectionLost, match="kill -9"):
        session.run("kill -9 $PPID; sleep 5")  # the session's own sshd process: no exit status ever comes
    with pytest.raises(GuestConnectionLost, match="closed"):
        session.close() or session.run("true")


def test_a_command_killed_by_a_signal_fails_with_no_exit_status(guest):
    result = guest.run("kill -9 $$", check=False)

    assert result.exit_status == -1, "sshd reports a signal, not an exit status"
    assert guest.run("echo alive").stdout == "alive\n"
