"""Boot a stemcell's root.img on this machine, without a cloud: qemu under TCG (as the local
cloud runs its guests), an OpenStack config drive, two user-mode NICs that reach nothing.

    work = Path(...)
    key = paramiko.Ed25519Key... / RSAKey.generate(2048)
    files = write_config_drive(work, "iso9660", agent_id, f"ssh-rsa {key.get_base64()} x")
    vm = LocalVM.start(work, root_img, "iso9660")       # qemu starts; vm.started is its monotonic time
    client = vm.wait_for_ssh(key, timeout=600)          # paramiko client as vcap
    vm.stop()

The config drive is what Nova writes (openstack/ and ec2/ views, iso9660 cdrom or vfat disk,
label config-2) with BOSH agent settings in user_data that give both NICs static addresses by
MAC, as a CPI does for manual networks. The serial console goes to work/console.log; a watcher
thread stamps each line with the host's monotonic clock when it appears (boot phase figures).
Used by the component tests of the stemcell and by scripts/bench-stemcell-boot.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from conformance.core.waiting import wait_for

QEMU = shutil.which("qemu-system-x86_64")
MAC_A, MAC_B = "52:54:00:c0:ff:01", "52:54:00:c0:ff:02"
PERSISTENT_BYTES = 64 * 2**20


def settings(agent_id: str) -> dict:
    """BOSH agent settings: two manual networks with static IPs by MAC, the first with the default
    gateway and DNS, as the user-mode NICs' networks (10.0.2.0/24 and 10.0.3.0/24) are."""
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


def write_config_drive(dest: Path, fmt: str, agent_id: str, public_key: str) -> dict[str, bytes]:
    """An OpenStack config drive as Nova writes it at dest/config.<fmt> (iso9660 or vfat, label
    config-2); returns its files by path."""
    user_data = json.dumps(settings(agent_id)).encode()
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
        "openstack/latest/network_data.json": json.dumps({"links": [], "networks": [], "services": []}).encode(),
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
        subprocess.run(["mkfs.vfat", "-n", "config-2", "-C", str(image), "16384"], check=True, capture_output=True)
        subprocess.run(
            ["mcopy", "-s", "-i", str(image), str(tree / "openstack"), str(tree / "ec2"), "::/"], check=True
        )
    return files


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qemu_args(work: Path, overlay: Path, port: int, fmt: str, qemu: str | None = None) -> list[str]:
    """TCG, 512 MiB, one vCPU, no default devices (as libvirt starts it), serial console to a file;
    the root disk, a blank "persistent disk" (vdb), the config drive, two NICs."""
    drive = (
        ["-drive", f"file={work / 'config.iso9660'},media=cdrom,if=ide,readonly=on"]
        if fmt == "iso9660"  # Nova's two config_drive modes: a cdrom, or one more virtio disk
        else ["-drive", f"file={work / 'config.vfat'},if=virtio,format=raw,readonly=on"]
    )
    return [
        qemu or QEMU or "qemu-system-x86_64",
        *"-nodefaults -accel tcg -m 512 -smp 1 -nographic -monitor none".split(),
        *("-qmp", f"unix:{work / 'qmp.sock'},server=on,wait=off"),
        *("-serial", f"file:{work / 'console.log'}"),
        *("-drive", f"file={overlay},if=virtio,format=qcow2"),
        *("-drive", f"file={work / 'persistent.raw'},if=virtio,format=raw"),
        *drive,
        *("-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:22"),
        *("-device", f"virtio-net-pci,netdev=n0,mac={MAC_A}"),
        *("-netdev", "user,id=n1,restrict=on,net=10.0.3.0/24"),
        *("-device", f"virtio-net-pci,netdev=n1,mac={MAC_B}"),
    ]


