"""The CPI client against real processes that speak the protocol, or fail to."""

import os
import re
import sys
import time
from pathlib import Path

import pytest

from conformance.cpi import director
from conformance.cpi.client import CpiClient
from conformance.cpi.errors import CpiBrokenResponse, CpiError, CpiNotRunnable, CpiTimeout, SecretLeak

pytestmark = pytest.mark.component

FAKE = Path(__file__).parent.parent / "fixtures" / "cpis" / "fake_cpi.py"
SECRET = "s3cr3t-Pa55w0rd-canary"


def client(mode: str, **kw) -> CpiClient:
    kw.setdefault("env", {"FAKE_CPI_SECRET": SECRET})
    kw.setdefault("secrets", {SECRET})
    return CpiClient([sys.executable, str(FAKE), mode], **kw)


def broken(mode: str, method: str = "info", **kw) -> CpiBrokenResponse:
    cpi = client(mode, **kw)
    with pytest.raises(CpiBrokenResponse) as info:
        cpi.call(method)
    assert cpi.records[-1].outcome == "broken", cpi.records[-1]
    return info.value


def test_info_round_trip_records_the_call():
    cpi = client("ok")
    assert cpi.info() == {"stemcell_formats": ["openstack-qcow2"], "api_version": 2}
    (record,) = cpi.records
    assert (record.method, record.outcome, record.exit_code) == ("info", "ok", 0)
    assert re.fullmatch(r"cpi-\d{6}", record.request_id), "the Director's request id: cpi-NNNNNN"


def test_request_carries_method_arguments_context_and_api_version():
    cpi = client("ok", director_uuid="d-1")
    request = cpi.call("echo", "a", {"b": 1})["request"]
    assert request["method"] == "echo" and request["arguments"] == ["a", {"b": 1}]
    assert request["api_version"] == 2
    assert request["context"]["director_uuid"] == "d-1"
    assert request["context"]["request_id"] == cpi.records[-1].request_id
    assert "vm" not in request["context"], "only create_vm, delete_vm, attach_disk and detach_disk carry it"
    sent = cpi.send(director.Call("echo", ("x",), stemcell_api_version=3), context={"config_drive": "disk"})
    assert sent["request"]["context"]["vm"] == {"stemcell": {"api_version": 3}}
    assert sent["request"]["context"]["config_drive"] == "disk"


def test_vm_calls_carry_the_clients_stemcell_api_version_by_default():
    cpi = client("ok")
    request = cpi.request("delete_vm", ["vm-1"])
    assert request.context["vm"] == {"stemcell": {"api_version": 2}}
    assert "vm" not in cpi.request("has_vm", ["vm-1"]).context
    assert "vm" not in cpi.request("delete_vm", ["vm-1"], stemcell_api_version=None).context


def test_v1_request_has_no_api_version_and_create_vm_gives_a_bare_cid():
    cpi = client("ok", api_version=1)
    assert "api_version" not in cpi.call("echo")["request"]
    assert cpi.create_vm("agent", "sc", {}, {"n": {}}) == ("vm-1", None)


def test_v2_create_vm_gives_cid_and_networks_and_attach_disk_a_hint():
    cpi = client("ok")
    assert cpi.create_vm("agent", "sc", {}, {"n": {"type": "manual"}}) == ("vm-1", {"n": {"type": "manual"}})
    assert cpi.attach_disk("vm-1", "disk-1") == {"path": "/dev/sdb"}


def test_environment_is_clean():
    os.environ["CONFORMANCE_SHOULD_NOT_LEAK_IN"] = "1"
    env = client("ok", env={"EXTRA": "yes"}).call("echo")["env"]
    assert set(env) - {"PWD", "SHLVL", "_", "LC_CTYPE"} == {"PATH", "TMPDIR", "EXTRA", "FAKE_CPI_SECRET"} - {"FAKE_CPI_SECRET"}, sorted(env)


def test_cpi_error_becomes_typed_exception_with_evidence():
    cpi = client("vm-not-found")
    with pytest.raises(CpiError) as info:
        cpi.has_vm("vm-9")
    err = info.value
    assert (err.short_type, err.ok_to_retry, err.method) == ("VMNotFound", False, "has_vm")
    assert err.request_id == cpi.records[-1].request_id and "looking for vm-9" in err.log
    assert err.known


