"""A run's liveness mark: alive only while that very process runs on this host."""

import json
import os
import socket
import subprocess

import pytest

from conformance.core.host import start_time
from conformance.run import liveness

pytestmark = pytest.mark.unit


def write(run_dir, **record):
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "alive.json").write_text(json.dumps(record))


def test_mark_names_this_process_and_owner_finds_it_alive(tmp_path):
    run_dir = tmp_path / "20261202t100000-abcd"
    liveness.mark(run_dir)
    record = liveness.owner(run_dir)
    assert record is not None and record["pid"] == os.getpid() and record["hostname"] == socket.gethostname()
    assert record["start_ticks"] > 0 and record["started"] > 0
    assert sorted(p.name for p in run_dir.iterdir()) == ["alive.json"], "no temporary file left behind"


def test_clear_removes_the_mark_and_twice_is_fine(tmp_path):
    liveness.mark(tmp_path)
    liveness.clear(tmp_path)
    liveness.clear(tmp_path)
    assert liveness.state(tmp_path) == ("absent", None) and liveness.owner(tmp_path) is None


def test_a_dead_pid_is_stale(tmp_path):
    child = subprocess.Popen(["true"])
    child.wait()
    write(tmp_path, pid=child.pid, start_ticks=1, hostname=socket.gethostname(), started=0)
    assert liveness.state(tmp_path)[0] == "stale" and liveness.owner(tmp_path) is None


def test_a_recycled_pid_is_not_the_run(tmp_path):
    liveness.mark(tmp_path)
    record = liveness.read(tmp_path)
    write(tmp_path, **{**record, "start_ticks": record["start_ticks"] - 1})
    assert liveness.state(tmp_path)[0] == "stale"


def test_a_mark_from_another_host_cannot_be_judged_here(tmp_path):
    write(tmp_path, pid=os.getpid(), start_ticks=1, hostname="elsewhere.example", started=0)
    found, record = liveness.state(tmp_path)
    assert found == "elsewhere" and record["hostname"] == "elsewhere.example"
    assert liveness.owner(tmp_path) is None


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '{"pid": "x", "hostname": null}'])
def test_an_unreadable_mark_is_never_alive(tmp_path, text):
    (tmp_path / "alive.json").write_text(text)
    assert liveness.owner(tmp_path) is None


@pytest.mark.parametrize("records", [(), ("calls.jsonl",), ("alive.json",)])
def test_a_folder_without_results_or_ledger_may_take_a_new_run(tmp_path, records):
    for name in records:
        (tmp_path / name).write_text("{}\n")
    assert liveness.reuse_problem(tmp_path / "absent") is None
    assert liveness.reuse_problem(tmp_path) is None


@pytest.mark.parametrize("records", [("results.json",), ("ledger.jsonl",), ("results.json", "ledger.jsonl")])
def test_a_folder_holding_a_run_is_refused_with_the_reason(tmp_path, records):
    for name in records:
        (tmp_path / name).write_text("{}\n")
    problem = liveness.reuse_problem(tmp_path)
    assert problem == (f"{tmp_path} already holds a run ({' and '.join(records)}): a new run under the same id "
                       "would mix its ledger and CPI calls with that run's; choose another --run-id or leave it out")


def test_the_same_live_run_may_use_its_own_folder_another_may_not(tmp_path):
    (tmp_path / "ledger.jsonl").write_text("{}\n")
    liveness.mark(tmp_path)  # this process is the run writing the folder
    assert liveness.reuse_problem(tmp_path) is None
    child = subprocess.Popen(["sleep", "30"])
    try:
        write(tmp_path, pid=child.pid, start_ticks=start_time(child.pid), hostname=socket.gethostname(), started=0)
        assert "already holds a run (ledger.jsonl)" in liveness.reuse_problem(tmp_path)
    finally:
        child.kill()
        child.wait()
