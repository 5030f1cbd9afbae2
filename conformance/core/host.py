"""What this machine says about itself, read only: a process's kernel start time, the Debian
packages installed.

Shared by the run (a run's liveness mark), the local cloud (its daemons' pid files, its package
step) and the host's package plan (conformance.hostdeps), so that none of them imports another.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot); None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[19] if fields[0] != "Z" else None


def missing_packages(packages: tuple[str, ...] | list[str]) -> list[str]:
    """The packages not in state '(install|hold) ok installed' (one dpkg-query call: fast when all are there)."""
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Status}\n", *packages],
                          capture_output=True, text=True)  # fmt: skip
    have = {line.split()[0] for line in proc.stdout.splitlines() if line.endswith(" ok installed")}
    return [p for p in packages if p not in have]
