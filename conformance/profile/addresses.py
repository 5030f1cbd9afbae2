"""Static IP pools: parse "10.0.1.10" and "10.0.1.10-10.0.1.40" entries, check them, split them.

Pure functions; problems come back as (key path, message) pairs for the profile to report.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Sequence
from ipaddress import IPv4Address

Problem = tuple[str, str]

#: The most addresses one manual network's static_ips may name (a /16): a /8 or 0.0.0.0/0 is a typo,
#: and is refused from its bounds without listing its addresses.
MAX_POOL = 65536
#: The most floating IPs networks.vip.addresses may name.
MAX_VIP_ADDRESSES = 256


def parse_entry(entry: str) -> tuple[IPv4Address, IPv4Address]:
    """``"a"`` or ``"a-b"`` -> (start, end). Raises ValueError with a readable message."""
    text = str(entry) if len(str(entry)) <= 60 else str(entry)[:60] + "..."
    shown = repr(text)
    parts = [p.strip() for p in str(entry).split("-", 2)]
    if len(parts) not in (1, 2) or not all(parts):
        raise ValueError(f"{shown} is not an IPv4 address or a range a.b.c.d-a.b.c.e")
    try:
        start = IPv4Address(parts[0])
        end = IPv4Address(parts[-1])
    except ipaddress.AddressValueError:
        raise ValueError(f"{shown} is not an IPv4 address or a range a.b.c.d-a.b.c.e") from None
    if end < start:
        raise ValueError(f"{text}: the range ends before it starts")
    return start, end


def pool_size(entries: Sequence[str]) -> int:
    """How many addresses the entries name (duplicates counted twice), from their bounds alone."""
    total = 0
    for entry in entries:
        start, end = parse_entry(entry)
        total += int(end) - int(start) + 1
    return total


def expand(entries: Sequence[str], limit: int = MAX_POOL) -> list[IPv4Address]:
    """Every address of the entries, in order, without duplicates. Refuses more than ``limit``."""
    if pool_size(entries) > limit:
        raise ValueError(f"names more than {limit} addresses")
    seen: dict[IPv4Address, None] = {}
    for entry in entries:
        start, end = parse_entry(entry)
        for n in range(int(start), int(end) + 1):
            seen.setdefault(IPv4Address(n), None)
    return list(seen)


def partition(pool: Sequence[IPv4Address], workers: int, index: int) -> list[IPv4Address]:
    """The slice of ``pool`` that xdist worker ``index`` of ``workers`` may use (disjoint, contiguous)."""
    if not 0 <= index < workers:
        raise ValueError(f"worker index {index} out of range for {workers} workers")
    size = len(pool) // workers
    return list(pool[index * size : (index + 1) * size])


def _check_static_ips(base: str, net) -> list[Problem]:
    problems: list[Problem] = []
    ranges: list[tuple[int, IPv4Address, IPv4Address]] = []
    reserved = {net.cidr.network_address: "the network address", net.cidr.broadcast_address: "the broadcast address",
                net.gateway: "the gateway"}
    for j, entry in enumerate(net.static_ips):
        path = f"{base}.static_ips[{j}]"
        try:
            start, end = parse_entry(entry)
        except ValueError as exc:
            problems.append((path, str(exc)))
            continue
        outside = next((ip for ip in (start, end) if ip not in net.cidr), None)
        if outside is not None:
            problems.append((path, f"{outside} is outside {net.cidr}"))
            continue
        clash = next((ip for ip in reserved if start <= ip <= end), None)
        if clash is not None:
            problems.append((path, f"{entry} includes {clash}, {reserved[clash]} of {net.cidr}"))
        for k, s, e in ranges:
            if start <= e and s <= end:
                problems.append((path, f"{entry} overlaps static_ips[{k}] ({net.static_ips[k]})"))
        ranges.append((j, start, end))
    total = sum(int(e) - int(s) + 1 for _, s, e in ranges)
    if not problems and total > MAX_POOL:
        problems.append((f"{base}.static_ips", f"names {total} addresses: at most {MAX_POOL} are allowed "
                         "(a /16); give the suite a smaller range"))
    return problems


def check_manual_networks(nets: Sequence, min_count: int) -> list[Problem]:
    problems: list[Problem] = []
    names: dict[str, int] = {}
    for i, net in enumerate(nets):
        base = f"networks.manual[{i}]"
        if net.name in names:
            problems.append((f"{base}.name", f"{net.name!r} is used by networks.manual[{names[net.name]}] too"))
        names.setdefault(net.name, i)
        if net.gateway not in net.cidr:
            problems.append((f"{base}.gateway", f"{net.gateway} is outside {net.cidr}"))
        for k, other in enumerate(nets[:i]):
            if net.cidr.overlaps(other.cidr):
                problems.append((f"{base}.cidr", f"{net.cidr} overlaps networks.manual[{k}].cidr ({other.cidr})"))
        found = _check_static_ips(base, net)
        problems += found
        if not found:
            count = pool_size(net.static_ips)
            if count < min_count:
                problems.append((f"{base}.static_ips", f"only {count} address(es): the suite needs at least "
                                 f"{min_count} per xdist worker"))
    return problems


def check_vip(vip) -> list[Problem]:
    if vip is None:
        return []
    problems: list[Problem] = []
    for j, entry in enumerate(vip.addresses):
        try:
            parse_entry(entry)
        except ValueError as exc:
            problems.append((f"networks.vip.addresses[{j}]", str(exc)))
    if not problems and pool_size(vip.addresses) > MAX_VIP_ADDRESSES:
        problems.append(("networks.vip.addresses", f"names {pool_size(vip.addresses)} floating IPs: "
                         f"at most {MAX_VIP_ADDRESSES} are allowed"))
    return problems


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(str(text))
    except ValueError:
        return False
    return True
