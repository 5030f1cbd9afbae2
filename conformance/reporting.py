"""The run's end: results.json written by the controlling process (never by an xdist worker)."""

from __future__ import annotations

import json
import logging

import pytest

from conformance.jsonl import read_jsonl
from conformance.profile import redacted
from conformance.results import ResultsCollector, build

log = logging.getLogger("conformance.reporting")


class ResultsPlugin:
    def __init__(self, state, config):
        self.state, self.config = state, config
        self.collector = ResultsCollector()

    def pytest_runtest_logreport(self, report):
        self.collector.add(report)

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
            self._write(int(session.exitstatus))

    def _write(self, exitstatus: int) -> None:
        state, profile = self.state, self.state.profile
        doc = build(run_id=state.run_id, profile_doc=redacted(profile), profile_name=profile.name,
                    release=profile.release, cpi_command=profile.command_with_dirs(),
                    api_version=profile.cpi.api_version, collector=self.collector,
                    calls_path=state.report_dir / "calls.jsonl", fingerprint=self._fingerprint(),
                    certify=bool(self.config.getoption("certify")),
                    selection={"keyword": self.config.getoption("keyword") or None,
                               "markexpr": self.config.getoption("markexpr") or None,
                               "exitstatus": exitstatus},
                    interrupted=state.interrupts.record() if state.interrupts else None,
                    session_errors=read_jsonl(state.report_dir / "session-errors.jsonl"))
        path = state.report_dir / "results.json"
        path.write_text(json.dumps(doc, indent=1, sort_keys=True, default=str))

    def _fingerprint(self) -> dict:
        profile = self.state.profile
        base = {"release": profile.release, "cloud": profile.cloud}
        if profile.cloud is None or not profile.features.cloud_witness:
            return {**base, "services": {}, "note": "no cloud witness (profile: features.cloud_witness)"}
        try:
            from conformance.cloud import fingerprint, inspector

            return {**base, **fingerprint.fingerprint(inspector.connect(profile.cloud, profile.region))}
        except Exception as exc:  # the report is still written, with the reason
            return {**base, "services": {}, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
