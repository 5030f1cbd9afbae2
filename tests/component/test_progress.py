"""Live progress in its non-TTY form: each test's start and end with worker and seconds, and a long
wait saying what it waits for, elapsed of its timeout and what it last saw; plain lines, no escapes.
And the time accounting: the test's seconds in waits reach results.json."""

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.component
pytest_plugins = ["pytester"]

FAKE_PROFILE = Path(__file__).parents[1] / "fixtures" / "profiles" / "fake.yml"
SOURCE = '''
import pytest
from conformance.core.waiting import wait_for

@pytest.mark.case("4f1a3c2e-8b7d-4e6f-9a1b-2c3d4e5f6a7b")
def test_waits(cpi):
    seen = iter(["building", "building", "building", "building", "active"] + ["active"] * 50)
    assert wait_for(lambda: next(seen), ready=lambda s: s == "active", describe=lambda s: f"status={s}",
                    timeout=30, interval=2, what="server s-1 to be active") == "active"

@pytest.mark.case("5a2b4d3f-9c8e-4f70-8b2c-3d4e5f6a7b8c")
@pytest.mark.requires("get_disks")
def test_skipped():
    pass
'''


def test_each_test_and_each_long_wait_is_one_plain_line(pytester):
    pytester.makeini("[pytest]\nconformance_require_case_ids = true\n")
    pytester.makepyfile(test_progress_case=SOURCE)
    result = pytester.runpytest_subprocess("--profile", str(FAKE_PROFILE), "--report-dir", str(pytester.path / "reports"),
                                           "--rootdir", str(pytester.path), "-c", str(pytester.path / "tox.ini"),
                                           "-p", "no:randomly", str(pytester.path))
    err = result.stderr.str()
    lines = [line for line in err.splitlines() if line.startswith("conformance: main: ")]
    assert "conformance: main: start test_progress_case.py::test_waits" in lines, err
    waits = [line for line in lines if "waiting for server s-1 to be active" in line]
    assert waits and re.search(r": status=building \(\d+s of 30s\)$", waits[0]), waits
    assert any(re.fullmatch(r"conformance: main: PASSED test_progress_case.py::test_waits \(\d+\.\ds\)", line)
               for line in lines), lines
    assert any(line.startswith("conformance: main: SKIPPED test_progress_case.py::test_skipped (")
               and "get_disks" in line for line in lines), lines
    assert "\x1b[" not in err and "\r" not in err, "cursor or colour escapes in a non-TTY log"
    (results,) = (pytester.path / "reports").glob("*/results.json")
    tests = {t["name"]: t for t in json.loads(results.read_text())["tests"]}
    assert 7.5 <= tests["test_waits"]["waits"]["other"] <= tests["test_waits"]["duration"], tests["test_waits"]
    assert tests["test_skipped"]["waits"] == {}
