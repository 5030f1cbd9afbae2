"""The sweeper: member-only deletes, dependents first, named waits, every failure named, live runs refused."""

import json
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from fake_openstack import FakeCloud
from fakes import FakeClock
from openstack import exceptions

from conformance.cli import main
from conformance.cloud import openstack
from conformance.cloud.sweep import Leftover, Sweeper, reap_calls
from conformance.commands import cleanup as cleanup_command
from conformance.core.errors import WaitTimeout
from conformance.core.naming import new_run_id
from conformance.profile import Timeouts
from conformance.run import liveness

pytestmark = pytest.mark.unit

RUN = "20261202t100000-abcd"
NOW = datetime.now(UTC).replace(microsecond=0)
STAMP = NOW.isoformat().replace("+00:00", "Z")


def sweeper(cloud, clock=None):
    clock = clock or FakeClock()
    return Sweeper(cloud, Timeouts(poll=2), clock=clock, sleep=clock.sleep)


def item(kind, rid, name=""):
    return Leftover(kind, rid, name, RUN, "ledger")


def order(cloud, *methods):
    return [(name, rid) for name, rid, _ in cloud.calls if name in methods]


def test_no_force_flag_is_ever_passed():
    cloud = FakeCloud()
    cloud.add("server", "srv-1", name="vm-1")
    cloud.add("volume", "vol-1", status="in-use", attachments=[{"server_id": "srv-2"}])
    cloud.add("snapshot", "snap-1", volume_id="vol-1")
    cloud.add("ip", "fip-1")
    cloud.add("image", "img-1")
    outcome = sweeper(cloud).remove([item("server", "srv-1"), item("volume", "vol-1"), item("floating_ip", "fip-1"),
                                     item("image", "img-1")])
    assert outcome.failed == []
    assert not any(kwargs.get("force") for _, _, kwargs in cloud.calls)
    assert not any(cloud.store[kind] for kind in ("server", "volume", "snapshot", "ip", "image"))


def test_snapshots_go_and_are_gone_before_their_volume():
    cloud = FakeCloud()
    cloud.add("volume", "vol-1")
    cloud.add("snapshot", "snap-1", volume_id="vol-1", status="creating",
              script=[{"status": "creating"}, {"status": "available"}])
    outcome = sweeper(cloud).remove([item("volume", "vol-1")])
    assert [(i.kind, i.id) for i in outcome.deleted] == [("snapshot", "snap-1"), ("volume", "vol-1")]
    calls = order(cloud, "delete_snapshot", "get_snapshot", "delete_volume")
    assert calls[-3:] == [("delete_snapshot", "snap-1"), ("get_snapshot", "snap-1"), ("delete_volume", "vol-1")], \
        "the volume is deleted only after its snapshot was seen gone"


def test_a_servers_ports_are_listed_first_and_deleted_after_it_is_gone():
    cloud = FakeCloud()
    cloud.add("server", "srv-1", name="vm-1f2e")
    cloud.add("port", "p-a", name="vm-1f2e-manual-a", device_id="srv-1")  # reference CPI
    cloud.add("port", "p-b", name="vm-1f2e-manual-b")  # created, never bound
    cloud.add("port", "p-official", device_id="srv-1")  # official CPI: unnamed
    cloud.add("port", "p-nova", device_id="srv-1", precreated=False)  # Nova's own: goes with the server
    cloud.add("port", "p-other", name="vm-1f2e0-manual-a")  # another server's
    outcome = sweeper(cloud).remove([item("server", "srv-1")])
    assert outcome.failed == []
    assert sorted(cloud.store["port"]) == ["p-other"]
    calls = order(cloud, "get_server", "delete_port")
    first_port_delete = min(i for i, (name, _) in enumerate(calls) if name == "delete_port")
    assert not cloud.has("server", "srv-1") and calls[first_port_delete - 1] == ("get_server", "srv-1")
    assert {i.id: i.reason for i in outcome.deleted if i.kind == "port"}["p-official"] == "port of server srv-1"


