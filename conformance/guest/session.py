"""The guest witness: wait for SSH, then ask the booted guest what it sees.

    with connect("10.0.0.5", user="vcap", key_path=key, timeout=300, interval=2) as guest:
        guest.interfaces()       # {"fa:16:3e:..": [IPv4Interface("10.0.0.5/24")]}
        guest.config_drive()     # what the VM read at boot

Every timeout is an argument (the profile's names are bound in conformance.run.lab), and every
command runs under one: ``command_timeout`` unless the call gives its own.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

import paramiko

from conformance.core import waiting
from conformance.core.errors import GuestCommandFailed
from conformance.core.waiting import wait_for
from conformance.guest import configdrive, probes
from conformance.guest.errors import GuestOutputError
from conformance.guest.ssh import RETRY_ON, CommandResult, execute, fingerprint, load_key, open_client

# What ping says (exit 2) when the guest has no way to the address: a "no", not a broken probe.
_NO_ROUTE = ("unreachable", "no route to host")


#: Seconds between SSH attempts on a booting guest, and of an attempt's TCP connect (two SYNs).
SSH_POLL = 1.0
CONNECT_TIMEOUT = 2.0


def connect(
    host: str,
    user: str = "vcap",
    *,
    key_path: str,
    port: int = 22,
    timeout: float = 300.0,
    interval: float = 2.0,
    command_timeout: float = 60.0,
    on_progress: Callable[[str], Any] | None = None,
    passphrase: str | None = None,
    attempt_timeout: float = 10.0,
) -> GuestSession:
    """Wait until ``user@host:port`` accepts the key, with a growing back-off capped at 10s.

    Refused connections, hang-ups and rejected keys are retried until ``timeout`` (a booting
    guest shows each of them); the WaitTimeout then names user@host:port and the last error.
    """
    key = load_key(key_path, passphrase)
    # A steady short poll, and a short TCP connect per attempt: a refused or unanswered connect to a
    # guest still booting costs nothing to retry, and a growing back-off (or a 10 s connect that
    # hangs on an address not up yet) made a guest that came up just after an attempt wait up to
    # 10 s more for nothing (issue 15). The banner and auth keep the whole attempt_timeout.
    client = wait_for(
        lambda: open_client(host, port, user, key, min(attempt_timeout, timeout),
                            connect_timeout=min(CONNECT_TIMEOUT, attempt_timeout, timeout)),
        describe=lambda _client: "connected",
        timeout=timeout,
        interval=min(interval, SSH_POLL),
        kind="guest",
        what=f"SSH to {user}@{host}:{port}",
        retry_on=RETRY_ON,
        on_progress=on_progress,
    )
    return GuestSession(client, host, user=user, port=port, command_timeout=command_timeout)


class GuestSession:
    """One SSH connection to one guest. A context manager: leaving it closes the connection."""

    def __init__(self, client: paramiko.SSHClient, host: str, *, user: str, port: int, command_timeout: float):
        self._client = client
        self.host, self.user, self.port = host, user, port
        self.command_timeout = command_timeout
        transport = client.get_transport()
        self.host_key_fingerprint = fingerprint(transport.get_remote_server_key())

    def __enter__(self) -> GuestSession:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<GuestSession {self.user}@{self.host}:{self.port} {self.host_key_fingerprint}>"

    def close(self) -> None:
        with waiting.spent("guest"):  # paramiko says goodbye to the guest and joins its thread
            self._client.close()

    # -- commands ---------------------------------------------------------------------------
    def run(
        self,
        command: str,
        timeout: float | None = None,
        sudo: bool = False,
        check: bool = True,
        stdin: str | bytes | None = None,
    ) -> CommandResult:
        """Run a shell command; ``sudo`` runs the whole of it as root (``sudo -n``: never waits
        for a password). ``check`` raises GuestCommandFailed on a non-zero exit, and a command
        killed by a signal has exit_status -1."""
        as_root = sudo and self.user != "root"  # root needs no sudo (and a guest may lack it)
        wire = f"sudo -n sh -c {shlex.quote(command)}" if as_root else command
        label = f"sudo {command}" if sudo else command
        data = stdin.encode() if isinstance(stdin, str) else stdin
        transport = self._client.get_transport()
        with waiting.spent("guest"):
            result = execute(transport, self.host, wire, label, timeout or self.command_timeout, data)
        if check and not result.ok:
            raise GuestCommandFailed(self.host, label, result.exit_status, result.stdout, result.stderr)
        return result

    def read_file(self, path: str, sudo: bool = False) -> str:
        return self.run(f"cat -- {shlex.quote(path)}", sudo=sudo).stdout

    def write_file(self, path: str, content: str | bytes, sudo: bool = False) -> None:
        """Write ``content`` to ``path`` (replacing it), sent on stdin: no size limit, no quoting."""
        self.run(f"cat > {shlex.quote(path)}", sudo=sudo, stdin=content)

    def _parse(self, command: str, output: str, parser: Callable[..., Any], *more: str) -> Any:
        try:
            return parser(output, *more)
        except (ValueError, KeyError, TypeError) as exc:
            raise GuestOutputError(self.host, command, str(exc), output) from exc

    # -- identity ---------------------------------------------------------------------------
    def boot_id(self) -> str:
        """Changes on every boot: how a reboot is told apart from a still-running guest."""
        return self.read_file("/proc/sys/kernel/random/boot_id").strip()

    def hostname(self) -> str:
        return self.run("hostname").stdout.strip()

    # -- network ----------------------------------------------------------------------------
    def interfaces(self) -> probes.Interfaces:
        """{MAC (lower case): [IPv4 addresses with prefix]} for every NIC but loopback."""
        result = self.run("ip -j addr show", check=False)
        if result.ok and result.stdout.strip():
            try:
                return probes.parse_ip_addr_json(result.stdout)
            except (ValueError, KeyError, TypeError):
                pass  # an ip whose JSON is broken: read the text form below
        addresses = self.run("ip -o addr show").stdout
        macs = self.run("grep -H . /sys/class/net/*/address").stdout
        return self._parse("ip -o addr show", addresses, probes.parse_ip_addr_oneline, macs)

    def ipv4_addresses(self) -> set[str]:
        return {str(i.ip) for addresses in self.interfaces().values() for i in addresses}

    def default_gateway(self) -> str | None:
        result = self.run("ip -j route show default", check=False)
        if result.ok:
            return self._parse("ip -j route show default", result.stdout, probes.parse_default_gateway_json)
        text = self.run("ip route show default").stdout
        return self._parse("ip route show default", text, probes.parse_default_gateway_text)

    def ping(self, address: str, count: int = 3, timeout: float = 10.0) -> bool:
        """Whether ``address`` answers ICMP echo from inside the guest within ``timeout``.

        No reply or an unreachable network is False; a guest without ping, or any other ping
        failure, raises GuestCommandFailed: that is a broken probe, not an unreachable host."""
        command = f"ping -n -c {int(count)} -W 1 -w {max(int(timeout), 1)} {shlex.quote(address)}"
        result = self.run(command, timeout=timeout + 10.0, check=False)
        if result.exit_status in (0, 1):
            return result.ok
        said = (result.stdout + result.stderr).lower()
        if result.exit_status == 2 and any(text in said for text in _NO_ROUTE):
            return False
        raise GuestCommandFailed(self.host, command, result.exit_status, result.stdout, result.stderr)

    # -- disks ------------------------------------------------------------------------------
    def block_devices(self) -> list[probes.BlockDevice]:
        command = "lsblk -J -b -o NAME,SIZE,SERIAL,TYPE"
        return self._parse(command, self.run(command).stdout, probes.parse_lsblk_json)

    def device_for_volume(self, volume_id: str) -> str | None:
        """The guest's device for a Cinder volume: /dev/disk/by-id/virtio-<serial> resolved, or
        the disk whose lsblk serial is the volume's; None while it is not attached."""
        link = shlex.quote(f"/dev/disk/by-id/virtio-{probes.virtio_serial(volume_id)}")
        found = self.run(f"if [ -e {link} ]; then readlink -f {link}; fi").stdout.strip()
        if found:
            return found
        serial = probes.virtio_serial(volume_id)
        return next((d.path for d in self.block_devices() if d.serial and d.serial[:20] == serial), None)

    def filesystem_size_bytes(self, device: str) -> int:
        """The size of the whole device in bytes (what the cloud says the disk holds)."""
        command = f"lsblk -b -n -d -o SIZE {shlex.quote(device)}"
        return self._parse(command, self.run(command).stdout, probes.parse_size)

    def format_and_mount(self, device: str, mountpoint: str) -> None:
        """Make an ext4 file system on ``device`` (destroying what is there) and mount it."""
        dev, mnt = shlex.quote(device), shlex.quote(mountpoint)
        self.run(f"mkfs.ext4 -F -q {dev} && mkdir -p {mnt} && mount {dev} {mnt}", sudo=True)

    def unmount(self, mountpoint: str) -> None:
        self.run(f"sync && umount {shlex.quote(mountpoint)}", sudo=True)

    # -- config drive -----------------------------------------------------------------------
    def config_drive(self, timeout: float | None = None) -> configdrive.ConfigDrive:
        """The drive labelled config-2, read through a temporary read-only mount."""
        return configdrive.read(self, timeout=timeout)

