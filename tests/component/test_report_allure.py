"""Allure steps for CPI calls and attachments on failure, through real allure-pytest in a real pytest
process: the result files a CI system reads carry them (and nothing breaks without --alluredir)."""

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.component

CONFTEST = textwrap.dedent('''
    import pytest
    from conformance.report import allure_steps

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(item, call):
        report = yield
        if report.failed:
            report.sections.append(("cpi-calls call", "+    0.0s create_vm  req=cpi-1  12.0s  ok"))
            allure_steps.attach_on_failure(item, report.sections)
        return report
''')

TESTS = textwrap.dedent('''
    from conformance.report import allure_steps

    CALL = {"method": "create_vm", "request_id": "cpi-1", "started_at": 1000.0, "duration": 12.5,
            "outcome": "ok", "arguments": ["agent", "stemcell"], "result": ["vm-1", {}]}

    def test_passes_with_a_cpi_step():
        allure_steps.record_call(CALL)
        allure_steps.record_call({**CALL, "request_id": "cpi-2", "outcome": "error",
                                  "error_type": "Bosh::Clouds::VMNotFound"})
        with allure_steps.step("guest: lsblk"):
            pass

    def test_fails():
        allure_steps.record_call({**CALL, "request_id": "cpi-3", "outcome": "timeout"})
        assert False, "the witness saw no disk"
''')


def run_pytest(tmp_path, *extra):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_demo.py").write_text(TESTS)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                           str(tmp_path / "test_demo.py"), *extra], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)


def results(alluredir):
    docs = [json.loads(p.read_text()) for p in alluredir.glob("*-result.json")]
    return {d["name"]: d for d in docs}


def test_cpi_calls_become_timed_steps_with_their_record(tmp_path):
    done = run_pytest(tmp_path, f"--alluredir={tmp_path / 'allure'}")
    assert "1 failed, 1 passed" in done.stdout, done.stdout[-2000:]
    tests = results(tmp_path / "allure")
    steps = tests["test_passes_with_a_cpi_step"]["steps"]
    assert [s["name"] for s in steps] == ["CPI create_vm", "CPI create_vm -> Bosh::Clouds::VMNotFound", "guest: lsblk"]
    first = steps[0]
    assert (first["start"], first["stop"], first["status"]) == (1_000_000, 1_012_500, "passed")
    attached = json.loads((tmp_path / "allure" / first["attachments"][0]["source"]).read_text())
    assert attached["request_id"] == "cpi-1" and attached["result"] == ["vm-1", {}]
    failed = tests["test_fails"]
    assert failed["steps"][0]["status"] == "broken", "a timed-out call is a broken step"
    (transcript,) = [a for a in failed["attachments"] if a["name"] == "cpi-calls call"]
    assert "create_vm  req=cpi-1" in (tmp_path / "allure" / transcript["source"]).read_text()


def test_without_allure_everything_is_a_no_op(tmp_path):
    done = run_pytest(tmp_path)
    assert done.returncode == 1 and "1 failed, 1 passed" in done.stdout, done.stdout[-2000:]
    assert "INTERNALERROR" not in done.stdout + done.stderr
