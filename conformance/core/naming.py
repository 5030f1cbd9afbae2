"""Run ids and resource names: every name the suite gives starts with ``cfm-<run id>-``.

The run id starts with its UTC start time, so a sweeper can tell a run's age from a name alone.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime

PREFIX = "cfm"
RUN_ID_RE = re.compile(r"^(\d{8}t\d{6})-([0-9a-f]{4})$")
NAME_RE = re.compile(rf"^{PREFIX}-(\d{{8}}t\d{{6}}-[0-9a-f]{{4}})-")
#: The metadata / tag key that carries the run id on every resource that can hold one.
RUN_TAG = "cfm-run"


def new_run_id(now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%dt%H%M%S", time.gmtime(now))
    return f"{stamp}-{secrets.token_hex(2)}"


def run_started(run_id: str) -> datetime:
    match = RUN_ID_RE.match(run_id)
    if not match:
        raise ValueError(f"{run_id!r} is not a run id (expected YYYYMMDDtHHMMSS-xxxx)")
    return datetime.strptime(match.group(1), "%Y%m%dt%H%M%S").replace(tzinfo=UTC)


def run_id_of(name: str | None) -> str | None:
    """The run id inside a resource name we gave, or None for names that are not ours."""
    match = NAME_RE.match(name or "")
    return match.group(1) if match else None


class Names:
    """Names for one run (and one xdist worker): ``cfm-<run>-<what>-<n>``."""

    def __init__(self, run_id: str, worker: str = "gw0"):
        self.run_id, self.worker = run_id, worker
        self._counter = 0

    def prefix(self) -> str:
        return f"{PREFIX}-{self.run_id}-"

    def name(self, what: str) -> str:
        self._counter += 1
        clean = re.sub(r"[^a-z0-9]+", "-", what.lower()).strip("-")[:40] or "res"
        return f"{self.prefix()}{clean}-{self.worker}-{self._counter}"

    def agent_id(self) -> str:
        return self.name("agent")
