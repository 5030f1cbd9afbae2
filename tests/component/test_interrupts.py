"""Interrupts end a run cleanly: real pytest runs (one process, and xdist with two workers) with the
fake CPI profile, interrupted as a terminal does it (the signal to the whole process group) or as a
CI system does it (SIGTERM to the main process). Every cleanup runs to its end, results.json says
INCOMPLETE with the signal, the exit code is 130 or 143; a second interrupt cuts cleanups short."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.report.model import verdict

pytestmark = pytest.mark.component

ROOT = Path(__file__).parents[2]
FAKE_PROFILE = ROOT / "tests" / "fixtures" / "profiles" / "fake.yml"

SUITE = '''
import time
from pathlib import Path

import pytest

MARKS = Path({marks!r})


def slow_step(name, seconds):
    time.sleep(seconds)
    (MARKS / name).write_text("done")


@pytest.fixture(scope="module")
def shared(module_cleanup):
    module_cleanup.add("module cleanup of {module}", slow_step, "module-{module}", {cleanup_seconds})


@pytest.mark.case("{case1}")
def test_long(shared, cleanup):
    cleanup.add("first step of {module}", slow_step, "first-{module}", {cleanup_seconds})
    cleanup.add("second step of {module}", slow_step, "second-{module}", 0)
    (MARKS / "started-{module}").write_text("yes")
    time.sleep(120)


@pytest.mark.case("{case2}")
def test_after(shared):
    (MARKS / "ran-after-{module}").write_text("yes")
'''
CASES = {"a": ("8c0d5c4e-2a53-4d8e-9f0e-1b7f7e0a1c01", "8c0d5c4e-2a53-4d8e-9f0e-1b7f7e0a1c02"),
         "b": ("8c0d5c4e-2a53-4d8e-9f0e-1b7f7e0a1c03", "8c0d5c4e-2a53-4d8e-9f0e-1b7f7e0a1c04")}


def start_run(tmp_path: Path, workers: int, cleanup_seconds: float) -> tuple[subprocess.Popen, Path]:
    marks = tmp_path / "marks"
    marks.mkdir()
    suite = tmp_path / "suite"
    suite.mkdir()
    modules = ("a", "b") if workers > 1 else ("a",)
    for module in modules:
        (suite / f"test_{module}.py").write_text(SUITE.format(marks=str(marks), module=module, case1=CASES[module][0],
                                                             case2=CASES[module][1], cleanup_seconds=cleanup_seconds))
    (suite / "pytest.ini").write_text("[pytest]\nconformance_require_case_ids = true\n")
    argv = [sys.executable, "-m", "pytest", str(suite), "--profile", str(FAKE_PROFILE), "--run-id", "20261202t000000-abcd",
            "--report-dir", str(tmp_path / "reports"), "-p", "no:cacheprovider", "-c", str(suite / "pytest.ini"),
            "--rootdir", str(suite), "-q"]
    if workers > 1:
        argv += ["-n", str(workers), "--dist", "loadscope"]
    run = subprocess.Popen(argv, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(marks.glob("started-*"))) < len(modules):
        assert run.poll() is None, run.stdout.read().decode()[-3000:]
        time.sleep(0.2)
    assert len(list(marks.glob("started-*"))) == len(modules), "the tests never started"
    return run, marks


def finish(run: subprocess.Popen, timeout: float = 120) -> str:
    out, _ = run.communicate(timeout=timeout)
    return out.decode(errors="replace")


def results(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "reports" / "20261202t000000-abcd" / "results.json").read_text())


@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "xdist-2"])
def test_ctrl_c_stops_the_tests_and_runs_every_cleanup_to_its_end(tmp_path, workers):
    run, marks = start_run(tmp_path, workers, cleanup_seconds=3)
    os.killpg(run.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole foreground process group
    out = finish(run)
    modules = ("a", "b") if workers > 1 else ("a",)
    for module in modules:  # both steps of the test's stack, and the module's, each after a 3 s wait
        for mark in ("first", "second", "module"):
            assert (marks / f"{mark}-{module}").exists(), f"{mark} cleanup of {module} never ran:\n{out[-3000:]}"
        assert not (marks / f"ran-after-{module}").exists(), "a test ran after the interrupt"
    assert run.returncode == 130, out[-3000:]
    doc = results(tmp_path)
    assert doc["interrupted"]["signal"] == "SIGINT" and doc["interrupted"]["cut_short"] is False
    assert verdict(doc).word == "INCOMPLETE"
    assert "SIGINT: stopping the run" in out


def test_sigterm_to_the_main_process_alone_ends_an_xdist_run_with_143(tmp_path):
    run, marks = start_run(tmp_path, 2, cleanup_seconds=1)
    run.send_signal(signal.SIGTERM)  # as a CI system's timeout: the main process only
    out = finish(run)
    assert run.returncode == 143, out[-3000:]
    assert all((marks / f"module-{m}").exists() for m in ("a", "b")), out[-3000:]
    assert results(tmp_path)["interrupted"]["signal"] == "SIGTERM"


@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "xdist-2"])
def test_a_second_interrupt_cuts_the_cleanup_short_and_says_what_is_left(tmp_path, workers):
    run, marks = start_run(tmp_path, workers, cleanup_seconds=60)
    os.killpg(run.pid, signal.SIGINT)
    time.sleep(3)  # the first cleanup step is waiting now
    started = time.monotonic()
    os.killpg(run.pid, signal.SIGINT)
    out = finish(run, timeout=60)
    assert time.monotonic() - started < 30, "the second interrupt did not cut the waits short"
    assert run.returncode == 130, out[-3000:]
    # LIFO: the instant second step ran, the 60 s first step was cut, the module's was never started
    assert (marks / "second-a").exists()
    assert not (marks / "first-a").exists() and not (marks / "module-a").exists()
    doc = results(tmp_path)
    assert doc["interrupted"]["cut_short"] is True
    # the teardown that pytest runs on its way out after an interrupt reports no test: its failures
    # are in results.json's session_errors, one per step, from whichever process ran them
    assert any("module cleanup of a: CleanupLeft" in e["error"] for e in doc["session_errors"]), doc["session_errors"]
    assert "cleanup waits short" in out, out[-3000:]
    assert "first step of a: CleanupLeft: not run" not in out  # the cut step failed, the next was left
    assert "module cleanup of a: CleanupLeft: not run: the cleanup was cut short" in out, out[-3000:]


def test_a_session_cleanup_that_fails_at_the_end_still_leaves_results_and_says_why(tmp_path):
    """-x stops the session early: the session fixture's cleanup fails on the way out; results.json
    is written and holds the failure (as the last test's teardown error), the exit is 1."""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\nconformance_require_case_ids = true\n")
    (suite / "test_s.py").write_text(
        "import pytest\n\n"
        "def broken():\n    raise RuntimeError('server still there after delete_vm answered OK')\n\n"
        "@pytest.fixture(scope='session')\ndef shared(session_cleanup):\n"
        "    session_cleanup.add('delete VM vm-1', broken)\n\n"
        f"@pytest.mark.case('{CASES['a'][0]}')\ndef test_fails(shared):\n    assert False\n\n"
        f"@pytest.mark.case('{CASES['a'][1]}')\ndef test_never(shared):\n    pass\n")
    done = subprocess.run([sys.executable, "-m", "pytest", str(suite), "--profile", str(FAKE_PROFILE), "-x",
                           "--run-id", "20261202t000000-abcd", "--report-dir", str(tmp_path / "reports"),
                           "-p", "no:cacheprovider", "-c", str(suite / "pytest.ini"), "--rootdir", str(suite)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    doc = results(tmp_path)
    (test,) = doc["tests"]
    teardown = [p for p in test["phases"] if p["when"] == "teardown"]
    assert teardown and teardown[0]["outcome"] == "error"
    assert "server still there after delete_vm answered OK" in teardown[0]["reason"]


def test_a_run_whose_output_nobody_reads_any_more_still_cleans_up_and_writes_its_results(tmp_path):
    """The reader of the run's output goes away mid-run (a CI log collector killed, `| head`), then
    the run is stopped: every write to the dead pipe fails, and still every cleanup runs and
    results.json is written (a BrokenPipeError in a progress line once ended an interrupted run before
    its results.json)."""
    run, marks = start_run(tmp_path, 2, cleanup_seconds=1)
    run.stdout.close()  # nobody reads any more: each write of the run now fails with EPIPE
    run.send_signal(signal.SIGTERM)
    run.wait(timeout=120)
    assert all((marks / f"module-{m}").exists() for m in ("a", "b")), "a cleanup did not run"
    doc = results(tmp_path)
    assert doc["interrupted"]["signal"] == "SIGTERM" and verdict(doc).word == "INCOMPLETE"
