"""Reachability from the test runner (not from a guest): ping and TCP connect, bounded in time."""

from __future__ import annotations

import shutil
import socket
import subprocess


def ping(address: str, *, count: int = 3, timeout: float = 10.0) -> bool:
    """True when ``address`` answers ICMP echo from this machine."""
    binary = shutil.which("ping")
    if binary is None:
        raise RuntimeError("ping is not installed on the test runner (Debian: iputils-ping)")
    done = subprocess.run([binary, "-c", str(count), "-W", "2", "-w", str(int(timeout)), address],
                          capture_output=True, timeout=timeout + 5)
    return done.returncode == 0


def tcp_open(address: str, port: int, *, timeout: float = 5.0) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False