def test_an_in_use_volume_is_detached_through_nova_first():
    cloud = FakeCloud()
    cloud.add("volume", "vol-1", status="in-use", attachments=[{"server_id": "srv-keep", "attachment_id": "a"}])
    clock = FakeClock()
    sweeper(cloud, clock).delete(item("volume", "vol-1"))
    assert order(cloud, "delete_volume_attachment", "delete_volume") == [("delete_volume_attachment", "vol-1"),
                                                                          ("delete_volume", "vol-1")]
    assert cloud.calls[[c[0] for c in cloud.calls].index("delete_volume_attachment")][2]["server"] == "srv-keep"
    assert not cloud.has("volume", "vol-1") and clock.now > 0


def test_a_transitional_volume_is_waited_out_then_deleted():
    cloud = FakeCloud()
    cloud.add("volume", "vol-1", status="creating", script=[{"status": "creating"}] * 5 + [{"status": "available"}])
    clock = FakeClock()
    sweeper(cloud, clock).delete(item("volume", "vol-1"))
    assert not cloud.has("volume", "vol-1") and clock.now >= 10


def test_a_volume_stuck_in_transition_fails_with_the_named_timeout():
    cloud = FakeCloud()
    cloud.add("volume", "vol-1", status="detaching")
    with pytest.raises(WaitTimeout) as info:
        sweeper(cloud).delete(item("volume", "vol-1"))
    assert str(info.value).startswith("timed out after 300s waiting for Cinder volume vol-1 to settle "
                                      "(timeouts.volume_status); last observed")
    assert "status=detaching" in str(info.value) and cloud.called("delete_volume") == []


def test_a_failure_blocks_only_what_depends_on_it():
    cloud = FakeCloud()
    cloud.add("volume", "vol-1")
    cloud.add("snapshot", "snap-1", volume_id="vol-1")
    cloud.add("image", "img-1")
    cloud.fail[("delete_snapshot", "snap-1")] = exceptions.ForbiddenException(message="no")
    outcome = sweeper(cloud).remove([item("volume", "vol-1"), item("image", "img-1")])
    assert [i.id for i in outcome.deleted] == ["img-1"]
    assert {i.id: why for i, why in outcome.failed} == {
        "snap-1": "ForbiddenException: no", "vol-1": "not tried: snap-1 could not be deleted before it"}


def test_reap_calls_deletes_what_the_call_made_with_its_ports(tmp_path):
    cloud = FakeCloud()
    cloud.add("server", "srv-1", name="vm-1", created_at=STAMP, addresses={"n": [{"addr": "10.10.1.20"}]})
    cloud.add("port", "p-1", name="vm-1-manual-a", device_id="srv-1", created_at=STAMP,
              fixed_ips=[{"ip_address": "10.10.1.20"}])
    cloud.add("server", "srv-x", name="vm-x", created_at=STAMP, image={"id": "img-other"})
    ledger = write_ledger(tmp_path / RUN, create_vm_failed("cpi-111111", ["10.10.1.20"]))
    deleted, failed, unattributed = reap_calls(cloud, ledger, ["cpi-111111"], set(), Timeouts(poll=0.01))
    assert sorted((f.kind, f.id, f.request_id) for f in deleted) == [("port", "p-1", "cpi-111111"),
                                                                    ("server", "srv-1", "cpi-111111")]
    assert failed == [] and [f.id for f in unattributed] == ["srv-x"] and cloud.has("server", "srv-x")


# -- the command ------------------------------------------------------------------------


def write_ledger(run_dir, lines):
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "ledger.jsonl"
    path.write_text("".join(json.dumps({"run_id": run_dir.name, "worker": "gw0", **line}) + "\n" for line in lines))
    return path


def create_vm_failed(rid, ips):
    start = NOW.timestamp() - 5
    return [{"ts": start, "event": "call-started", "kind": "call", "id": rid, "method": "create_vm",
             "timeout": 900.0, "hints": {"stemcell_cid": "img-stem", "ips": ips}},
            {"ts": start + 20, "event": "call-ended", "kind": "call", "id": rid, "method": "create_vm",
             "outcome": "error", "usable": False}]


