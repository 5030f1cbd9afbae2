"""The run's end: results.json written by the controlling process (never by an xdist worker)."""

from __future__ import annotations

import json
import logging

import pytest

from conformance.core.cleanup import Ledger
from conformance.core.jsonl import read_jsonl
from conformance.profile import redacted
from conformance.report import allure_steps
from conformance.report.results import ResultsCollector, build

log = logging.getLogger("conformance.reporting")


class ResultsPlugin:
    def __init__(self, state, config):
        self.state, self.config = state, config
        self.collector = ResultsCollector()

    def pytest_runtest_logreport(self, report):
        self.collector.add(report)

    def pytest_sessionstart(self, session):
        """junit.xml's testsuite properties: the run's environment (profile, release, CPI, run id)."""
        try:
            from _pytest.junitxml import xml_key  # pytest's own key for its LogXML (no public accessor)
        except ImportError:
            return
        xml = self.config.stash.get(xml_key, None)
        if xml is not None:
            for name, value in self.environment().items():
                xml.add_global_property(name, value)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus):
        """After everything else at the session's end (the last teardowns included), whatever
        failed there: results.json is always written."""
        try:
            return (yield)
        finally:
            interrupts = self.state.interrupts
            if interrupts and interrupts.exit_code():
                session.exitstatus = interrupts.exit_code()
            try:
                cleanup = leave_nothing(self.state)
            except Exception as exc:  # the results are written all the same, with the reason
                cleanup = {"error": f"{type(exc).__name__}: {str(exc)[:500]}"}
                self.state.say(f"end-of-run sweep failed: {cleanup['error']}")
            self._write(int(session.exitstatus), cleanup)

    def _write(self, exitstatus: int, cleanup: dict) -> None:
        state, profile = self.state, self.state.profile
        doc = build(run_id=state.run_id, profile_doc=redacted(profile), profile_name=profile.name,
                    release=profile.release, cpi_command=profile.command_with_dirs(),
                    api_version=profile.cpi.api_version, collector=self.collector,
                    calls_path=state.report_dir / "calls.jsonl", fingerprint=self._fingerprint(),
                    certify=bool(self.config.getoption("cfm_certify")),
                    selection={"keyword": self.config.getoption("keyword") or None,
                               "markexpr": self.config.getoption("markexpr") or None,
                               "only": self.config.getoption("cfm_only") or None,  # --last-failed
                               "exitstatus": exitstatus},
                    interrupted=state.interrupts.record() if state.interrupts else None,
                    session_errors=read_jsonl(state.report_dir / "session-errors.jsonl"), cleanup=cleanup)
        path = state.report_dir / "results.json"
        path.write_text(json.dumps(doc, indent=1, sort_keys=True, default=str))
        alluredir = self.config.getoption("allure_report_dir", None)
        if alluredir:
            from conformance import __version__

            allure_steps.write_run_files(alluredir, self.environment(), {
                "name": "cpi-conformance", "type": "cpi-conformance", "buildName": state.run_id,
                "reportName": f"{profile.name} ({profile.release}): run {state.run_id}",
                "reportUrl": "", "buildUrl": "", "version": __version__})

    def environment(self) -> dict[str, str]:
        """What a CI system shows beside the results (allure environment.properties, junit.xml's
        testsuite properties): the profile, its release and cloud, the CPI, the witnesses, the run."""
        from conformance import __version__

        profile = self.state.profile
        return {"profile": profile.name, "release": profile.release, "cloud": profile.cloud or "",
                "cpi": " ".join(profile.command_with_dirs()), "cpi_api_version": str(profile.cpi.api_version),
                "witnesses": ",".join(profile.witness_options) or "none", "run_id": self.state.run_id,
                "cpi_conformance": __version__}

    def _fingerprint(self) -> dict:
        profile = self.state.profile
        base = {"release": profile.release, "cloud": profile.cloud, "witnesses": list(profile.witness_options)}
        if not profile.cloud_api:
            return {**base, "services": {}, "note": "no cloud API to ask (profile: cloud)"}
        try:
            from conformance.cloud import fingerprint, openstack

            return {**base, **fingerprint.fingerprint(openstack.connect(profile.cloud, profile.region))}
        except Exception as exc:  # the report is still written, with the reason
            return {**base, "services": {}, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}


