"""results.json from pytest's reports: the first failing phase decides a test, later phase errors stand
beside it, and an error of the test runner is blamed on the runner. Real pytest reports (with real
exception representations), no pytest run."""

import json
from pathlib import Path

import jsonschema
import pytest

import conformance
from conformance.core.errors import CleanupError, RunnerError
from conformance.report import build, results

pytestmark = pytest.mark.unit

SCHEMA = json.loads(Path(results.__file__).with_name("results.schema.json").read_text())
NODE = "suites/test_vip_network.py::test_ping"


class NoPingHere(RunnerError):
    """A subclass, as a tool lookup might raise."""


def report(when, exc=None, *, skip=None, node=NODE):
    """A TestReport as pytest makes it: failed with ``exc``'s real representation, skipped, or passed."""
    longrepr, outcome = None, "passed"
    if exc is not None:
        try:
            raise exc
        except BaseException:
            longrepr, outcome = pytest.ExceptionInfo.from_current().getrepr(), "failed"
    if skip is not None:
        longrepr, outcome = ("x.py", 1, f"Skipped: {skip}"), "skipped"
    props = [("case_id", "9bcedbbd-25ac-43fd-8530-ddf07c7d029f"), ("capability", "network_vip")] if when == "setup" else []
    return pytest.TestReport(node, ("x.py", 1, "test_ping"), {}, outcome, longrepr, when, user_properties=props,
                             duration=0.25)


def collect(*reports):
    collector = results.ResultsCollector()
    for rep in reports:
        collector.add(rep)
    return collector


def failure_caused_by_a_runner_error():
    try:
        try:
            raise RunnerError("ping is not installed", "Debian: apt-get install iputils-ping")
        except RunnerError as cause:
            raise AssertionError("the VM does not answer") from cause
    except AssertionError as exc:
        return exc


def cleanup_error():
    return CleanupError([("delete VM vm-1", RuntimeError("400 Bad Request"))])


def test_a_call_failure_stays_the_outcome_when_teardown_fails_too():
    (entry,) = collect(report("setup"), report("call", AssertionError("create_vm answered garbage")),
                       report("teardown", cleanup_error())).tests.values()
    assert (entry["outcome"], entry["blame"]) == ("failed", None)
    assert "create_vm answered garbage" in entry["reason"] and "create_vm answered garbage" in entry["longrepr"]
    assert [(p["when"], p["outcome"]) for p in entry["phases"]] == [
        ("setup", "passed"), ("call", "failed"), ("teardown", "error")]
    assert "400 Bad Request" in entry["phases"][2]["reason"], "the teardown error beside the call failure"


def test_a_teardown_error_after_a_pass_is_the_error():
    (entry,) = collect(report("setup"), report("call"), report("teardown", cleanup_error())).tests.values()
    assert entry["outcome"] == "error" and "1 cleanup step(s) failed" in entry["reason"]


def test_a_setup_error_stays_before_a_teardown_error():
    (entry,) = collect(report("setup", RuntimeError("no stemcell")), report("teardown", cleanup_error())).tests.values()
    assert entry["outcome"] == "error" and "no stemcell" in entry["reason"]
    assert [p["outcome"] for p in entry["phases"]] == ["error", "error"]


def test_a_skip_keeps_its_reason():
    (entry,) = collect(report("setup", skip="profile: features.vip_network is false"), report("teardown")).tests.values()
    assert (entry["outcome"], entry["reason"]) == ("skipped", "profile: features.vip_network is false")


@pytest.mark.parametrize("exc", [
    RunnerError("ping is not installed", "Debian: apt-get install iputils-ping"),
    NoPingHere("ping is not installed"),
    failure_caused_by_a_runner_error(),
], ids=["runner-error", "subclass", "cause-of-the-failure"])
def test_a_runner_error_in_the_call_is_an_error_of_the_runner(exc):
    (entry,) = collect(report("setup"), report("call", exc), report("teardown")).tests.values()
    assert (entry["outcome"], entry["blame"]) == ("error", "runner")
    assert entry["phases"][1] == {**entry["phases"][1], "when": "call", "outcome": "error", "blame": "runner"}


def test_other_failures_are_not_blamed_on_the_runner():
    for exc in (AssertionError("test runner: ping"), RuntimeError("ping is not installed on the test runner")):
        (entry,) = collect(report("call", exc)).tests.values()
        assert (entry["outcome"], entry["blame"]) == ("failed", None), exc


def test_the_blame_survives_the_trip_from_an_xdist_worker():
    sent = report("call", RunnerError("ping is not installed"))
    received = pytest.TestReport._from_json(sent._to_json())
    assert results.blame_of(received) == "runner"


