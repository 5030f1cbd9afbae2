"""Reports of real runs: `conformance run` with the fake CPI (real processes, no cloud), then the
report, verify and merge commands as a user types them, the HTML in a real headless browser, and
a canary secret that must not reach any file of the run folder."""

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
import junit  # noqa: E402 (tests/fixtures)
from fake_profile import release_profile  # noqa: E402

pytestmark = pytest.mark.component

ROOT = Path(__file__).parents[2]
FAKE_PROFILE = ROOT / "tests" / "fixtures" / "profiles" / "fake.yml"
FAKE_CPI = ROOT / "tests" / "fixtures" / "cpis" / "fake_cpi.py"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def conformance(*args, env=None):
    return subprocess.run([sys.executable, "-m", "conformance.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)


def run_suite(report_dir: Path, profile: Path = FAKE_PROFILE, env=None) -> tuple[Path, subprocess.CompletedProcess]:
    done = conformance("run", "--profile", profile, "--report-dir", report_dir, env=env)
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    (run_dir,) = report_dir.iterdir()
    return run_dir, done


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    """The whole suite against the fake CPI: passes, failures, setup errors and skips, all real."""
    return run_suite(tmp_path_factory.mktemp("reports"))


def test_a_run_ends_with_its_report(fake_run):
    run_dir, done = fake_run
    html, md = (run_dir / "report.html").read_text(), (run_dir / "report.md").read_text()
    assert f"conformance report: {run_dir / 'report.html'}" in done.stdout
    assert '<span class="word">FAIL</span>' in html and "digest verified" in html
    assert md.startswith("# cpi-conformance report: fake / zed") and "**Verdict: FAIL**" in md
    assert "| CPI contract: info, api_version, unknown methods | **yes** | 3 passed |" in md
    assert "Network type: VIP (floating IP), single per instance: 2 test(s) skipped: " \
           "profile: features.vip_network is false" in md
    assert "| `info` | 2 |" in md, "per-method timing from the real calls"
    assert "Not a certification run" in md


def test_verify_passes_on_the_record_and_flags_an_edit(fake_run, tmp_path):
    run_dir, _ = fake_run
    done = conformance("report", "verify", run_dir)
    assert done.returncode == 0 and "digest verified" in done.stdout
    edited = tmp_path / "edited"
    shutil.copytree(run_dir, edited)
    doc = json.loads((edited / "results.json").read_text())
    doc["tests"] = [{**t, "outcome": "passed"} for t in doc["tests"]]
    (edited / "results.json").write_text(json.dumps(doc))
    done = conformance("report", "verify", edited)
    assert done.returncode == 1 and "digest mismatch: edited or partial" in done.stderr
    assert conformance("report", edited).returncode == 0
    html = (edited / "report.html").read_text()
    assert "UNVERIFIED" in html and "digest mismatch: edited or partial" in html


def test_report_of_a_folder_without_results_is_one_line(tmp_path):
    done = conformance("report", tmp_path)
    assert done.returncode == 1 and "results.json: not found" in done.stderr and "Traceback" not in done.stderr


def test_merge_builds_the_matrix(fake_run, tmp_path):
    run_dir, _ = fake_run
    done = conformance("report", "merge", run_dir, run_dir, "--output", tmp_path / "m")
    assert done.returncode == 0, done.stderr
    md = (tmp_path / "m" / "matrix.md").read_text()
    assert "| Network type: dynamic, single per instance | skipped (profile: features.dynamic_network is false) " \
           "| skipped (profile: features.dynamic_network is false) |" in md
    assert (tmp_path / "m" / "matrix.html").stat().st_size > 2000


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian: apt-get install -y chromium)")
def test_the_html_renders_in_a_real_browser(fake_run, tmp_path):
    run_dir, _ = fake_run
    url = (run_dir / "report.html").resolve().as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2000"]
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", url], capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    assert '<span class="word">FAIL</span>' in dom and "<svg" in dom and 'id="capabilities"' in dom


def test_a_canary_secret_reaches_no_file_of_the_run(tmp_path):
    """The CPI gets the canary in its environment and prints it on stderr and in its log; the run
    must still redact it from every record, report and allure file."""
    canary = f"cfm-canary-{uuid.uuid4().hex}"
    doc = yaml.safe_load(FAKE_PROFILE.read_text())
    doc["ssh"]["private_key"] = str(FAKE_PROFILE.parent / doc["ssh"]["private_key"])
    outputs = {}
    for mode in ("leak-stderr", "leak-log"):
        doc["cpi"]["command"] = ["python3", str(FAKE_CPI), mode]
        doc["cpi"]["env"] = {"OS_PASSWORD": "${CANARY}", "FAKE_CPI_SECRET": "${CANARY}"}
        profile = tmp_path / f"canary-{mode}.yml"
        profile.write_text(yaml.safe_dump(doc))
        run_dir, done = run_suite(tmp_path / mode, profile, env={**os.environ, "CANARY": canary})
        outputs[mode] = done.stdout + done.stderr
        files = [p for p in run_dir.rglob("*") if p.is_file()]
        assert {"results.json", "report.html", "report.md", "calls.jsonl", "junit.xml"} <= {p.name for p in files}
        assert any("allure-results" in p.parts for p in files)
        leaks = [str(p.relative_to(run_dir)) for p in files if canary.encode() in p.read_bytes()]
        assert leaks == [], f"{mode}: the canary is in {leaks}"
        assert "leaked a configured secret" in (run_dir / "report.md").read_text(), "the leak itself is reported"
    assert not any(canary in text for text in outputs.values())


def test_ci_systems_get_named_suites_properties_labels_and_distinct_history_ids(fake_run, tmp_path):
    import xml.etree.ElementTree as ET

    run_dir, _ = fake_run
    junit.check(run_dir / "junit.xml")  # a JUnit schema, and case id + capability on every testcase
    suite = ET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    assert suite.get("name") == "cpi-conformance fake"
    props = {p.get("name"): p.get("value") for p in suite.iterfind("properties/property")}
    assert props["profile"] == "fake" and props["release"] == "zed" and props["run_id"] == run_dir.name
    assert props["witnesses"] == "none" and "fake_cpi.py" in props["cpi"]
    case = suite.find("testcase")
    assert case.get("classname").startswith("fake."), case.get("classname")
    assert {"case_id", "capability"} <= {p.get("name") for p in case.iterfind("properties/property")}
    failed = next(c for c in suite.iterfind("testcase") if c.find("failure") is not None)
    transcript = {p.get("name"): p.get("value") for p in failed.iterfind("properties/property")}["cpi_transcript"]
    assert transcript.startswith("+    0.0s ") and "req=cpi-" in transcript, transcript
    allure = run_dir / "allure-results"
    env = dict(line.split("=", 1) for line in (allure / "environment.properties").read_text().splitlines())
    assert env["profile"] == "fake" and env["run_id"] == run_dir.name
    assert any(c["name"].startswith("Runner problems") for c in json.loads((allure / "categories.json").read_text()))
    assert json.loads((allure / "executor.json").read_text())["buildName"] == run_dir.name
    first = {d["fullName"]: d for d in map(json.loads, map(Path.read_text, allure.glob("*-result.json")))}
    some = next(d for d in first.values() if d["status"] == "passed")
    labels = {(lab["name"], lab["value"]) for lab in some["labels"]}
    assert ("epic", "cpi-conformance") in labels and any(n == "feature" for n, _ in labels)
    assert any(n == "case_id" for n, _ in labels) and any(n == "story" for n, _ in labels)
    assert {"profile": "'fake'", "release": "'zed'"} == {p["name"]: p["value"] for p in some["parameters"]}
    second_dir, _ = run_suite(tmp_path / "reports", release_profile(tmp_path, "newton"))
    second = {d["fullName"]: d for d in map(json.loads, map(Path.read_text,
                                                             (second_dir / "allure-results").glob("*-result.json")))}
    shared = set(first) & set(second)
    assert len(shared) >= 20 and all(first[n]["historyId"] != second[n]["historyId"] for n in shared)


def test_a_stemcell_that_cannot_be_uploaded_fails_only_the_tests_that_need_it(tmp_path):
    """The fake CPI cannot create a stemcell, the run's first test uses one and a later one a shared
    VM (so there is a VM to prepare ahead): those error, and a test that needs no stemcell still
    passes (preparing starts with the first test that uses the stemcell; its error once became every
    test's)."""
    done = conformance("run", "--profile", FAKE_PROFILE, "--report-dir", tmp_path,
                       "-k", "create_vm_on_a_missing_network or unknown_method or attach_disk_to_a_missing_vm")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    (run_dir,) = tmp_path.iterdir()
    outcomes = {t["name"]: t["outcome"] for t in json.loads((run_dir / "results.json").read_text())["tests"]}
    assert outcomes == {"test_create_vm_on_a_missing_network_fails_cleanly": "error",
                        "test_attach_disk_to_a_missing_vm_is_a_typed_error": "error",  # its shared VM
                        "test_unknown_method_is_not_implemented": "passed"}, outcomes