def test_unknown_method_is_not_implemented():
    with pytest.raises(CpiError) as info:
        client("ok").call("frobnicate")
    assert info.value.short_type == "NotImplemented"


def test_unknown_error_type_is_named_as_unknown():
    with pytest.raises(CpiError) as info:
        client("unknown-error-type").info()
    assert not info.value.known and "not an error type the Director knows" in str(info.value)


@pytest.mark.parametrize(
    "mode, problem",
    [
        ("not-json", "stdout is not JSON"),
        ("empty", "empty output"),
        ("two-docs", "more than one JSON document"),
        ("trailing", "more than one JSON document (or trailing text"),
        ("array", "must be a JSON object, got list"),
        ("no-result", "no 'result' key"),
        ("no-error-key", "no 'error' key"),
        ("error-string", "'error' must be null or an object"),
        ("error-no-retry", "'error.ok_to_retry' must be a boolean"),
        ("error-and-result", "both a 'result' and an 'error'"),
        ("log-not-string", "'log' must be a string"),
        ("binary", "stdout is not JSON"),
        ("exit-nonzero-empty", "empty output"),
    ],
)
def test_broken_answers_are_named(mode, problem):
    assert problem in str(broken(mode))


def test_result_of_wrong_shape_is_broken():
    with pytest.raises(CpiBrokenResponse, match="has_vm result must be a boolean, got 'yes'"):
        client("wrong-shape").has_vm("vm-1")


def test_nonzero_exit_with_valid_envelope_is_valid():
    cpi = client("exit-nonzero-valid")
    assert cpi.info()["api_version"] == 2
    assert cpi.records[-1].exit_code == 3


def test_nonzero_exit_without_envelope_reports_exit_code():
    assert broken("exit-nonzero-empty").exit_code == 1


def test_huge_output_is_bounded_and_broken():
    err = broken("huge")
    assert "stdout larger than" in err.problem


def test_huge_stderr_keeps_only_the_tail():
    cpi = client("huge-stderr")
    assert cpi.call("ping") is True
    assert len(cpi.records[-1].stderr) <= 64 * 1024


def test_hung_cpi_is_killed_and_reported():
    cpi = client("hang", timeout=2)
    started = time.monotonic()
    with pytest.raises(CpiTimeout, match="hung: no answer after 2s") as info:
        cpi.info()
    assert time.monotonic() - started < 15
    assert "about to hang" in info.value.stderr_tail
    assert cpi.records[-1].outcome == "timeout"


def test_hung_cpi_children_are_killed_with_the_group():
    cpi = client("hang-child", timeout=2)
    before = _children_sleeping()
    with pytest.raises(CpiTimeout):
        cpi.info()
    time.sleep(0.5)
    assert _children_sleeping() <= before, "a child of the hung CPI survived the kill"


def _children_sleeping() -> int:
    count = 0
    for proc in Path("/proc").iterdir():
        try:
            if b"time.sleep(3600)" in (proc / "cmdline").read_bytes():
                count += 1
        except OSError:
            continue
    return count


def test_slow_cpi_within_timeout_is_fine():
    assert client("slow", timeout=30).info()["api_version"] == 2


def test_cpi_that_does_not_read_stdin_still_answers():
    assert client("no-read").info() == {"stemcell_formats": []}


def test_missing_cpi_is_not_runnable():
    cpi = CpiClient(["/nonexistent/bin/cpi", "cfg.json"])
    with pytest.raises(CpiNotRunnable, match="cannot run '/nonexistent/bin/cpi cfg.json'"):
        cpi.info()
    assert cpi.records[-1].outcome == "not-runnable"


def test_non_executable_cpi_is_not_runnable():
    script = FAKE.parent / "not_executable.py"
    with pytest.raises(CpiNotRunnable, match="Permission denied"):
        CpiClient([str(script), "ok"]).info()


@pytest.mark.parametrize("mode, place", [("leak-log", "stdout"), ("leak-stderr", "stderr"),
                                         ("leak-message", "stdout")])
def test_secret_leak_is_flagged_without_echoing_the_secret(mode, place):
    cpi = client(mode)
    with pytest.raises(SecretLeak) as info:
        cpi.call("ping")
    assert place in info.value.places
    record = cpi.records[-1]
    assert SECRET not in str(info.value)
    assert SECRET not in repr(record.to_dict()), "the record must be redacted"
    assert "<redacted>" in (record.log + record.stderr + (record.error_message or ""))