def test_results_json_with_phases_follows_the_schema_and_reports_render_them(tmp_path):
    collector = collect(
        report("setup"), report("call", RunnerError("ping is not installed", "Debian: apt-get install iputils-ping")),
        report("teardown"),
        report("setup", node="suites/test_vm_lifecycle.py::test_reboot"),
        report("call", AssertionError("boot id unchanged"), node="suites/test_vm_lifecycle.py::test_reboot"),
        report("teardown", cleanup_error(), node="suites/test_vm_lifecycle.py::test_reboot"))
    collector.tests["suites/test_vm_lifecycle.py::test_reboot"]["capability"] = "vm_lifecycle"
    (tmp_path / "calls.jsonl").write_text("")
    doc = results.build(run_id="20261121t000000-abcd", profile_doc={}, profile_name="t", release="zed",
                        cpi_command=["cpi"], api_version=2, collector=collector, calls_path=tmp_path / "calls.jsonl",
                        fingerprint={"release": "zed", "services": {}}, certify=False, selection={"exitstatus": 1})
    jsonschema.validate(doc, SCHEMA)
    assert doc["schema_version"] == 2
    (tmp_path / "results.json").write_text(json.dumps(doc))
    build.write_reports(tmp_path)
    md, html = (tmp_path / "report.md").read_text(), (tmp_path / "report.html").read_text()
    assert "| Network type: VIP (floating IP), single per instance | **runner error** | 1 runner error | " \
           "1 of 1 not measured: conformance.core.errors.RunnerError: test runner: ping is not installed" in md
    assert "| VM lifecycle: create / has / reboot / metadata / delete | **no** | 1 failed | 1 of 1 failed |" in md
    assert "**Verdict: FAIL**: 1 failed" in md, "the real failure decides; the runner error is no failure"
    assert "  - **also error in teardown**: conformance.core.errors.CleanupError: 1 cleanup step(s) failed: " \
           "- delete VM vm-1: RuntimeError: 400 Bad Request" in md
    assert "also <span class=\"pill err\">error</span> in teardown:" in html and "400 Bad Request" in html


def test_a_version_2_record_without_phases_is_refused_by_the_schema():
    test = {"nodeid": "n", "name": "n", "case_id": None, "capability": None, "outcome": "passed", "duration": 0,
            "reason": None, "cpi_calls": []}
    doc = {"schema_version": 2, "tool": {"name": "t", "version": "0", "code_sha256": "0" * 64},
           "run_id": "20261121t000000-abcd", "started_at": 0, "finished_at": 1, "certify": False,
           "selection": {"exitstatus": 0}, "profile": {"name": "t", "release": "zed", "redacted": {}},
           "cpi": {"command": [], "api_version": 2, "info": None}, "cloud": {"release": "zed", "services": {}},
           "summary": {}, "tests": [test], "digest": {"algorithm": "sha256", "canonical": "0" * 64}}
    with pytest.raises(jsonschema.ValidationError, match="'blame' is a required property"):
        jsonschema.validate(doc, SCHEMA)
    jsonschema.validate({**doc, "schema_version": 1}, SCHEMA)  # a version 1 record is still valid


def test_observations_are_kept_once_and_shown_but_never_decide_the_verdict(tmp_path):
    seen = ("observation", "delete_vm of a VM already gone answered true where the docs say null")
    setup, call, teardown = report("setup"), report("call"), report("teardown")
    for rep in (call, teardown):  # pytest copies a test's user_properties into every later phase
        rep.user_properties.append(seen)
    collector = collect(setup, call, teardown)
    (tmp_path / "calls.jsonl").write_text("")
    doc = results.build(run_id="20261121t000000-abcd", profile_doc={}, profile_name="t", release="zed",
                        cpi_command=["cpi"], api_version=2, collector=collector, calls_path=tmp_path / "calls.jsonl",
                        fingerprint={"release": "zed", "services": {}}, certify=False, selection={"exitstatus": 0})
    jsonschema.validate(doc, SCHEMA)
    assert doc["tests"][0]["observations"] == [seen[1]]
    (tmp_path / "results.json").write_text(json.dumps(doc))
    build.write_reports(tmp_path)
    md, html = (tmp_path / "report.md").read_text(), (tmp_path / "report.html").read_text()
    assert "**Verdict: PASS**" in md
    assert f"## Observations (1): beyond the contract, never a failure\n\n- **test_ping** (network_vip): {seen[1]}" in md
    assert "answered true where the docs say null" in html


def test_a_check_that_does_not_apply_is_recorded_as_not_checked_and_shown(tmp_path):
    from conformance.run.expect import applies

    setup, call, teardown = report("setup"), report("call"), report("teardown")

    def record_property(name, value):
        call.user_properties.append((name, value))

    assert applies(record_property, True, "the server's flavor", "no instance_type") is True
    assert applies(record_property, False, "info answers an api_version >= 2",
                   "the profile speaks CPI API v1 (cpi.api_version)") is False
    teardown.user_properties.extend(call.user_properties)  # pytest copies them into later phases
    doc = results.build(run_id="20261121t000000-abcd", profile_doc={}, profile_name="t", release="zed",
                        cpi_command=["cpi"], api_version=1, collector=collect(setup, call, teardown),
                        calls_path=tmp_path / "calls.jsonl", fingerprint={"release": "zed", "services": {}},
                        certify=False, selection={"exitstatus": 0})
    jsonschema.validate(doc, SCHEMA)
    text = "info answers an api_version >= 2: the profile speaks CPI API v1 (cpi.api_version)"
    assert doc["tests"][0]["not_checked"] == [text]
    (tmp_path / "results.json").write_text(json.dumps(doc))
    build.write_reports(tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert f"## Not checked (1): checks that do not apply to this profile\n\n- **test_ping** (network_vip): {text}" in md
    assert "info answers an api_version &gt;= 2: the profile speaks CPI API v1" in (tmp_path / "report.html").read_text()


def test_code_digest_covers_the_whole_package(monkeypatch):
    """code_sha256 hashes the whole conformance package (the suites, the CPI client, the run's
    machinery), not the report folder that results.py lives in; SUITES is conformance/suites."""
    package = Path(conformance.__file__).parent
    read = []
    real_read_bytes = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self) or real_read_bytes(self))

    results.code_digest()

    assert results.SUITES == package / "suites" and results.SUITES.is_dir()
    hashed = {path.relative_to(package).as_posix() for path in read}
    assert {"suites/test_vm_lifecycle.py", "cpi/client.py", "cpi/director.py", "run/plugin.py",
            "core/errors.py", "cli.py"} <= hashed, "files the digest covers"
