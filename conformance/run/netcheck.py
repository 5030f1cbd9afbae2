"""Reachability from the test runner (not from a guest): ping and TCP connect, bounded in time.

What the runner itself lacks (no ping, ping not permitted, no route out of this machine) raises
RunnerError: a problem of the machine running the suite is never the cloud's "no".
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess

from conformance.core import waiting
from conformance.core.errors import RunnerError

PING_HINT = "Debian: apt-get install iputils-ping"
# ICMP errors sent back by the network ("From 10.0.0.1 icmp_seq=1 Destination Host Unreachable"):
# the network answered, the address did not: a "no", not a runner problem.
_NETWORK_ANSWERED = re.compile(r"^From \S+", re.MULTILINE)


def ping_binary() -> str:
    """The ping executable on PATH. Raises RunnerError when there is none."""
    binary = shutil.which("ping")
    if binary is None:
        raise RunnerError("ping is not installed", PING_HINT)
    return binary


def ping(address: str, *, count: int = 3, timeout: float = 10.0) -> bool:
    """True when ``address`` answers ICMP echo from this machine, False when it does not (or the
    network says it is unreachable). Raises RunnerError when ping is missing or cannot run here
    (exit status 2 without an answer from the network: not permitted, no route from the runner)."""
    # 0.2 s apart (the shortest an unprivileged ping may ask): three echoes in under a second
    with waiting.spent("guest"):
        done = subprocess.run([ping_binary(), "-n", "-c", str(count), "-i", "0.2", "-W", "2",
                               "-w", str(max(int(timeout), 1)), address], capture_output=True, text=True,
                              timeout=timeout + 5)
    if done.returncode in (0, 1) or _NETWORK_ANSWERED.search(done.stdout):
        return done.returncode == 0
    said = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
    raise RunnerError(f"`ping {address}` cannot run here (exit {done.returncode}: {said})")


def tcp_open(address: str, port: int, *, timeout: float = 5.0) -> bool:
    try:
        with waiting.spent("guest"), socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False
