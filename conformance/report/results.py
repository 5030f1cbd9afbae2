"""results.json: one machine-readable record per run, from which every report is rendered.

Written by the controlling pytest process at the end of the run, from the test reports it saw
(xdist workers report to it) and the CPI calls the workers appended to calls.jsonl. Schema:
conformance/report/results.schema.json (versioned; the project's tests validate real output).
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.core.errors import RunnerError
from conformance.core.jsonl import read_jsonl

SCHEMA_VERSION = 2  # 2: each test's "phases" and "blame" (version 1 records have neither)
PACKAGE = Path(__file__).parents[1]  # conformance/: the code a run is made of
SUITES = PACKAGE / "suites"
FAILING = ("failed", "error")


class ResultsCollector:
    """Gathers one entry per test from the reports of setup / call / teardown.

    The first phase that fails decides the test's outcome, reason and blame: a call failure stays
    the test's verdict when teardown then fails too (a cleanup error after the real cause). Every
    phase is kept in ``phases``, so the later errors stand beside the first one.
    """

    def __init__(self):
        self.started = time.time()
        self.tests: dict[str, dict[str, Any]] = {}

    def add(self, report, item_info: dict[str, Any] | None = None) -> None:
        entry = self.tests.setdefault(report.nodeid, {
            "nodeid": report.nodeid, "name": report.nodeid.split("::")[-1], "outcome": "passed",
            "duration": 0.0, "case_id": None, "capability": None, "reason": None, "longrepr": None,
            "blame": None, "phases": [], "observations": [], "not_checked": [], "witness_checks": [], "waits": {}})
        props = dict(report.user_properties)
        for name, value in report.user_properties:  # beyond the contract: noted, never a verdict
            if name == "observation" and str(value) not in entry["observations"]:
                entry["observations"].append(str(value))
            if name == "not_checked" and str(value) not in entry["not_checked"]:  # a check that does not apply
                entry["not_checked"].append(str(value))
            if name == "waits" and isinstance(value, dict):  # seconds in waits by kind (conformance.run.progress)
                for kind, seconds in value.items():
                    entry["waits"][str(kind)] = round(entry["waits"].get(str(kind), 0.0) + float(seconds), 3)
            if name == "witness_check" and isinstance(value, dict) and value not in entry["witness_checks"]:
                entry["witness_checks"].append({"check": str(value.get("check")), "by": list(value.get("by") or []),
                                                "unseen": dict(value.get("unseen") or {})})
        entry["case_id"] = entry["case_id"] or props.get("case_id")
        entry["capability"] = entry["capability"] or props.get("capability")
        if props.get("requirement"):
            entry["requirement"] = str(props["requirement"])
        entry["duration"] += getattr(report, "duration", 0.0) or 0.0
        start, stop = getattr(report, "start", None), getattr(report, "stop", None)  # epoch seconds (pytest >= 7)
        if isinstance(start, float):
            entry["started_at"] = min(entry.get("started_at") or start, start)
        if isinstance(stop, float):
            entry["finished_at"] = max(entry.get("finished_at") or stop, stop)
        worker = getattr(getattr(getattr(report, "node", None), "gateway", None), "id", None)  # xdist's controller
        if worker:
            entry["worker"] = str(worker)
        blame = blame_of(report)
        outcome = _outcome(report, blame)
        reason = _reason(report, outcome) if outcome else None
        entry["phases"].append({"when": report.when, "outcome": outcome or "passed", "reason": reason,
                                "blame": blame, "duration": getattr(report, "duration", 0.0) or 0.0})
        if outcome is None or entry["outcome"] in FAILING:
            return
        if outcome in FAILING or entry["outcome"] == "passed":
            entry.update(outcome=outcome, reason=reason, blame=blame)
            if outcome in FAILING:
                entry["longrepr"] = str(report.longrepr)[-8000:]


def blame_of(report) -> str | None:
    """"runner" when a phase failed on a RunnerError (anywhere in its exception chain): the machine
    running the suite lacked something, which is no verdict on the CPI or the cloud. Read from the
    report's crash messages ("conformance.core.errors.RunnerError: ..."), which xdist carries from its
    workers as they are; None for anything else (not known to be anyone's fault)."""
    if not report.failed:
        return None
    longrepr = report.longrepr
    crashes = [crash for _tb, crash, _descr in getattr(longrepr, "chain", None) or []]
    crashes.append(getattr(longrepr, "reprcrash", None))
    names = _runner_error_names()
    for crash in crashes:
        message = getattr(crash, "message", None) or ""
        if message.split(":", 1)[0].strip() in names:
            return "runner"
    return None


def _runner_error_names() -> set[str]:
    todo, names = [RunnerError], set()
    while todo:
        cls = todo.pop()
        names.add(f"{cls.__module__}.{cls.__qualname__}")
        todo += cls.__subclasses__()
    return names


def _outcome(report, blame: str | None = None) -> str | None:
    if hasattr(report, "wasxfail"):
        return "xpassed" if report.passed else "xfailed"
    if report.skipped:
        return "skipped"
    if report.failed:
        return "failed" if report.when == "call" and blame is None else "error"
    return "passed" if report.when == "call" else None


def _reason(report, outcome: str) -> str | None:
    if outcome == "skipped" and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    if outcome in ("xfailed", "xpassed"):
        return str(getattr(report, "wasxfail", "")) or None
    if outcome in ("failed", "error"):
        crash = getattr(report.longrepr, "reprcrash", None)
        return crash.message[:2000] if crash is not None else str(report.longrepr)[-500:]
    return None


def code_digest() -> str:
    """SHA-256 over the suite's own code (the suites and the machinery they run on)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def canonical_digest(doc: dict[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def build(*, run_id: str, profile_doc: dict, profile_name: str, release: str, cpi_command: list[str],
          api_version: int, collector: ResultsCollector, calls_path: Path, fingerprint: dict, certify: bool,
          selection: dict, interrupted: dict | None = None, session_errors: list | None = None,
          cleanup: dict | None = None) -> dict[str, Any]:
    calls = read_jsonl(calls_path)
    by_test: dict[str, list] = {}
    for call in calls:
        by_test.setdefault(call.get("nodeid", ""), []).append({
            **{k: call.get(k) for k in ("method", "request_id", "duration", "outcome", "error_type", "started_at")},
            **({"ahead": True} if call.get("ahead") else {})})
    info = next((c.get("result") for c in calls if c.get("method") == "info" and c.get("outcome") == "ok"), None)
    tests = []
    for entry in collector.tests.values():
        tests.append({**entry, "cpi_calls": by_test.get(entry["nodeid"], [])})
    counts: dict[str, int] = {}
    for t in tests:
        counts[t["outcome"]] = counts.get(t["outcome"], 0) + 1
    doc = {
        "schema_version": SCHEMA_VERSION, "tool": {"name": "cpi-conformance", "version": __version__,
                                                    "python": platform.python_version(), "code_sha256": code_digest()},
        "run_id": run_id, "started_at": collector.started, "finished_at": time.time(),
        "certify": certify, "selection": selection,
        "profile": {"name": profile_name, "release": release, "redacted": profile_doc},
        "cpi": {"command": cpi_command, "api_version": api_version, "info": info},
        "cloud": fingerprint, "summary": counts, "tests": sorted(tests, key=lambda t: t["nodeid"]),
        "setup_calls": by_test.get("session", []),
        "interrupted": interrupted, "session_errors": session_errors or [], "cleanup": cleanup or {},
    }
    doc["digest"] = {"algorithm": "sha256", "canonical": canonical_digest(doc)}
    return doc
