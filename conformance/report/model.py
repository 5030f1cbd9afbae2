"""One run's results.json, loaded and judged: its integrity (digest), its verdict, its failures.

Everything a report shows is derived here from the machine-readable record (plus calls.jsonl for
the error messages of a failure's CPI calls), so the HTML and Markdown can never disagree.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.core.errors import ConformanceError
from conformance.core.jsonl import read_jsonl
from conformance.report.results import canonical_digest, code_digest

FAILING = ("failed", "error", "xpassed")
EXIT_MEANING = {0: "all selected tests ran", 1: "tests failed", 2: "interrupted", 3: "internal error",
                4: "usage error", 5: "no tests collected", 130: "interrupted by SIGINT", 143: "interrupted by SIGTERM"}
LONGREPR_LINES = 40


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
    certification: Any = None  # a certification run's judgement against its level (see the end of this file)


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


def outcome_label(test: dict[str, Any]) -> str:
    """A test's (or a phase's) outcome as the reports show it: an error the test runner is to blame
    for is a "runner error", never a verdict on the CPI or the cloud."""
    if test.get("outcome") == "error" and test.get("blame") == "runner":
        return "runner error"
    return test.get("outcome") or "?"


def later_errors(test: dict[str, Any]) -> list[dict[str, Any]]:
    """The failed phases after the one that decided the test (e.g. a teardown's cleanup error beside
    the call's failure); empty for a record without phases (schema version 1)."""
    failed = [p for p in test.get("phases") or [] if p.get("outcome") in ("failed", "error")]
    return [{**p, "label": outcome_label(p)} for p in failed[1:]]


def not_checked(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Checks that did not apply to this profile (a CPI API v1, no availability zone...), each with
    its reason: a test that passed did not pass them."""
    return [{"name": t["name"], "nodeid": t["nodeid"], "capability": t.get("capability"), "text": text}
            for t in doc.get("tests", []) for text in t.get("not_checked") or []]


def witness_checks(doc: dict[str, Any]) -> dict[str, Any]:
    """Who checked the cloud's side: the profile's witnesses, per witness how many checks it made,
    and every check with who made it and who could not see it (what it could not see)."""
    names = list((doc.get("cloud") or {}).get("witnesses") or [])
    rows = [{"name": t["name"], "nodeid": t["nodeid"], "capability": t.get("capability"), "check": c["check"],
             "by": c.get("by") or [], "unseen": c.get("unseen") or {}}
            for t in doc.get("tests", []) for c in t.get("witness_checks") or []]
    for row in rows:
        for name in [*row["by"], *row["unseen"]]:
            if name not in names:
                names.append(name)
    made = {name: sum(name in row["by"] for row in rows) for name in names}
    return {"witnesses": names, "made": made, "rows": rows, "unmade": sum(not row["by"] for row in rows)}


def observations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """What tests noted beyond the contract (a CPI answering true where null is documented, a
    device hint that is not the guest's name, ...): shown, never counted in the verdict."""
    return [{"name": t["name"], "nodeid": t["nodeid"], "capability": t.get("capability"), "text": text}
            for t in doc.get("tests", []) for text in t.get("observations") or []]


def resources(doc: dict[str, Any]) -> str | None:
    """One line on what the run created and whether it left anything (results.json's "cleanup"),
    plus the interrupt, if any: the headline an operator wants after a run that went wrong."""
    cleanup = doc.get("cleanup")
    if not cleanup:
        return None
    if cleanup.get("error"):
        return f"the end-of-run sweep failed: {cleanup['error']}"
    parts = [f"{cleanup.get('created', 0)} created, {cleanup.get('deleted', 0)} deleted by their tests"]
    if cleanup.get("swept"):
        parts.append(f"{len(cleanup['swept'])} removed by the run itself through the cloud API "
                     f"(" + "; ".join(f"{s['kind']} {s['id']}: {s.get('why') or '?'}" for s in cleanup["swept"][:5])
                     + (", ..." if len(cleanup["swept"]) > 5 else "") + ")")
    if cleanup.get("kept"):
        parts.append(f"{len(cleanup['kept'])} kept on purpose (--keep-on-failure)")
    left = cleanup.get("left") or []
    parts.append(f"{len(left)} left" + (f": {', '.join(left)} (`conformance cleanup --run-id {doc.get('run_id')}`)"
                                        if left else ""))
    if cleanup.get("unattributed"):
        parts.append(f"{len(cleanup['unattributed'])} created during failed calls but not attributable, not removed")
    interrupted = doc.get("interrupted")
    if interrupted:
        parts.append(f"interrupted by {interrupted.get('signal')}"
                     + (", cleanups cut short by a second interrupt" if interrupted.get("cut_short") else ""))
    return "; ".join(parts)


def ledger(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The ledger summed up per kind of resource: created, deleted by their tests, removed by the run
    itself (swept), kept on purpose, left; the last row sums them. Empty for a record without per-kind
    counts (older runs) or a run that created nothing."""
    cleanup = doc.get("cleanup") or {}
    by_kind = cleanup.get("by_kind") or {}
    if not by_kind and not cleanup.get("swept") and not cleanup.get("left"):
        return []
    rows: dict[str, dict[str, Any]] = {}

    def row(kind: str) -> dict[str, Any]:
        return rows.setdefault(kind, {"kind": kind, "created": 0, "deleted": 0, "swept": 0, "kept": 0, "left": 0})

    for kind, counts in by_kind.items():
        row(kind).update(created=counts.get("created", 0), deleted=counts.get("deleted", 0),
                         kept=counts.get("abandoned", 0))
    for swept in cleanup.get("swept") or []:
        row(swept.get("kind") or "?")["swept"] += 1
    for left in cleanup.get("left") or []:
        row(str(left).split(" ", 1)[0])["left"] += 1
    table = sorted(rows.values(), key=lambda r: r["kind"])
    total = {"kind": "all", **{k: sum(r[k] for r in table) for k in ("created", "deleted", "swept", "kept", "left")}}
    return [*table, total]


def verdict(doc: dict[str, Any], check: Integrity | None = None) -> Verdict:
    """PASS only when nothing failed or errored, pytest says the selection ran to its end, and the
    record is the one the run wrote (an edited results.json is UNVERIFIED, whatever it claims).
    Runner errors alone make the run INCOMPLETE, not FAIL: the CPI and the cloud were not judged."""
    counts = Counter(outcome_label(t) for t in doc.get("tests", []))
    bad = {k: counts[k] for k in FAILING if counts.get(k)}
    exitstatus = (doc.get("selection") or {}).get("exitstatus", 0)
    check = check or integrity(doc)
    if not check.ok:
        claimed = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no test"
        return Verdict("UNVERIFIED", False, f"digest mismatch: edited or partial; the record claims {claimed}")
    interrupted = doc.get("interrupted")
    if interrupted:  # what ran may have failed, but the run did not end: no verdict on the whole
        ran = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no test finished"
        return Verdict("INCOMPLETE", False, f"interrupted by {interrupted.get('signal')}: {ran}")
    if bad:
        return Verdict("FAIL", False, ", ".join(f"{n} {k}" for k, n in bad.items()) + f"; {_tally(counts, leave=tuple(bad))}")
    if counts.get("runner error"):
        return Verdict("INCOMPLETE", False, f"{counts['runner error']} test(s) not measured: runner error "
                                            f"(the machine running the suite lacks something); "
                                            f"{_tally(counts, leave=('runner error',))}")
    if not counts:
        return Verdict("EMPTY", False, "no test ran")
    if exitstatus != 0:
        return Verdict("INCOMPLETE", False, f"pytest exit status {exitstatus}: {EXIT_MEANING.get(exitstatus, '?')}; "
                                            f"{_tally(counts)}")
    return Verdict("PASS", True, f"{_tally(counts)}, nothing failed")


def _tally(counts: Counter, leave: tuple[str, ...] = ()) -> str:
    """"44 of 45 passed (1 skipped)": the share of the run that passed, then what else there was
    (but what the verdict already named, ``leave``)."""
    others = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()) if k not in ("passed", *leave))
    return f"{counts.get('passed', 0)} of {counts.total()} passed" + (f" ({others})" if others else "")


def failures(doc: dict[str, Any], run_dir: str | Path) -> list[dict[str, Any]]:
    """Failed / errored tests grouped by (outcome, reason): one broken fixture that errors forty
    tests is one piece of evidence. Each test keeps its CPI calls (with the CPI's error message,
    from calls.jsonl) and the errors of its later phases ("also"); the first of a group carries the
    tail of its traceback."""
    details = {c.get("request_id"): c for c in read_jsonl(Path(run_dir) / "calls.jsonl")}
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for test in doc.get("tests", []):
        if test["outcome"] not in FAILING:
            continue
        calls = [{**call, "error_message": _short((details.get(call.get("request_id")) or {}).get("error_message"))}
                 for call in test.get("cpi_calls", [])]
        key = (outcome_label(test), test.get("reason") or "")
        group = groups.setdefault(key, {"outcome": key[0], "reason": key[1], "tests": [],
                                        "longrepr_tail": _tail(test.get("longrepr") or "")})
        group["tests"].append({**test, "calls": calls, "also": later_errors(test)})
    return sorted(groups.values(), key=lambda g: (g["outcome"] != "failed", -len(g["tests"])))


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
    emulated = surface(doc)
    return {"release": cloud.get("release"), "region": cloud.get("region"), "cloud": cloud.get("cloud"),
            "services": services, "note": cloud.get("note") or cloud.get("error"),
            "surface": (emulated.get("description") or emulated.get("label")) if emulated else None}


def surface(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The emulated API surface the run's endpoint said it is (``cloud.surface``, read from the
    endpoint's own X-Cfm-Surface header), or None for a real cloud (or a record older than it)."""
    found = (doc.get("cloud") or {}).get("surface")
    return found if isinstance(found, dict) and found.get("emulated") else None


def run_label(doc: dict[str, Any]) -> str:
    """"local / zed"; for an emulated surface never the release alone: "local-liberty / liberty
    (emulated over zed)"."""
    profile = doc.get("profile") or {}
    label = f"{profile.get('name', '?')} / {profile.get('release', '?')}"
    emulated = surface(doc)
    if emulated:
        label += f" (emulated over {emulated.get('over') or '?'})"
    return label


# ---- Certification level (issue 16) -------------------------------------------------------------
# A certification run (--certify) is judged against a versioned certification level
# (conformance/certify/levels/): CERTIFIED when every required case passed or was skipped for a
# reason the level allows, whatever the advisory cases did. ``verdict`` is the suite's verdict above,
# with that judgement attached for the reports' "Certification level" section.

_suite_verdict = verdict


def verdict(doc: dict[str, Any], check: Integrity | None = None) -> Verdict:  # noqa: F811 (wraps the one above)
    check = check or integrity(doc)
    result = _suite_verdict(doc, check)
    if doc.get("certify"):
        result.certification = certification(doc, check)
    return result


def certification(doc: dict[str, Any], check: Integrity | None = None):
    """The run judged against the certification level (conformance.certify.level.DEFAULT)."""
    from conformance.certify import level

    return level.judge(level.load(), doc, record_ok=(check or integrity(doc)).ok)
# ---- end Certification level ----------------------------------------------------------------------