@dataclass
class ConsoleWatch:
    """Tails the console file in a thread: each line with the host's monotonic time it showed up."""

    path: Path
    interval: float = 0.02
    lines: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> ConsoleWatch:
        threading.Thread(target=self._tail, daemon=True, name="console-watch").start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def first(self, text: str) -> float | None:
        """When the first line containing ``text`` appeared (host monotonic), or None."""
        return next((t for t, line in list(self.lines) if text in line), None)

    def _tail(self) -> None:
        offset, partial = 0, b""
        while not self._stop.is_set():
            try:
                with open(self.path, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
            except FileNotFoundError:
                chunk = b""
            now = time.monotonic()
            offset += len(chunk)
            *complete, partial = (partial + chunk).split(b"\n")
            self.lines.extend((now, line.decode(errors="replace").rstrip("\r")) for line in complete)
            self._stop.wait(self.interval)


@dataclass
class LocalVM:
    """A qemu process booting an overlay of a stemcell's root.img; ``started`` is host monotonic."""

    work: Path
    port: int
    process: subprocess.Popen
    started: float
    console: ConsoleWatch

    @classmethod
    def start(cls, work: Path, root_img: Path, fmt: str, *, qemu: str | None = None, port: int | None = None) -> LocalVM:
        overlay = work / "overlay.qcow2"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(root_img), str(overlay)],
            check=True,
        )
        blank = work / "persistent.raw"
        blank.write_bytes(b"")
        os.truncate(blank, PERSISTENT_BYTES)  # the agent must leave it alone
        (work / "console.log").write_bytes(b"")
        port = port or free_port()
        args = qemu_args(work, overlay, port, fmt, qemu)
        console = ConsoleWatch(work / "console.log").start()
        started = time.monotonic()
        with open(work / "qemu.err", "w") as err:  # qemu holds its own copy
            process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        return cls(work, port, process, started, console)

    def ssh_banner(self, timeout: float = 10.0) -> socket.socket | None:
        """A connection on which sshd's banner has arrived (peeked at, not read: paramiko can take
        the connection over), or None while nothing listens (user-mode networking accepts on the
        host side and closes when the guest refuses)."""
        self._check_alive()
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        except OSError:
            return None
        try:
            sock.settimeout(timeout)
            if sock.recv(4, socket.MSG_PEEK) == b"SSH-":
                return sock
        except OSError:
            pass
        sock.close()
        return None

    def connect(self, key: paramiko.PKey, user: str = "vcap", sock: socket.socket | None = None) -> paramiko.SSHClient:
        self._check_alive()
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # a fresh throwaway VM
        try:
            client.connect(
                "127.0.0.1",
                port=self.port,
                username=user,
                pkey=key,
                timeout=5,
                banner_timeout=10,
                auth_timeout=10,
                allow_agent=False,
                look_for_keys=False,
                sock=sock,
            )
        except BaseException:
            client.close()
            raise
        return client

    def wait_for_ssh(self, key: paramiko.PKey, *, timeout: float, interval: float = 2.0) -> paramiko.SSHClient:
        return wait_for(
            lambda: self.connect(key),
            timeout=timeout,
            interval=interval,
            what=f"SSH as vcap on 127.0.0.1:{self.port}",
            retry_on=(paramiko.SSHException, OSError, EOFError),
        )

    def press_power_button(self) -> None:
        """The ACPI power button, through QMP (what libvirt does for a shutdown, Nova for a soft
        reboot)."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(str(self.work / "qmp.sock"))
            reader = s.makefile("rb")
            reader.readline()  # the greeting
            for command in ("qmp_capabilities", "system_powerdown"):
                s.sendall(json.dumps({"execute": command}).encode() + b"\n")
                while b'"return"' not in (line := reader.readline()):
                    if not line or b'"error"' in line:
                        raise RuntimeError(f"QMP {command}: {line!r}")

    def stop(self) -> str:
        """Kill qemu; returns the console log."""
        self.process.kill()
        self.process.wait(timeout=30)
        self.console.stop()
        return (self.work / "console.log").read_text(errors="replace")

    def _check_alive(self) -> None:
        if self.process.poll() is not None:
            err = (self.work / "qemu.err").read_text(errors="replace")[-500:]
            raise RuntimeError(f"qemu exited with {self.process.returncode}: {err}")


def run(client: paramiko.SSHClient, command: str, timeout: float = 60) -> str:
    """stdout of ``command``; AssertionError-free: raises RuntimeError on a non-zero exit."""
    _, stdout, stderr = client.exec_command(command, timeout=timeout)
    status = stdout.channel.recv_exit_status()
    out = stdout.read().decode()
    if status != 0:
        raise RuntimeError(f"`{command}` exited {status}: {stderr.read().decode()}")
    return out


def console_lines(console: str, needle: str = "conformance-agent") -> Sequence[str]:
    return [line for line in console.splitlines() if needle in line]
