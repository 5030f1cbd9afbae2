"""Whether a run is still going: ``reports/<run>/alive.json`` names its process.

A run marks its report directory when it starts and clears the mark when it ends; a killed run
leaves the mark behind. The mark counts as alive only while that pid exists *with the same kernel
start time* (a recycled pid is someone else), and only on the host that wrote it: from another
host nobody can tell, so `conformance cleanup` treats such a run as alive unless told otherwise.

    liveness.mark(run_dir)        # at the start of a run
    liveness.clear(run_dir)       # at its end
    liveness.owner(run_dir)       # {"pid": ..., ...} while that process lives here, else None
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from conformance.core.host import start_time

FILE = "alive.json"
State = Literal["absent", "alive", "stale", "elsewhere"]


def mark(report_dir: Path) -> None:
    """Record this process as the run writing ``report_dir``; written whole or not at all."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    record = {"pid": pid, "start_ticks": int(start_time(pid) or 0), "hostname": socket.gethostname(),
              "started": time.time()}
    with tempfile.NamedTemporaryFile("w", dir=report_dir, prefix=f".{FILE}.", delete=False) as tmp:
        json.dump(record, tmp)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, report_dir / FILE)


def clear(report_dir: Path) -> None:
    (Path(report_dir) / FILE).unlink(missing_ok=True)


def read(report_dir: Path) -> dict[str, Any] | None:
    """The mark as written, alive or not; None when there is none (or it is unreadable)."""
    try:
        record = json.loads((Path(report_dir) / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def state(report_dir: Path) -> tuple[State, dict[str, Any] | None]:
    """("alive" | "stale" | "elsewhere" | "absent", the mark)."""
    record = read(report_dir)
    if record is None:
        return "absent", None
    if record.get("hostname") != socket.gethostname():
        return "elsewhere", record
    try:
        ticks = start_time(int(record["pid"]))
        alive = ticks is not None and int(ticks) == int(record["start_ticks"])
    except (KeyError, TypeError, ValueError):
        alive = False
    return ("alive" if alive else "stale"), record


def owner(report_dir: Path) -> dict[str, Any] | None:
    """The mark while its process lives on this host; None when absent, stale or from another host."""
    found, record = state(report_dir)
    return record if found == "alive" else None


#: What a run leaves in its report folder that a second run under the same id would append to.
RUN_RECORDS = ("results.json", "ledger.jsonl")


def reuse_problem(report_dir: Path) -> str | None:
    """Why a new run may not use ``report_dir`` (reports/<run id>), or None.

    A folder that already holds a run's results.json or ledger.jsonl belongs to that run: a second
    run under the same id would append to its ledger and calls.jsonl and mix the two. The one
    exception is the same live run: the folder's alive mark names this very process."""
    report_dir = Path(report_dir)
    found = [name for name in RUN_RECORDS if (report_dir / name).exists()]
    if not found:
        return None
    mark = owner(report_dir)
    if mark is not None and mark.get("pid") == os.getpid():
        return None
    return (f"{report_dir} already holds a run ({' and '.join(found)}): a new run under the same id would "
            "mix its ledger and CPI calls with that run's; choose another --run-id or leave it out")
