"""`conformance run`'s own options as a user types them: --last-failed, a reused --run-id, pytest's
cache flags; the fake CPI, real processes, no cloud."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = pytest.mark.component

ROOT = Path(__file__).parents[2]
FAKE_PROFILE = ROOT / "tests" / "fixtures" / "profiles" / "fake.yml"


def conformance(*args):
    return subprocess.run([sys.executable, "-m", "conformance.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def run(report_dir: Path, *args) -> subprocess.CompletedProcess:
    return conformance("run", "--profile", FAKE_PROFILE, "--report-dir", report_dir, *args)


def executed(run_dir: Path) -> list[str]:
    """The tests of a run in the order they ran (junit.xml's testcases)."""
    return [f"{case.get('classname')}.{case.get('name')}" for case in ET.parse(run_dir / "junit.xml").iter("testcase")]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """The whole suite against the fake CPI: passes, failures, setup errors and skips."""
    reports = tmp_path_factory.mktemp("reports")
    done = run(reports)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    (run_dir,) = reports.iterdir()
    return run_dir, json.loads((run_dir / "results.json").read_text())


def test_last_failed_reruns_the_failures_of_the_newest_run_in_the_suites_order(first_run, tmp_path):
    run_dir, doc = first_run
    failing = {t["nodeid"] for t in doc["tests"] if t["outcome"] in ("failed", "error")}
    assert len(failing) >= 2 and len(failing) < len(doc["tests"]), doc["summary"]
    older = tmp_path / "20200101t000000-0000"  # an older run with other failures: not the one taken
    older.mkdir()
    (older / "results.json").write_text(json.dumps({"tests": [{"nodeid": "suites/x.py::t", "outcome": "failed"}]}))
    (tmp_path / run_dir.name).mkdir()
    (tmp_path / run_dir.name / "results.json").write_text(json.dumps(doc))

    done = run(tmp_path, "--last-failed")

    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert (f"conformance run: --last-failed: rerunning {len(failing)} failed or errored test(s) of run "
            f"{doc['run_id']} ({tmp_path / run_dir.name})") in done.stdout
    (rerun,) = set(tmp_path.iterdir()) - {older, tmp_path / run_dir.name}
    again = json.loads((rerun / "results.json").read_text())
    assert {t["nodeid"] for t in again["tests"]} == failing, "exactly the failures ran again"
    assert sorted(again["selection"]["only"]) == sorted(failing)
    names = {n.split("::")[-1] for n in failing}
    assert executed(rerun) == [n for n in executed(run_dir) if n.rsplit(".", 1)[-1] in names], (
        "the suite's order, not results.json's sorted one")


def test_last_failed_with_no_run_or_no_failure_says_so(tmp_path):
    none = run(tmp_path, "--last-failed")
    assert none.returncode == 2 and not any(tmp_path.iterdir())
    assert none.stderr.strip() == (f"conformance run: --last-failed: no run folder under {tmp_path} holds a "
                                   "results.json: nothing to rerun")
    clean = tmp_path / "20261202t000000-abcd"
    clean.mkdir()
    (clean / "results.json").write_text(json.dumps({"run_id": clean.name, "tests": [
        {"nodeid": "suites/test_info_contract.py::test_a", "outcome": "passed"}]}))
    done = run(tmp_path, "--last-failed")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"conformance run: --last-failed: run {clean.name} ({clean}) has no failed or "
                                   "errored test: nothing to rerun")
    assert list(tmp_path.iterdir()) == [clean], "no run started"


def test_a_run_id_that_already_holds_a_run_is_refused(first_run, tmp_path):
    run_dir, _ = first_run
    used = tmp_path / run_dir.name
    used.mkdir()
    for name in ("results.json", "ledger.jsonl", "calls.jsonl"):
        (used / name).write_bytes((run_dir / name).read_bytes() if (run_dir / name).exists() else b"")
    before = {p.name: p.read_bytes() for p in used.iterdir()}

    done = run(tmp_path, "--run-id", run_dir.name, "-k", "info")

    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stderr.strip() == (
        f"conformance run: --run-id {run_dir.name}: {used} already holds a run (results.json and ledger.jsonl): "
        "a new run under the same id would mix its ledger and CPI calls with that run's; choose another "
        "--run-id or leave it out")
    assert {p.name: p.read_bytes() for p in used.iterdir()} == before, "nothing appended"


def test_a_new_run_id_is_taken(tmp_path):
    done = run(tmp_path, "--run-id", "20261202t000000-beef", "-k", "info")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert (tmp_path / "20261202t000000-beef" / "results.json").is_file()


@pytest.mark.parametrize("flag", ["--lf", "--last-failed", "--ff"])
def test_pytests_cache_flags_point_at_last_failed(tmp_path, flag):
    done = run(tmp_path, "--", flag)
    assert done.returncode == 2 and not any(tmp_path.iterdir())
    assert done.stderr.strip() == ("conformance run: pytest's cache is off in a conformance run "
                                   "(-p no:cacheprovider): rerun a run's failures with `conformance run --last-failed`")


def test_last_failed_refuses_certify(tmp_path):
    done = run(tmp_path, "--last-failed", "--certify")
    assert done.returncode == 2
    assert "--last-failed reruns a selection: --certify runs the full suite" in done.stderr
