"""The libvirt witness: what the hypervisor on the compute host says, through ``virsh``, read only.

It works for any libvirt-based cloud (OpenStack Nova, CloudStack on KVM, plain libvirt) because it
uses only libvirt facts, never a cloud's own metadata in the domain XML:

- a VM is the domain whose UUID is the VM's cid (Nova and CloudStack set the domain UUID to it);
  it sees the domain state, vCPUs and memory, and whether the domain exists;
- a NIC is an ``<interface>``: its MAC and its host device (the tap); when the URI is local it sees
  whether those devices are gone from this host (/sys/class/net);
- a volume is a ``<disk>`` whose ``<serial>`` is the volume's id (Nova), or that id without hyphens
  cut to 20 characters (CloudStack on KVM), with its size.

What it cannot see, and why: a volume attached to no VM (libvirt knows disks only as parts of
domains, so a detached volume and a deleted one look the same); IPs, networks, ports and floating
IPs (they live in the cloud's network service, not in libvirt); images, snapshots, instance types
and metadata (the cloud's, not the hypervisor's). The console is seen only when the domain writes
it to a file on this host. Everything else raises NotWitnessed (the base class).

Every virsh call is an argv list with ``-c <uri>``, LC_ALL=C and a timeout. A virsh that is missing,
hangs, fails or prints nonsense is a RunnerError: a problem of the machine running the suite is
never turned into a verdict on the cloud.
"""

from __future__ import annotations

import os
import string
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import urlsplit

from conformance.cloud import witness as w
from conformance.core.errors import ProfileError, RunnerError

DEFAULTS = {"uri": "qemu:///system", "virsh": "virsh", "command_timeout": 30}
MAX_OUTPUT = 4 * 2**20        # bytes of virsh output read at most
CONSOLE_LINES = 200
CONSOLE_TAIL = 256 * 2**10    # bytes read from the end of a console log
GONE = ("failed to get domain", "Domain not found")


def _subprocess_run(argv: list[str], *, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, timeout=timeout, capture_output=True, stdin=subprocess.DEVNULL,
                          check=False)


def _dev_exists(dev: str) -> bool:
    return "/" not in dev and os.path.exists(f"/sys/class/net/{dev}")


def _bytes(text: str | None, unit: str | None) -> int:
    """A libvirt scaled integer in bytes (no unit: KiB; KB is 1000, K or KiB is 1024)."""
    unit = (unit or "KiB").lower()
    if unit in ("b", "byte", "bytes"):
        return int(text or "")
    if unit[0] not in "kmgtpe" or unit[1:] not in ("", "ib", "b"):
        raise RunnerError(f"virsh printed a memory size with an unknown unit {unit!r}")
    base = 1000 if unit[1:] == "b" else 1024
    return int(text or "") * base ** ("kmgtpe".index(unit[0]) + 1)


