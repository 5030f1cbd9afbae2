"""Allure steps and attachments for CI systems that read allure-results/.

Each CPI call becomes a step of the running test, with its real start and stop times (it is
recorded after the call returned, so ``allure.step`` as a context manager would time nothing),
and the call's redacted record attached to the step. A failed test gets its CPI transcript and the
CPI's log attached. Everything here is a no-op when allure-pytest is not active (no --alluredir),
and never raises into the test: a reporting hiccup must not change an outcome.

Records handed here are already redacted by the CPI client (conformance.cpi.record).
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

log = logging.getLogger("conformance.report.allure")

ATTACH_LIMIT = 20_000
#: report.sections (added by conformance.run.session) worth attaching when a test fails.
FAILURE_SECTIONS = ("cpi-calls", "cpi-log")  # captured output: allure-pytest attaches it itself
#: Call outcomes where the protocol itself broke (an answered CPI error is a normal answer).
BROKEN = ("broken", "timeout", "not-runnable")


def _reporter():
    """allure-pytest's reporter when it is listening (--alluredir given), else None."""
    try:
        from allure_commons import plugin_manager
    except ImportError:
        return None
    for plugin in plugin_manager.get_plugins():
        reporter = getattr(plugin, "allure_logger", None)
        if reporter is not None:
            return reporter
    return None


def record_call(record: Any) -> None:
    """Add a finished CPI call (a CallRecord, or its dict) as a step of the current test."""
    reporter = _reporter()
    if reporter is None:
        return
    try:
        _add_step(reporter, record.to_dict() if hasattr(record, "to_dict") else dict(record))
    except Exception as exc:  # never let the report change a test's outcome
        log.debug("allure step for a CPI call not recorded: %s", exc)


def _add_step(reporter, call: dict[str, Any]) -> None:
    from allure_commons.model2 import Parameter, Status, TestStepResult
    from allure_commons.types import AttachmentType

    if reporter._last_executable() is None:  # no test or fixture is running: nowhere to put it
        return
    started = float(call.get("started_at") or 0.0)
    stopped = started + float(call.get("duration") or 0.0)
    outcome = call.get("outcome") or "ok"
    answer = f" -> {call['error_type']}" if call.get("error_type") else ""
    step = TestStepResult(name=f"CPI {call.get('method')}{answer}", start=int(started * 1000),
                          parameters=[Parameter(name="request_id", value=str(call.get("request_id"))),
                                      Parameter(name="outcome", value=outcome),
                                      Parameter(name="duration", value=f"{stopped - started:.3f} s")])
    step_id = str(uuid.uuid4())
    reporter.start_step(None, step_id, step)
    body = json.dumps(call, indent=1, sort_keys=True, default=str)[:ATTACH_LIMIT]
    reporter.attach_data(str(uuid.uuid4()), body, name=f"CPI {call.get('method')} {call.get('request_id')}",
                         attachment_type=AttachmentType.JSON, parent_uuid=step_id)
    status = Status.BROKEN if outcome in BROKEN else Status.PASSED
    reporter.stop_step(step_id, stop=int(stopped * 1000), status=status)


@contextlib.contextmanager
def step(title: str) -> Iterator[None]:
    """A witness step (guest probe, cloud check): ``with allure_steps.step("guest: lsblk"): ...``."""
    if _reporter() is None:
        yield
        return
    import allure

    with allure.step(title):
        yield


def attach_on_failure(item: Any, sections: Iterable[tuple[str, str]]) -> None:
    """Attach the CPI transcript, the CPI's log and captured output of a failed test phase."""
    if _reporter() is None:
        return
    try:
        import allure

        for name, text in sections:
            if text and name.startswith(FAILURE_SECTIONS):
                allure.attach(text[-ATTACH_LIMIT:], name=name, attachment_type=allure.attachment_type.TEXT)
    except Exception as exc:
        log.debug("allure attachments for %s not recorded: %s", getattr(item, "nodeid", item), exc)


def label_test(*, case_id: str | None, capability: str, name: str, profile: str, release: str,
               bug: str | None = None) -> None:
    """Labels a CI system groups by (epic cpi-conformance, feature = capability, story = the test,
    case_id), the profile and release as parameters (so that the same test on two profiles has two
    historyIds, not retries of one), and the links of a known failure's bug text."""
    if _reporter() is None:
        return
    try:
        import allure

        allure.dynamic.epic("cpi-conformance")
        allure.dynamic.feature(capability)
        allure.dynamic.story(name)
        if case_id:
            allure.dynamic.label("case_id", case_id)
        allure.dynamic.parameter("profile", profile)
        allure.dynamic.parameter("release", release)
        for word in (bug or "").split():
            if word.startswith(("https://", "http://")):
                allure.dynamic.issue(word.rstrip(".,;)"), word.rstrip(".,;)"))
    except Exception as exc:  # never let the report change a test's outcome
        log.debug("allure labels for %s not recorded: %s", name, exc)


#: How allure groups failures (categories.json): a runner problem is never a verdict on the cloud.
CATEGORIES = [
    {"name": "Runner problems (no verdict on the CPI or the cloud)", "messageRegex": ".*RunnerError.*",
     "matchedStatuses": ["failed", "broken"]},
    {"name": "The CPI broke the protocol (no answer, garbage, timeout)",
     "messageRegex": ".*(CpiBrokenResponse|CpiTimeout|CpiNotRunnable|SecretLeak).*",
     "matchedStatuses": ["failed", "broken"]},
    {"name": "The cloud never showed a CPI call's effect", "messageRegex": ".*(WaitTimeout|WaitFailed).*",
     "matchedStatuses": ["failed", "broken"]},
    {"name": "Contract failures", "matchedStatuses": ["failed"]},
    {"name": "Errors in setup or teardown", "matchedStatuses": ["broken"]},
]


def write_run_files(alluredir, environment: dict[str, Any], executor: dict[str, Any]) -> None:
    """environment.properties, categories.json and executor.json beside the results (Allure reads
    them for its Environment, Categories and Executor panels). Values are one line each."""
    from pathlib import Path

    folder = Path(alluredir)
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"{key}={' '.join(str(value).split())}" for key, value in environment.items()]
    (folder / "environment.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "categories.json").write_text(json.dumps(CATEGORIES, indent=1), encoding="utf-8")
    (folder / "executor.json").write_text(json.dumps(executor, indent=1), encoding="utf-8")
