"""Host networking for the cloud, and the safety rules that keep its traffic on this machine.

We create two bridges: br-ex (172.24.4.1/24) carries the flat external network `public` that
floating IPs live on, br-vx holds the VXLAN underlay address (the kernel has no dummy interface).
Safety (checked again by `status`): host ip_forward stays 0, a FORWARD rule drops anything routed
out of br-ex, and the host has no NAT rule at all; SNAT/DNAT happen only inside the router's
namespace, onto br-ex.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from conformance.localcloud.config import BR_EX, BR_EX_CIDR, BR_VX, BR_VX_IP, FORWARD_DROP_RULE
from conformance.localcloud.procs import Runner

IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
BRIDGES = ((BR_EX, BR_EX_CIDR), (BR_VX, f"{BR_VX_IP}/24"))


def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def has_address(name: str, cidr: str) -> bool:
    out = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", name], capture_output=True, text=True)
    return f" {cidr} " in out.stdout


def ensure(runner: Runner) -> str:
    """Create what is missing; returns what it did ('' when everything was in place)."""
    did = []
    for name, cidr in BRIDGES:
        if not link_exists(name):
            runner.run(["ip", "link", "add", name, "type", "bridge"])
            did.append(name)
        if not has_address(name, cidr):
            runner.run(["ip", "addr", "add", cidr, "dev", name])
        runner.run(["ip", "link", "set", name, "up"])
    if IP_FORWARD.read_text().strip() != "0":
        IP_FORWARD.write_text("0\n")
        did.append("ip_forward=0")
    if not runner.ok(["iptables", "-C", *FORWARD_DROP_RULE]):
        runner.run(["iptables", "-I", *FORWARD_DROP_RULE])
        did.append("FORWARD drop rule")
    return ", ".join(did)


def remove(runner: Runner) -> None:
    """Undo `ensure`: the rule (every copy of it) and the bridges."""
    while runner.ok(["iptables", "-C", *FORWARD_DROP_RULE]):
        runner.run(["iptables", "-D", *FORWARD_DROP_RULE])
    for name, _ in BRIDGES:
        if link_exists(name):
            runner.run(["ip", "link", "delete", name])


def host_nat_rules() -> list[str]:
    """NAT rules in the host's own namespace (there must be none)."""
    out = subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.startswith("-A")]


def safety_problems() -> list[str]:
    """Empty when the host cannot route or NAT the cloud's traffic anywhere."""
    problems = []
    if IP_FORWARD.read_text().strip() != "0":
        problems.append("net.ipv4.ip_forward is not 0")
    if subprocess.run(["iptables", "-C", *FORWARD_DROP_RULE], capture_output=True).returncode != 0:
        problems.append("FORWARD drop rule for br-ex missing")
    problems += [f"host NAT rule: {rule}" for rule in host_nat_rules()]
    return problems