def _uuid(text: str) -> bool:
    parts = text.split("-")
    return [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(c in string.hexdigits for c in "".join(parts))


class LibvirtWitness(w.Witness):
    name = "libvirt"

    def __init__(self, profile, options: dict | None = None, *,
                 run: Callable[..., subprocess.CompletedProcess] | None = None,
                 dev_exists: Callable[[str], bool] | None = None):
        options = dict(options or {})
        unknown = set(options) - set(DEFAULTS)
        if unknown:
            raise ProfileError(profile.source, "witnesses.libvirt",
                               f"unknown option(s) {sorted(unknown)}: the libvirt witness takes "
                               f"{', '.join(DEFAULTS)}")
        opts = {**DEFAULTS, **options}
        for key in ("uri", "virsh"):
            if not isinstance(opts[key], str) or not opts[key]:
                raise ProfileError(profile.source, f"witnesses.libvirt.{key}", "must be a non-empty string")
        timeout = opts["command_timeout"]
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ProfileError(profile.source, "witnesses.libvirt.command_timeout",
                               "must be a positive number of seconds")
        super().__init__(profile.timeouts)
        self.uri, self.virsh, self.command_timeout = opts["uri"], opts["virsh"], float(timeout)
        self.local = not urlsplit(self.uri).netloc
        self._run = run or _subprocess_run
        self._dev_exists = dev_exists or _dev_exists

    # -- virsh ----------------------------------------------------------------------------------
    def _virsh(self, *args: str, gone_ok: bool = False) -> bytes | None:
        """virsh's output; None when ``gone_ok`` and virsh says there is no such domain."""
        argv = [self.virsh, "-c", self.uri, *args]
        command = " ".join(argv)
        try:
            done = self._run(argv, env={**os.environ, "LC_ALL": "C"}, timeout=self.command_timeout)
        except FileNotFoundError:
            raise RunnerError(f"{self.virsh} is not installed (Debian: apt-get install libvirt-clients): "
                              "needed by the libvirt witness (profile witnesses.libvirt)") from None
        except subprocess.TimeoutExpired:
            raise RunnerError(f"`{command}` did not answer within {self.command_timeout:g}s "
                              "(witnesses.libvirt command_timeout)") from None
        except OSError as exc:
            raise RunnerError(f"`{command}` cannot run: {exc}") from None
        stdout = done.stdout or b""
        stderr = (done.stderr or b"").decode("utf-8", "replace").strip()
        if done.returncode != 0:
            if gone_ok and any(text in stderr for text in GONE):
                return None
            raise RunnerError(f"`{command}` exited {done.returncode}: {stderr[:500] or '(no stderr)'}")
        if len(stdout) > MAX_OUTPUT:
            raise RunnerError(f"`{command}` printed {len(stdout)} bytes, more than {MAX_OUTPUT} "
                              "(the libvirt witness reads no more)")
        return stdout

    def _domain(self, uuid: str) -> ET.Element | None:
        """The domain XML of the domain with this UUID, None when there is none."""
        if not _uuid(uuid):
            raise self.unseen(f"a VM whose cid {uuid!r} is not a UUID (libvirt domains are found by UUID)")
        out = self._virsh("dumpxml", uuid, gone_ok=True)
        if out is None:
            return None
        try:
            root = ET.fromstring(out)
        except ET.ParseError as exc:
            raise RunnerError(f"`{self.virsh} dumpxml {uuid}` printed XML that does not parse: {exc}") from None
        # virsh falls back to a domain *named* like the UUID: only the domain with this UUID counts
        return root if (root.findtext("uuid") or "").strip().lower() == uuid.lower() else None

    def _disks(self, uuid: str) -> dict[str, str] | None:
        """A domain's disks that have a serial: serial -> target dev; None when the domain is gone."""
        root = self._domain(uuid)
        if root is None:
            return None
        return {disk.findtext("serial").strip(): disk.find("target").get("dev", "?")
                for disk in root.iterfind("devices/disk")
                if (disk.findtext("serial") or "").strip() and disk.find("target") is not None}

    # -- VMs ------------------------------------------------------------------------------------
    def server(self, cid: str) -> w.Server | None:
        root = self._domain(cid)
        state = self._virsh("domstate", cid, gone_ok=True) if root is not None else None
        if root is None or state is None:
            return None
        state = state.decode("utf-8", "replace").strip()
        memory, vcpu = root.find("memory"), root.findtext("vcpu")
        try:
            mib = _bytes(memory.text, memory.get("unit")) / 2**20 if memory is not None else w.UNSEEN
            vcpus = int(vcpu) if vcpu is not None else w.UNSEEN
        except ValueError as exc:
            raise RunnerError(f"`{self.virsh} dumpxml {cid}` printed a <memory> or <vcpu> that is no number: "
                              f"{exc}") from None
        if mib is not w.UNSEEN and mib.is_integer():
            mib = int(mib)
        return w.Server(self.name, cid, state == "running", f"libvirt domstate={state}",
                        vcpus=vcpus, memory_mib=mib)

    def nics(self, cid: str) -> list[w.Nic]:
        root = self._domain(cid)
        if root is None:
            return []
        nics = []
        for iface in root.iterfind("devices/interface"):
            mac, target = iface.find("mac"), iface.find("target")
            dev = target.get("dev") if target is not None else None
            nics.append(w.Nic(self.name, (mac.get("address") if mac is not None else "").lower(),
                              port_id=dev or w.UNSEEN))
        return nics

    def wait_for_nics_gone(self, nics: list[w.Nic], *, after: str | None = None) -> None:
        if not self.local:
            raise self.unseen("host NICs of a remote hypervisor")
        devs = {nic.port_id for nic in nics}
        if not devs:
            return
        self._wait(lambda: sorted(d for d in devs if self._dev_exists(d)), lambda left: not left, None,
                   lambda left: f"still on the host: {left}", "port_release",
                   f"host devices {sorted(devs)} to be gone", after)

    def console_output(self, cid: str) -> str:
        if not self.local:
            raise self.unseen("the console log of a remote hypervisor's domain")
        root = self._domain(cid)
        if root is None:
            raise self.unseen("the console of a domain that is not there")
        paths = []
        for dev in [*root.iterfind("devices/serial"), *root.iterfind("devices/console")]:
            source, log = dev.find("source"), dev.find("log")
            if dev.get("type") == "file" and source is not None and source.get("path"):
                paths.append(source.get("path"))
            if log is not None and log.get("file"):   # Nova: <serial type='pty'><log file='.../console.log'/>
                paths.append(log.get("file"))
        for path in paths:
            if os.path.isfile(path) and os.access(path, os.R_OK):
                with open(path, "rb") as f:
                    f.seek(max(0, os.path.getsize(path) - CONSOLE_TAIL))
                    text = f.read(CONSOLE_TAIL).decode("utf-8", "replace")
                return "\n".join(text.splitlines()[-CONSOLE_LINES:])
        raise self.unseen("the console of a domain without a console log file"
                          + (f" readable here ({', '.join(paths)})" if paths else ""))

    # -- disks ----------------------------------------------------------------------------------
    def volume(self, cid: str) -> w.Volume | None:
        uuids = self._virsh("list", "--all", "--uuid").decode("utf-8", "replace").split()
        found = [(uuid, dev) for uuid in uuids if (dev := _target(self._disks(uuid), cid))]
        if not found:
            raise self.unseen("a volume attached to no VM")
        uuid, dev = found[0]
        info = self._virsh("domblkinfo", uuid, dev).decode("utf-8", "replace")
        capacity = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                         if line.startswith("Capacity:")), "")
        if not capacity.isdigit():
            raise RunnerError(f"`{self.virsh} domblkinfo {uuid} {dev}` printed no capacity: {info[:500]!r}")
        return w.Volume(self.name, cid, "; ".join(f"attached to domain {u} as {d}" for u, d in found),
                        size_gib=int(capacity) // 2**30, available=False,
                        attached_to=frozenset(u for u, _ in found))

    def wait_for_volume_attached(self, cid: str, vm_cid: str, *, after: str | None = None) -> w.Volume:
        self._wait(lambda: self._disks(vm_cid), lambda disks: _target(disks, cid) is not None,
                   lambda disks: disks is None and f"domain {vm_cid} is gone", _describe_disks, "disk_attach",
                   f"domain {vm_cid} to have a disk with serial {cid}", after)
        return self.volume(cid)

    def wait_for_volume_detached(self, cid: str, vm_cid: str, *, after: str | None = None) -> None:
        self._wait(lambda: self._disks(vm_cid), lambda disks: _target(disks, cid) is None, None,
                   _describe_disks, "disk_detach", f"domain {vm_cid} to have no disk with serial {cid}", after)


def _target(disks: dict[str, str] | None, cid: str) -> str | None:
    """The target dev of volume ``cid`` among a domain's disks by serial. Nova sets the serial to the
    volume id; CloudStack on KVM to the id without hyphens, cut to 20 characters (diskUuidToSerial)."""
    serials = (cid, cid.replace("-", "")[:20])
    return next((disks[serial] for serial in serials if serial in disks), None) if disks else None


def _describe_disks(disks: dict[str, str] | None) -> str:
    if disks is None:
        return "domain gone"
    return "disks by serial: " + (", ".join(f"{dev}={serial}" for serial, dev in sorted(disks.items())) or "none")
