"""One run's results.json, loaded and judged: its integrity (digest), its verdict, its failures.

Everything a report shows is derived here from the machine-readable record (plus calls.jsonl for
the error messages of a failure's CPI calls), so the HTML and Markdown can never disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.errors import ConformanceError
from conformance.jsonl import read_jsonl
from conformance.results import canonical_digest, code_digest

FAILING = ("failed", "error", "xpassed")
EXIT_MEANING = {0: "all selected tests ran", 1: "tests failed", 2: "interrupted", 3: "internal error",
                4: "usage error", 5: "no tests collected"}
LONGREPR_LINES = 60


class ReportError(ConformanceError):
    """A run folder that cannot be reported on (no results.json, or not JSON)."""


@dataclass
class Integrity:
    ok: bool
    expected: str | None
    actual: str
    code_matches_checkout: bool

    @property
    def text(self) -> str:
        if self.ok:
            return f"digest verified (sha256 {self.actual[:16]}...)"
        return (f"digest mismatch: edited or partial (recorded {str(self.expected)[:16]}..., "
                f"content hashes to {self.actual[:16]}...)")


@dataclass
class Verdict:
    word: str  # PASS / FAIL / INCOMPLETE / EMPTY
    passed: bool
    text: str


def load(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "results.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: not found (is {run_dir} a run folder of `conformance run`?)") from None
    except ValueError as exc:
        raise ReportError(f"{path}: not JSON: {exc}") from None


def integrity(doc: dict[str, Any]) -> Integrity:
    """Recompute the canonical digest: a mismatch means results.json was edited or cut short."""
    expected = (doc.get("digest") or {}).get("canonical")
    actual = canonical_digest(doc)
    code = (doc.get("tool") or {}).get("code_sha256")
    return Integrity(expected == actual, expected, actual, code == code_digest())


def verdict(doc: dict[str, Any]) -> Verdict:
    """PASS only when nothing failed or errored and pytest says the selection ran to its end."""
    summary = doc.get("summary") or {}
    bad = {k: summary.get(k, 0) for k in FAILING if summary.get(k)}
    exitstatus = (doc.get("selection") or {}).get("exitstatus", 0)
    if bad:
        return Verdict("FAIL", False, ", ".join(f"{n} {k}" for k, n in bad.items()))
    if not doc.get("tests"):
        return Verdict("EMPTY", False, "no test ran")
    if exitstatus != 0:
        return Verdict("INCOMPLETE", False, f"pytest exit status {exitstatus}: {EXIT_MEANING.get(exitstatus, '?')}")
    n = sum(summary.values())
    return Verdict("PASS", True, f"{summary.get('passed', 0)} of {n} passed, nothing failed")


def failures(doc: dict[str, Any], run_dir: str | Path) -> list[dict[str, Any]]:
    """Each failed / errored test with its evidence: reason, the tail of its traceback, its CPI calls."""
    details = {c.get("request_id"): c for c in read_jsonl(Path(run_dir) / "calls.jsonl")}
    out = []
    for test in doc.get("tests", []):
        if test["outcome"] not in FAILING:
            continue
        calls = [{**call, "error_message": _short((details.get(call.get("request_id")) or {}).get("error_message"))}
                 for call in test.get("cpi_calls", [])]
        out.append({**test, "longrepr_tail": _tail(test.get("longrepr") or ""), "calls": calls})
    return out


def _tail(text: str, lines: int = LONGREPR_LINES) -> str:
    parts = text.splitlines()
    return "\n".join((["..."] if len(parts) > lines else []) + parts[-lines:])


def _short(text: str | None, limit: int = 600) -> str | None:
    return text if text is None or len(text) <= limit else text[:limit] + "..."


def fingerprint(doc: dict[str, Any]) -> dict[str, Any]:
    """Service API versions and microversion ranges, flat for a table; with the witness's note."""
    cloud = doc.get("cloud") or {}
    services = [{"service": name, **{k: v for k, v in (info or {}).items()}}
                for name, info in sorted((cloud.get("services") or {}).items())]
    return {"release": cloud.get("release"), "region": cloud.get("region"), "cloud": cloud.get("cloud"),
            "services": services, "note": cloud.get("note") or cloud.get("error")}


def run_label(doc: dict[str, Any]) -> str:
    profile = doc.get("profile") or {}
    return f"{profile.get('name', '?')} / {profile.get('release', '?')}"
