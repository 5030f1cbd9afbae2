"""The plugin beside two popular plugins that used to break or bend every run: pytest-profiling owns
--profile (a flag; registering it twice killed pytest in either load order) and pytest-randomly
shuffles the tests. `tox -e plugins` installs both and runs this module; elsewhere it is skipped."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = pytest.mark.component
pytest.importorskip("pytest_profiling", reason="pytest-profiling is not installed: run `tox -e plugins`")
pytest.importorskip("pytest_randomly", reason="pytest-randomly is not installed: run `tox -e plugins`")

ROOT = Path(__file__).parents[2]
SUITES = ROOT / "conformance" / "suites"
FAKE_PROFILE = ROOT / "tests" / "fixtures" / "profiles" / "fake.yml"
SELECTION = "info or unknown_method or missing"  # passes and failures, several modules


def run(*argv, env=None):
    return subprocess.run([sys.executable, *map(str, argv)], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env=env)


def pytest_on_suites(*args, env=None):
    return run("-m", "pytest", SUITES, "-c", SUITES / "pytest.ini", "--rootdir", SUITES.parent, *args, env=env)


def executed(run_dir: Path) -> list[str]:
    return [case.get("name") for case in ET.parse(run_dir / "junit.xml").iter("testcase")]


def test_conformance_run_works_and_keeps_the_suites_order(tmp_path):
    collected = pytest_on_suites("--collect-only", "-q", "-p", "no:randomly", "-k", SELECTION)
    assert collected.returncode == 0, collected.stdout[-2000:]
    suite_order = [line.split("::")[-1] for line in collected.stdout.splitlines() if "::" in line]
    assert len(suite_order) >= 5, collected.stdout

    done = run("-m", "conformance.cli", "run", "--profile", FAKE_PROFILE, "--report-dir", tmp_path, "-k", SELECTION)

    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    assert "randomly" not in done.stdout, "pytest-randomly is off in a conformance run"
    (run_dir,) = tmp_path.iterdir()
    assert executed(run_dir) == suite_order
    doc = json.loads((run_dir / "results.json").read_text())
    assert doc["summary"].get("passed", 0) >= 3 and len(doc["tests"]) == len(suite_order)


def test_randomly_does_shuffle_a_plain_pytest_run_here():
    """The control: without conformance run's guard, pytest-randomly reorders the suite here."""
    plain = pytest_on_suites("--collect-only", "-q", "-k", SELECTION, "-p", "no:randomly")
    shuffled = pytest_on_suites("--collect-only", "-q", "-k", SELECTION, "-p", "randomly", "--randomly-seed=1")
    assert shuffled.returncode == 0, shuffled.stdout[-2000:]
    order = [line for line in plain.stdout.splitlines() if "::" in line]
    assert [line for line in shuffled.stdout.splitlines() if "::" in line] != order
    assert sorted(line for line in shuffled.stdout.splitlines() if "::" in line) == sorted(order)


@pytest.mark.parametrize("order", ["ours first", "profiling first"])
def test_help_names_the_owner_of_profile_in_either_load_order(order):
    plugins = ["conformance.run.plugin", "pytest_profiling"]
    if order == "profiling first":
        plugins.reverse()
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = run("-m", "pytest", *(a for p in plugins for a in ("-p", p)), "--help", env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    text = " ".join(done.stdout.split())
    assert "--profile generate profiling information" in text, "pytest-profiling keeps its flag"
    assert "(--profile belongs to pytest-profiling here: use --cfm-profile)" in text
    assert "--run-id=ID same as --cfm-run-id" in text, "the spellings nobody else took stay ours"


def test_pytest_with_a_profile_path_after_profile_says_to_use_cfm_profile(tmp_path):
    done = pytest_on_suites("--profile", FAKE_PROFILE, "--report-dir", tmp_path, "-k", "info")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-2000:] + done.stderr[-2000:]
    assert (f"--profile {FAKE_PROFILE}: --profile belongs to pytest-profiling here (it profiles the test run); "
            f"the conformance profile is --cfm-profile: --cfm-profile {FAKE_PROFILE}") in done.stderr
    assert not any(tmp_path.iterdir())


def test_pytest_with_cfm_profile_runs_beside_pytest_profiling(tmp_path):
    done = pytest_on_suites("--cfm-profile", FAKE_PROFILE, "--report-dir", tmp_path, "-k", "info",
                            "-p", "no:randomly")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "results.json").read_text())["summary"]
    assert set(summary) == {"passed"} and summary["passed"] >= 2, summary