@pytest.fixture
def cloud(monkeypatch):
    fake = FakeCloud()
    profile = SimpleNamespace(cloud="fake", region=None, timeouts=Timeouts(poll=0.01))
    monkeypatch.setattr(cleanup_command, "load_profile", lambda path, resolve: profile)
    monkeypatch.setattr(openstack, "connect", lambda cloud, region=None: fake)
    return fake


def cleanup(tmp_path, *args):
    return main(["cleanup", "--report-dir", str(tmp_path), *args])


def test_cleanup_deletes_ledger_and_attributed_leftovers_and_reports_the_rest(cloud, tmp_path, capsys):
    cloud.add("volume", "vol-1")
    cloud.add("server", "srv-1", name="vm-1", created_at=STAMP, addresses={"n": [{"addr": "10.10.1.20"}]})
    cloud.add("server", "srv-x", name="vm-x", created_at=STAMP, image={"id": "img-other"})
    write_ledger(tmp_path / RUN, [{"ts": 1.0, "event": "created", "kind": "volume", "id": "vol-1"},
                                  *create_vm_failed("cpi-111111", ["10.10.1.20"])])
    assert cleanup(tmp_path, "--run-id", RUN) == 0
    out = capsys.readouterr().out
    assert "2 leftover(s) found (1 ledger(s) read, project searched for run tags, 1 unusable CPI call(s) checked)" in out
    assert ("deleted: server       srv-1  vm-1  run=20261202t100000-abcd  (found by attribution: server holds "
            "10.10.1.20, a static IP of create_vm cpi-111111 (answered error))") in out
    assert "not deleted (cannot be attributed): server srv-x  vm-x  run=20261202t100000-abcd: created during" in out
    assert not cloud.has("volume", "vol-1") and not cloud.has("server", "srv-1") and cloud.has("server", "srv-x")


def test_cleanup_exits_1_naming_every_resource_it_could_not_delete(cloud, tmp_path, capsys):
    cloud.add("volume", "vol-1", name="cfm-x")
    cloud.add("image", "img-1")
    cloud.fail[("delete_volume", "vol-1")] = exceptions.ForbiddenException(message="Policy says no")
    write_ledger(tmp_path / RUN, [{"ts": 1.0, "event": "created", "kind": k, "id": i}
                                  for k, i in (("volume", "vol-1"), ("image", "img-1"))])
    assert cleanup(tmp_path, "--run-id", RUN) == 1
    err = capsys.readouterr().err
    assert "1 resource(s) could not be deleted:\n  volume vol-1 cfm-x: ForbiddenException: Policy says no" in err
    assert not cloud.has("image", "img-1"), "one failure never stops the others"