def _by_kind(resources: list[dict]) -> dict[str, dict[str, int]]:
    """Ledger events counted per kind of resource (server, volume, ...): created, deleted by the
    tests, kept on purpose: the report's resource table."""
    counts: dict[str, dict[str, int]] = {}
    for e in resources:
        if e["event"] in ("created", "deleted", "abandoned"):
            row = counts.setdefault(e["kind"], {"created": 0, "deleted": 0, "abandoned": 0})
            row[e["event"]] += 1
    return counts


def leave_nothing(state) -> dict:
    """The run's last word on its resources: what its ledger still holds (not kept on purpose with
    --keep-on-failure) and what CPI calls without a usable answer created are removed through the
    cloud API, not the CPI (which may be the broken part), and said. Returns results.json's
    "cleanup" record: counts, what was swept, what could not be, what could not be attributed."""
    profile, path = state.profile, state.report_dir / "ledger.jsonl"
    entries = Ledger.read(path) if path.exists() else []
    resources = [e for e in entries if e["kind"] != "call"]
    kept = {(e["kind"], e["id"]) for e in resources if e["event"] == "abandoned"}
    outstanding = [e for e in Ledger.live(entries) if (e["kind"], e["id"]) not in kept]
    by_kind = _by_kind(resources)
    record = {"created": sum(r["created"] for r in by_kind.values()),
              "deleted": sum(r["deleted"] for r in by_kind.values()), "kept": sorted(i for _, i in kept),
              "swept": [{"kind": e["kind"], "id": e["id"], "name": e.get("name", ""), "why": e.get("reason", ""),
                         "request_id": e.get("request_id"), "after": e.get("test")}
                        for e in resources if e["event"] == "reaped"],
              "failed": [], "unattributed": [], "left": [], "by_kind": by_kind}
    from conformance.cloud import attribution

    suspects = attribution.suspect_calls(entries, default_timeout=profile.timeouts.cpi_call)
    if not outstanding and not suspects:
        return record
    left = [f"{e['kind']} {e['id']}" for e in outstanding]
    if not profile.cloud_api or state.cut_short():
        why = "the cleanup was cut short" if state.cut_short() else "no cloud API to remove them with (profile: cloud)"
        record["left"] = left
        if left:
            state.say(f"{len(left)} resource(s) left ({why}): {', '.join(left)}; remove them with "
                f"`conformance cleanup --run-id {state.run_id} --profile {profile.source}`")
        return record
    from conformance.cloud import openstack, sweep

    conn = openstack.connect(profile.cloud, profile.region)
    items = [item for item in sweep.from_entries(entries, "still in the ledger at the end of the run (its cleanup "
                                                          "failed or never ran)") if (item.kind, item.id) not in kept]
    outcome = sweep.remove(conn, items, profile.timeouts)
    deleted, failed, unattributed = sweep.reap_calls(conn, path, [w.request_id for w in suspects], (), profile.timeouts)
    for item in outcome.deleted:
        state.ledger.record("deleted", item.kind, item.id, by="end-of-run sweep")
        record["swept"].append({**item.doc(), "why": item.reason})
        state.say(f"end of run: removed {item.kind} {item.id} through the cloud API ({item.reason})")
    for finding in deleted:
        record["swept"].append({"kind": finding.kind, "id": finding.id, "name": finding.name,
                                "why": finding.reason, "request_id": finding.request_id})
        state.say(f"end of run: removed {finding.kind} {finding.id}: {finding.reason}")
    for item, why in [*outcome.failed, *failed]:
        record["failed"].append({"kind": item.kind, "id": item.id, "name": item.name, "error": why})
    for finding in unattributed:
        record["unattributed"].append({"kind": finding.kind, "id": finding.id, "name": finding.name,
                                       "why": finding.reason})
        state.say(f"end of run: not removed (cannot be attributed to this run): {finding.kind} {finding.id}: "
            f"{finding.reason}")
    record["left"] = [f"{f['kind']} {f['id']}" for f in record["failed"]]
    if record["left"]:
        state.say(f"{len(record['left'])} resource(s) could not be removed: "
            + "; ".join(f"{f['kind']} {f['id']}: {f['error']}" for f in record["failed"])
            + f"; try `conformance cleanup --run-id {state.run_id} --profile {profile.source}`")
    return record
