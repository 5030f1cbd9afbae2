"""The shared machinery: the wait primitive, the cleanup stack, the ledger, names."""

import json
import multiprocessing

import pytest
from fakes import FakeClock

from conformance.core.cleanup import CleanupStack, Ledger, is_not_found
from conformance.core.errors import CleanupError, WaitFailed, WaitTimeout
from conformance.core.naming import Names, new_run_id, run_id_of, run_started
from conformance.core.waiting import wait_for

pytestmark = pytest.mark.unit


def test_wait_returns_the_ready_value():
    values = iter(["BUILD", "BUILD", "ACTIVE"])
    clock = FakeClock()
    got = wait_for(lambda: next(values), ready=lambda s: s == "ACTIVE", timeout=10, interval=1,
                   what="server", clock=clock, sleep=clock.sleep)
    assert got == "ACTIVE" and clock.now == 2


def test_wait_timeout_says_what_and_last_seen():
    clock = FakeClock()
    with pytest.raises(WaitTimeout) as info:
        wait_for(lambda: "BUILD", ready=lambda s: s == "ACTIVE", describe=lambda s: f"status={s}", timeout=5,
                 interval=2, what="server vm-1 to be ACTIVE", clock=clock, sleep=clock.sleep)
    assert str(info.value) == ("timed out after 5s waiting for server vm-1 to be ACTIVE; last observed "
                               "(after 4 polls): status=BUILD; last error: none")


def test_wait_stops_at_once_on_failure_state():
    clock = FakeClock()
    with pytest.raises(WaitFailed, match="failure state status=ERROR fault=No valid host"):
        wait_for(lambda: "ERROR", ready=lambda s: s == "ACTIVE", failed=lambda s: s == "ERROR" and
                 "status=ERROR fault=No valid host", timeout=100, interval=1, what="server", clock=clock,
                 sleep=clock.sleep)
    assert clock.now == 0


def test_wait_retries_listed_errors_and_reports_the_last():
    clock = FakeClock()

    def probe():
        raise ConnectionError("refused")

    with pytest.raises(WaitTimeout, match="last error: ConnectionError: refused"):
        wait_for(probe, timeout=3, interval=1, what="ssh", retry_on=(ConnectionError,), clock=clock,
                 sleep=clock.sleep)


def test_wait_backoff_is_capped():
    clock, sleeps = FakeClock(), []

    def sleep(s):
        sleeps.append(s)
        clock.sleep(s)

    with pytest.raises(WaitTimeout):
        wait_for(lambda: False, timeout=60, interval=1, backoff=2, max_interval=5, what="x", clock=clock,
                 sleep=sleep)
    assert sleeps[:5] == [1, 2, 4, 5, 5]


class NotFoundException(Exception):
    pass


def test_cleanup_runs_all_lifo_tolerates_gone_and_gathers_errors(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl", "run")
    stack, order = CleanupStack(ledger), []

    def step(name, exc=None):
        order.append(name)
        if exc:
            raise exc

    stack.add("first", step, "first", resource=("vm", "vm-1"))
    stack.add("second", step, "second", RuntimeError("boom"), resource=("disk", "d-1"))
    stack.add("third", step, "third", NotFoundException("gone"), resource=("port", "p-1"))
    with pytest.raises(CleanupError) as info:
        stack.run()
    assert order == ["third", "second", "first"]
    assert [d for d, _ in info.value.failures] == ["second"]
    assert [(e["kind"], e["id"]) for e in Ledger.outstanding(ledger.path)] == [("disk", "d-1")]
    assert len(stack) == 0


def test_cleanup_abandon_keeps_resources_in_the_ledger(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl", "run")
    stack = CleanupStack(ledger)
    stack.add("delete vm", lambda: pytest.fail("must not run"), resource=("vm", "vm-1"))
    assert stack.abandon("--keep-on-failure") == ["delete vm"]
    stack.run()
    assert [e["event"] for e in Ledger.read(ledger.path)] == ["created", "abandoned"]
    assert Ledger.outstanding(ledger.path)[0]["id"] == "vm-1"


def test_not_found_detection():
    class CpiErrorLike(Exception):
        short_type = "VMNotFound"

    class Http(Exception):
        status_code = 404

    assert is_not_found(NotFoundException()) and is_not_found(CpiErrorLike()) and is_not_found(Http())
    assert not is_not_found(RuntimeError("nope"))


def _append_many(path, worker):
    ledger = Ledger(path, "run", worker)
    for i in range(200):
        ledger.record("created", "vm", f"{worker}-{i}", note="x" * 500)


def test_ledger_is_safe_under_parallel_writers(tmp_path):
    path = tmp_path / "ledger.jsonl"
    procs = [multiprocessing.Process(target=_append_many, args=(path, f"gw{i}")) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 800 and all(json.loads(line)["note"] == "x" * 500 for line in lines)


def test_names_carry_the_run_id():
    run_id = new_run_id(0)
    assert run_id.startswith("19700101t000000-")
    assert run_started(run_id).year == 1970
    names = Names(run_id, "gw1")
    name = names.name("Two NIC VM")
    assert name == f"cfm-{run_id}-two-nic-vm-gw1-1" and run_id_of(name) == run_id
    assert run_id_of("somebody-elses-vm") is None
