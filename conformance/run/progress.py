"""Live progress on the console, and where each test's time went: each test's start and end with its worker and time, and every wait
longer than a few seconds (what it waits for, elapsed of its timeout, what it last saw). Plain lines
on stderr, one write each, no cursor tricks: readable with ``-n`` (each worker writes its own lines,
prefixed with its id) and in a CI log.

    conformance: gw0: start test_vm_lifecycle.py::test_reboot_vm_really_reboots_the_guest
    conformance: gw0: waiting for VM 5b1c... to answer SSH with a boot id other than ... (31s of 600s)
    conformance: gw0: PASSED test_vm_lifecycle.py::test_reboot_vm_really_reboots_the_guest (74.2s)

Registered by the plugin in every process of a run but the xdist controller, which only relays.
Where pytest's terminal is (the controller, or a run without xdist), its one-letter progress
(``..sE.F``) is dropped: it would run into these lines; the final summary stays.
"""

from __future__ import annotations

import pytest

from conformance.core import waiting

#: Per test: its outcome so far and its seconds (setup + call + teardown).
TESTS = pytest.StashKey[dict]()


def short(nodeid: str) -> str:
    """suites/test_x.py::test_y -> test_x.py::test_y"""
    return nodeid.split("/")[-1]


def outcome_word(report, previous: str) -> str:
    if previous != "PASSED":
        return previous  # the first phase that did not pass decides, as in results.json
    if hasattr(report, "wasxfail"):
        return "XFAIL" if report.skipped else "XPASS"
    if report.failed:
        return "FAILED" if report.when == "call" else "ERROR"
    if report.skipped:
        return "SKIPPED"
    return "PASSED"


class Progress:
    """The lines above, and the time accounting: each test's seconds in waits by kind (cloud, guest,
    other), reported with its teardown as the user property ``waits`` (results.json tests[].waits)."""

    def __init__(self, config, say):
        self.config, self.say = config, say
        self.waits: dict[str, float] = {}
        config.stash[TESTS] = {}

    def start(self) -> None:
        waiting.report_progress_to(self.say)
        waiting.account_waits_to(self.count)
        self.config.add_cleanup(lambda: (waiting.report_progress_to(None), waiting.account_waits_to(None)))

    def count(self, kind: str, seconds: float) -> None:
        self.waits[kind] = self.waits.get(kind, 0.0) + seconds

    @pytest.hookimpl
    def pytest_runtest_logstart(self, nodeid, location):
        self.waits = {}
        self.say(f"start {short(nodeid)}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.when == "teardown":
            report.user_properties.append(("waits", {kind: round(s, 3) for kind, s in sorted(self.waits.items())}))
        return report

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report):
        tests = self.config.stash[TESTS]
        entry = tests.setdefault(report.nodeid, {"outcome": "PASSED", "seconds": 0.0})
        entry["seconds"] += getattr(report, "duration", 0.0) or 0.0
        entry["outcome"] = outcome_word(report, entry["outcome"])
        if report.skipped and isinstance(report.longrepr, tuple) and "reason" not in entry:
            entry["reason"] = str(report.longrepr[2]).removeprefix("Skipped: ")
        if report.when == "teardown":
            tests.pop(report.nodeid)
            reason = f": {entry['reason']}" if entry["outcome"] == "SKIPPED" and entry.get("reason") else ""
            self.say(f"{entry['outcome']} {short(report.nodeid)} ({entry['seconds']:.1f}s){reason}")


class NoLetters:
    """pytest's status letters (``.``, ``s``, ``F``) left out; the categories, and so pytest's
    summary line, unchanged."""

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report, config):
        status = yield
        if isinstance(status, tuple) and len(status) == 3 and not config.getoption("verbose", 0) > 0:
            category, _, word = status
            return category, "", word
        return status
