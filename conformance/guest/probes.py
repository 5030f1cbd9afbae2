"""Pure parsers for what guest tools print: ``ip -j addr``, ``ip -o addr``, ``ip -j route``,
``lsblk -J -b``, ``blkid``. No SSH here, so unit tests feed them outputs captured on real machines.

A parser raises ValueError on output it cannot read; the session turns that into a
GuestOutputError that carries the host, the command and the output.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass

Interfaces = dict[str, list[ipaddress.IPv4Interface]]

# OpenStack (Nova with libvirt) gives a Cinder volume's virtio disk the volume id as its serial,
# which virtio-blk cuts to 20 bytes; udev names it /dev/disk/by-id/virtio-<serial>.
VIRTIO_SERIAL_LEN = 20


@dataclass(frozen=True)
class BlockDevice:
    """One row of ``lsblk``: partitions and other children are listed flat after their parent."""

    name: str
    size_bytes: int
    serial: str | None
    type: str

    @property
    def path(self) -> str:
        return f"/dev/{self.name}"


def _json(text: str, what: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not JSON ({exc})") from None


def _mac(text: str) -> str:
    return text.strip().lower()


def parse_ip_addr_json(text: str) -> Interfaces:
    """``ip -j addr show`` -> {MAC: [IPv4 addresses with prefix]}; loopback and links without
    a MAC are left out; a NIC without IPv4 maps to []; links sharing a MAC (a bridge and its
    port) pool their addresses."""
    links = _json(text, "ip -j addr")
    if not isinstance(links, list):
        raise ValueError("ip -j addr: expected a JSON list of links")
    result: Interfaces = {}
    for link in links:
        if link.get("link_type") == "loopback" or "LOOPBACK" in link.get("flags", []):
            continue
        mac = _mac(link.get("address") or "")
        if not mac:
            continue
        addresses = result.setdefault(mac, [])
        for info in link.get("addr_info", []):
            if info.get("family") == "inet" and "local" in info:
                addresses.append(ipaddress.IPv4Interface(f"{info['local']}/{info.get('prefixlen', 32)}"))
    return result


_ONELINE = re.compile(r"^\d+:\s+(?P<name>[^\s@]+)(?:@\S+)?\s+inet\s+(?P<cidr>[\d.]+/\d+)")
_SYS_ADDRESS = re.compile(r"^/sys/class/net/(?P<name>[^/]+)/address:(?P<mac>\S+)$")


def parse_ip_addr_oneline(addr_text: str, sys_addresses_text: str) -> Interfaces:
    """The fallback for an ``ip`` without JSON: ``ip -o addr show`` for the addresses and
    ``grep -H . /sys/class/net/*/address`` for each link's MAC; same result as the JSON parser."""
    mac_by_name = {}
    for line in sys_addresses_text.splitlines():
        match = _SYS_ADDRESS.match(line.strip())
        if match and match["name"] != "lo" and _mac(match["mac"]) != "00:00:00:00:00:00":
            mac_by_name[match["name"]] = _mac(match["mac"])
    result: Interfaces = {mac: [] for mac in mac_by_name.values()}
    for line in addr_text.splitlines():
        match = _ONELINE.match(line.strip())
        if match and match["name"] in mac_by_name:
            result[mac_by_name[match["name"]]].append(ipaddress.IPv4Interface(match["cidr"]))
    return result


def parse_default_gateway_json(text: str) -> str | None:
    """``ip -j route show default`` -> the gateway of the default route with the lowest metric,
    or None when there is no default route (or it has no gateway, as on a point-to-point link)."""
    routes = _json(text or "[]", "ip -j route")
    if not isinstance(routes, list):
        raise ValueError("ip -j route: expected a JSON list of routes")
    defaults = [r for r in routes if r.get("dst") == "default" and r.get("gateway")]
    if not defaults:
        return None
    return min(defaults, key=lambda r: r.get("metric", 0))["gateway"]


def parse_default_gateway_text(text: str) -> str | None:
    """``ip route show default`` (no JSON): ``default via 10.0.2.2 dev eth0 ... metric 100``."""
    best: tuple[int, str] | None = None
    for line in text.splitlines():
        words = line.split()
        if words[:2] != ["default", "via"] or len(words) < 3:
            continue
        metric = int(words[words.index("metric") + 1]) if "metric" in words[:-1] else 0
        if best is None or metric < best[0]:
            best = (metric, words[2])
    return best[1] if best else None


def parse_lsblk_json(text: str) -> list[BlockDevice]:
    """``lsblk -J -b -o NAME,SIZE,SERIAL,TYPE`` -> devices, children flattened after their parent.
    Older lsblk prints sizes as strings; both are read."""
    data = _json(text, "lsblk -J")
    if not isinstance(data, dict) or not isinstance(data.get("blockdevices"), list):
        raise ValueError("lsblk -J: expected {'blockdevices': [...]}")
    devices: list[BlockDevice] = []

    def walk(nodes: list[dict]) -> None:
        for node in nodes:
            serial = (node.get("serial") or "").strip() or None
            devices.append(BlockDevice(node["name"], int(node.get("size") or 0), serial, node.get("type") or ""))
            walk(node.get("children") or [])

    walk(data["blockdevices"])
    return devices


def parse_blkid_devices(text: str) -> list[str]:
    """``blkid -o device`` (one device path per line) -> the paths in order, without repeats."""
    seen: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("/dev/") and line not in seen:
            seen.append(line)
    return seen


def parse_blkid_export(text: str) -> dict[str, str]:
    """``blkid -o export <device>`` (KEY=value lines) -> {KEY: value}, e.g. TYPE and LABEL."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key:
            fields[key] = value
    return fields


def virtio_serial(volume_id: str) -> str:
    """The serial a virtio-blk disk of this volume shows in the guest (the id cut to 20)."""
    return volume_id[:VIRTIO_SERIAL_LEN]


def parse_size(text: str) -> int:
    """The first line of ``lsblk -b -n -d -o SIZE <device>`` as bytes."""
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not first.isdigit():
        raise ValueError("expected a size in bytes")
    return int(first)
