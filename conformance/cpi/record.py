"""The record of one CPI call, for the test's transcript and the run's results (already redacted)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

LOG_KEEP = 64 * 1024


@dataclass
class CallRecord:
    method: str
    request_id: str
    arguments: Any                  # redacted
    started_at: float = field(default_factory=time.time)
    duration: float = 0.0
    outcome: str = "pending"        # ok | error | broken | timeout | not-runnable
    result: Any = None              # redacted, shortened
    error_type: str | None = None
    error_message: str | None = None
    ok_to_retry: bool | None = None
    exit_code: int | None = None
    log: str = ""                   # the envelope's log (tail), redacted
    stderr: str = ""                # tail, redacted
    leaked_in: list[str] = field(default_factory=list)
    ahead: bool = False             # made for a VM prepared ahead of its test (conformance.run.prepare)

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        if not doc.pop("ahead"):
            return doc
        return {**doc, "ahead": True}

    def summary(self) -> str:
        """One transcript line: ``create_vm  req=cpi-3f…  41.2s  ok -> vm-3c1f…``."""
        if self.outcome == "ok":
            tail = f"-> {_short(self.result)}"
        elif self.outcome == "error":
            tail = f"{self.error_type}: {(self.error_message or '')[:160]}"
        else:
            tail = (self.error_message or "")[:200]
        leak = f"  SECRET LEAKED in {', '.join(self.leaked_in)}" if self.leaked_in else ""
        ahead = "  (ahead of the test)" if self.ahead else ""
        return f"{self.method:<30} req={self.request_id}  {self.duration:6.1f}s  {self.outcome:<8} {tail}{leak}{ahead}"


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shorten(value: Any, limit: int = 4000) -> Any:
    """Keep small results as they are; large ones as a truncated repr."""
    text = repr(value)
    return value if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"
