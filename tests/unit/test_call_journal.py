"""The ledger's call journal (what the run writes about its creating CPI calls) and the run's last
word on its resources, without a cloud: what attribution and the sweeps read is what the run wrote."""

from pathlib import Path

from conformance.cloud import attribution
from conformance.core.cleanup import Ledger
from conformance.cpi.record import CallRecord
from conformance.profile import load_profile
from conformance.run.reporting import leave_nothing
from conformance.run.session import RunState

FAKE = Path(__file__).parents[1] / "fixtures" / "profiles" / "fake.yml"
NETWORKS = {"a": {"type": "manual", "ip": "10.10.1.20", "cloud_properties": {"net_id": "n"}},
            "d": {"type": "dynamic", "cloud_properties": {"net_id": "m"}}}


def state(tmp_path) -> RunState:
    return RunState(load_profile(FAKE, resolve=True), "20261202t000000-abcd", tmp_path, "gw0", 1, False, tmp_path)


def call(state: RunState, method: str, arguments: list, outcome: str, result=None) -> None:
    request_id = f"cpi-{100000 + len(Ledger.read(state.ledger.path))}"
    state.call_started(method, request_id, arguments, 900.0)
    record = CallRecord(method, request_id, arguments)
    record.outcome, record.result = outcome, result
    state.record_call(record)


def test_a_create_vm_without_a_usable_answer_is_a_suspect_with_its_static_ips(tmp_path):
    run = state(tmp_path)
    call(run, "create_vm", ["agent-1", "image-1", {}, NETWORKS, [], {}], "error")
    (window,) = attribution.suspect_calls(Ledger.read(run.ledger.path))
    assert window.method == "create_vm" and window.outcome == "error"
    assert window.hints == {"agent_id": "agent-1", "stemcell_cid": "image-1", "ips": ["10.10.1.20"]}


def test_an_answered_create_is_no_suspect_and_its_cid_is_known_at_once(tmp_path):
    run = state(tmp_path)
    call(run, "create_vm", ["agent-1", "image-1", {}, NETWORKS, [], {}], "ok", result=["vm-cid-1", {}])
    call(run, "create_disk", [1024, {}, "vm-cid-1"], "ok", result="vol-1")
    entries = Ledger.read(run.ledger.path)
    assert attribution.suspect_calls(entries) == []
    assert {"vm-cid-1", "vol-1"} <= attribution.ledger_ids(entries)


def test_a_call_cut_off_by_an_interrupt_is_a_suspect(tmp_path):
    run = state(tmp_path)
    call(run, "snapshot_disk", ["vol-1", {}], "pending")  # the record never got an outcome
    (window,) = attribution.suspect_calls(Ledger.read(run.ledger.path))
    assert window.outcome == "interrupted" and window.hints == {"disk_cid": "vol-1"}


def test_calls_that_create_nothing_are_not_journaled(tmp_path):
    run = state(tmp_path)
    call(run, "delete_vm", ["vm-1"], "error")
    assert Ledger.read(run.ledger.path) == []


def test_without_a_cloud_witness_the_run_names_what_it_leaves_and_how_to_remove_it(tmp_path):
    run = state(tmp_path)
    said = []
    run.interrupts = type("I", (), {"say": staticmethod(said.append), "cut_short": staticmethod(lambda: False)})()
    run.ledger.record("created", "server", "vm-1")
    run.ledger.record("created", "volume", "vol-1")
    run.ledger.record("deleted", "volume", "vol-1")
    run.ledger.record("created", "volume", "vol-2")
    run.ledger.record("abandoned", "volume", "vol-2", reason="--keep-on-failure")
    record = leave_nothing(run)
    assert record["created"] == 3 and record["deleted"] == 1
    assert record["left"] == ["server vm-1"] and record["kept"] == ["vol-2"]
    assert any("conformance cleanup --run-id 20261202t000000-abcd" in line for line in said), said
