"""A runner problem mid-run is never a cloud verdict, and a teardown error never hides the test's own
failure: the plugin run by pytester with the fake CPI profile, with and without xdist, then
results.json and the rendered report read as a user reads them."""

import json
from pathlib import Path

import jsonschema
import pytest

from conformance.report import build

pytestmark = pytest.mark.component

pytest_plugins = ["pytester"]
FAKE_PROFILE = Path(__file__).parents[1] / "fixtures" / "profiles" / "fake.yml"
SCHEMA = json.loads((Path(__file__).parents[2] / "conformance" / "report" / "results.schema.json").read_text())
SOURCE = """
import pytest
from conformance.run import netcheck
from conformance.core.errors import CleanupError

@pytest.mark.case("9bcedbbd-25ac-43fd-8530-ddf07c7d029f")
@pytest.mark.capability("network_vip")
def test_floating_ip_answers_ping():
    assert netcheck.ping("127.0.0.1", count=1, timeout=1), "ping from the runner"

@pytest.fixture
def failing_cleanup():
    yield
    raise CleanupError([("delete VM vm-1", RuntimeError("CPI delete_vm: 400 Bad Request"))])

@pytest.mark.case("6b0c2f4e-8d1a-4c1e-9a57-3f2d9e7b1c20")
@pytest.mark.capability("vm_lifecycle")
def test_create_vm(failing_cleanup):
    assert False, "create_vm answered garbage"
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_runner_error_and_teardown_error_in_results_and_report(pytester, monkeypatch, xdist):
    no_ping = pytester.path / "bin"
    no_ping.mkdir()
    monkeypatch.setenv("PATH", str(no_ping))
    pytester.makeini("[pytest]\nconformance_require_case_ids = true\n")
    pytester.makepyfile(test_suite=SOURCE)
    result = pytester.runpytest_subprocess("--profile", str(FAKE_PROFILE), "--report-dir", str(pytester.path / "r"),
                                           "--run-id", "20261121t000000-abcd", "-p", "no:cacheprovider", *xdist)
    result.assert_outcomes(failed=2, errors=1)
    run_dir = pytester.path / "r" / "20261121t000000-abcd"
    doc = json.loads((run_dir / "results.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    tests = {t["name"]: t for t in doc["tests"]}

    ping = tests["test_floating_ip_answers_ping"]
    assert (ping["outcome"], ping["blame"]) == ("error", "runner")
    assert ping["reason"] == "conformance.core.errors.RunnerError: test runner: ping is not installed " \
                             "(Debian: apt-get install iputils-ping)"
    create = tests["test_create_vm"]
    assert (create["outcome"], create["blame"]) == ("failed", None)
    assert "create_vm answered garbage" in create["reason"], "the call's failure stays the test's reason"
    teardown = [p for p in create["phases"] if p["when"] == "teardown"]
    assert teardown[0]["outcome"] == "error" and "400 Bad Request" in teardown[0]["reason"]

    build.write_reports(run_dir)
    md = (run_dir / "report.md").read_text()
    assert "| Network type: VIP (floating IP), single per instance | **runner error** | 1 runner error |" in md
    assert "| VM lifecycle: create / has / reboot / metadata / delete | **no** | 1 failed |" in md
    assert "**also error in teardown**: conformance.core.errors.CleanupError: 1 cleanup step(s) failed: " \
           "- delete VM vm-1: RuntimeError: CPI delete_vm: 400 Bad Request" in md