def test_arguments_are_redacted_in_records():
    cpi = client("ok")
    with pytest.raises(SecretLeak):  # echo sends the secret back: caught as a leak too
        cpi.call("echo", {"api_key": "whatever-value", "note": f"pw {SECRET}"})
    args = cpi.records[-1].arguments
    assert args == [{"api_key": "<redacted>", "note": "pw <redacted>"}]



def _group_members(pgid: int) -> list[int]:
    members = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:  # state, ppid, pgrp
            members.append(int(proc.name))
    return members


def _child_of(parent: int, marker: str) -> int | None:
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        if ppid == parent and marker in cmdline:
            return int(proc.name)
    return None


def _driver_in_a_call(preamble: str = ""):
    """A process in the middle of a CPI call (a fake CPI that hangs with a child): the driver's
    Popen and the CPI's process group id, once the guard, the CPI and its child all run."""
    import subprocess

    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parents[2])!r})\n{preamble}"
              "from conformance.cpi.process import run_process\n"
              f"run_process([sys.executable, {str(FAKE)!r}, 'hang-child'], b'{{}}', {{}}, 3600)\n")
    driver = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    deadline, cpi = time.monotonic() + 20, None
    while time.monotonic() < deadline and not (cpi and len(_group_members(cpi)) >= 3):
        cpi = cpi or _child_of(driver.pid, "hang-child")
        time.sleep(0.2)
    assert cpi and len(_group_members(cpi)) >= 3, "the guard, the fake CPI and its child never started"
    return driver, cpi


def test_an_interrupt_during_a_call_kills_the_cpi_and_its_children():
    """Ctrl-C (or SIGTERM, which the plugin turns into one) while a CPI call runs: the CPI's process
    group is killed before the interrupt goes on, so no CPI outlives the run."""
    import signal

    # as a terminal's Ctrl-C meets it, even where SIGINT came in ignored (an xdist worker)
    driver, cpi = _driver_in_a_call("import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n")
    driver.send_signal(signal.SIGINT)
    err = driver.communicate(timeout=30)[1].decode()
    assert "KeyboardInterrupt" in err, err[-2000:]
    time.sleep(0.5)
    assert _group_members(cpi) == [], "the CPI's process group survived the interrupt"


def test_a_runner_killed_during_a_call_takes_the_cpi_with_it():
    """SIGKILL of the process running a CPI call (a killed xdist worker, a killed run): nothing can
    run in the runner any more, yet the CPI's group dies with it (the guard's lifeline breaks)."""
    import signal

    driver, cpi = _driver_in_a_call()
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _group_members(cpi):
        time.sleep(0.2)
    assert _group_members(cpi) == [], "the CPI's process group outlived the killed runner"


def test_a_daemon_left_holding_the_pipes_neither_delays_the_call_nor_survives_it():
    """A CPI that answers and exits but leaves a daemon (own session) holding stdout/stderr: the
    call ends at once with the answer, and the daemon is killed (nothing the CPI started outlives
    the call)."""
    cpi = client("daemon-child", timeout=60)
    started = time.monotonic()
    assert cpi.info()["api_version"] == 2
    took = time.monotonic() - started
    time.sleep(0.5)
    survivors = [p.name for p in Path("/proc").iterdir() if p.name.isdigit()
                 and b"cfm-daemon-child" in _cmdline(p)]
    assert survivors == [], f"the CPI's daemon survived the call: pids {survivors}"
    assert took < 5, f"the call waited {took:.1f}s for a daemon holding the CPI's pipes"


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def test_a_long_cpi_call_says_it_is_still_running(monkeypatch):
    from conformance.core import waiting
    from conformance.cpi import process

    monkeypatch.setattr(process, "WAIT_REPORT", 0.2)
    said = []
    previous = waiting.report_progress_to(said.append)
    try:
        done = process.run_process(["sleep", "0.7"], b"", {"PATH": "/usr/bin:/bin"}, timeout=10,
                                   on_wait=lambda s: waiting.progress(f"still running ({s:.1f}s)"))
    finally:
        waiting.report_progress_to(previous)
    assert done.exit_code == 0 and not done.timed_out
    assert 2 <= len(said) <= 4 and all(line.startswith("still running (") for line in said), said
    timed = process.run_process(["sleep", "5"], b"", {"PATH": "/usr/bin:/bin"}, timeout=0.5, on_wait=said.append)
    assert timed.timed_out and timed.duration < 4