def test_cleanup_dry_run_deletes_nothing(cloud, tmp_path, capsys):
    cloud.add("volume", "vol-1")
    cloud.add("snapshot", "snap-1", volume_id="vol-1")
    write_ledger(tmp_path / RUN, [{"ts": 1.0, "event": "created", "kind": "volume", "id": "vol-1"}])
    assert cleanup(tmp_path, "--run-id", RUN, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "would delete: snapshot     snap-1" in out and "would delete: volume       vol-1" in out
    assert not [name for name, _, _ in cloud.calls if name.startswith("delete")]


def test_cleanup_refuses_a_live_run(cloud, tmp_path, capsys):
    liveness.mark(tmp_path / RUN)
    assert cleanup(tmp_path, "--run-id", RUN) == 2
    assert f"run {RUN} is still going (pid {liveness.read(tmp_path / RUN)['pid']} on this host)" in \
        capsys.readouterr().err
    assert cloud.calls == []
    assert cleanup(tmp_path, "--run-id", RUN, "--include-live") == 0


def test_cleanup_older_than_skips_live_runs_and_says_so(cloud, tmp_path, capsys):
    old_run = new_run_id(time.time() - 7200)
    cloud.add("volume", "vol-1")
    write_ledger(tmp_path / old_run, [{"ts": 1.0, "event": "created", "kind": "volume", "id": "vol-1"}])
    liveness.mark(tmp_path / old_run)
    assert cleanup(tmp_path, "--older-than", "1h") == 0
    assert f"skipping run {old_run}: run {old_run} is still going" in capsys.readouterr().err
    assert cloud.has("volume", "vol-1")
    liveness.clear(tmp_path / old_run)
    assert cleanup(tmp_path, "--older-than", "1h") == 0
    assert not cloud.has("volume", "vol-1")


def test_cleanup_without_the_runs_ledger_says_what_it_cannot_find(cloud, tmp_path, capsys):
    cloud.add("server", "srv-1", name=f"cfm-{RUN}-vm-gw0-1")
    assert cleanup(tmp_path, "--run-id", RUN) == 0
    captured = capsys.readouterr()
    assert (f"no ledger of run {RUN} under {tmp_path}: only resources carrying the run tag can be found; "
            "resources a CPI named itself cannot") in captured.err
    assert "deleted: server       srv-1" in captured.out and not cloud.has("server", "srv-1")


def test_cleanup_json_is_one_document(cloud, tmp_path, capsys):
    cloud.add("volume", "vol-1")
    cloud.add("image", "img-1")
    cloud.fail[("delete_image", "img-1")] = exceptions.ConflictException(message="in use")
    ledger = write_ledger(tmp_path / RUN, [{"ts": 1.0, "event": "created", "kind": k, "id": i}
                                           for k, i in (("volume", "vol-1"), ("image", "img-1"))])
    assert cleanup(tmp_path, "--run-id", RUN, "--json") == 1
    doc = json.loads(capsys.readouterr().out)
    assert sorted(doc) == ["deleted", "failed", "ledgers", "leftovers", "notes", "run_ids", "unattributed"]
    assert (doc["run_ids"], doc["ledgers"], doc["unattributed"], doc["notes"]) == ([RUN], [str(ledger)], [], [])
    assert [(i["kind"], i["id"], i["source"]) for i in doc["leftovers"]] == [("volume", "vol-1", "ledger"),
                                                                            ("image", "img-1", "ledger")]
    assert doc["deleted"] == [{"kind": "volume", "id": "vol-1", "name": "", "run_id": RUN, "source": "ledger",
                               "reason": ""}]
    assert doc["failed"] == [{"kind": "image", "id": "img-1", "name": "", "error": "ConflictException: in use"}]


def test_cleanup_says_a_cut_off_call_may_still_be_running(cloud, tmp_path, capsys):
    write_ledger(tmp_path / RUN, create_vm_failed("cpi-222222", ["10.10.1.21"])[:1])
    assert cleanup(tmp_path, "--run-id", RUN, "--dry-run") == 0
    assert (f"create_vm cpi-222222 (cut off) of run {RUN} may still be running in its CPI until "
            in capsys.readouterr().err)


def test_cleanup_refuses_a_run_id_that_is_not_a_directory_name(cloud, tmp_path, capsys):
    assert cleanup(tmp_path, "--run-id", "../x") == 2
    assert "a run id is the name of a directory under --report-dir" in capsys.readouterr().err


def test_a_gone_servers_unbound_ports_holding_its_static_ips_are_swept(cloud, tmp_path, capsys):
    """A run killed while its CPI was half-way through delete_vm: Nova's server is gone, the
    reference CPI's pre-created ports are unbound; their IPs are the ones create_vm asked for."""
    started = NOW.timestamp() - 60
    cloud.add("port", "port-a", name="vm-1-manual-a", fixed_ips=[{"ip_address": "10.10.1.20"}])
    cloud.add("port", "port-other", fixed_ips=[{"ip_address": "10.10.1.21"}])  # not this server's
    write_ledger(tmp_path / RUN, [
        {"ts": started, "event": "call-started", "kind": "call", "id": "cpi-222222", "method": "create_vm",
         "timeout": 900.0, "hints": {"stemcell_cid": "img-stem", "ips": ["10.10.1.20"]}},
        {"ts": started + 10, "event": "call-ended", "kind": "call", "id": "cpi-222222", "method": "create_vm",
         "outcome": "ok", "usable": True, "result_id": "srv-gone"},
        {"ts": started + 10, "event": "created", "kind": "server", "id": "srv-gone"}])
    assert cleanup(tmp_path, "--run-id", RUN) == 0, capsys.readouterr()
    assert not cloud.has("port", "port-a") and cloud.has("port", "port-other")
