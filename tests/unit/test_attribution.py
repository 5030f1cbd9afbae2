"""Attribution: which leftover a CPI created in a call that never answered usably, and why."""

import pytest
from fake_openstack import FakeCloud

from conformance.cloud.attribution import (
    CallWindow,
    Seen,
    attribute,
    epoch,
    openstack_inventory,
    suspect_calls,
)

pytestmark = pytest.mark.unit

T = 1_796_205_600.0  # 2026-12-02T10:00:00Z
RUN = "20261202t100000-abcd"
VM_HINTS = {"stemcell_cid": "img-stem", "ips": ["10.10.1.20", "10.10.2.20"], "agent_id": "a", "disk_cid": None}


def call(rid, method, ts, hints=None, *, ended=None, outcome="error", usable=False, timeout=900.0, run=RUN):
    lines = [{"ts": ts, "run_id": run, "worker": "gw0", "event": "call-started", "kind": "call", "id": rid,
              "method": method, "timeout": timeout, "hints": hints or {}}]
    if ended is not None:
        lines.append({"ts": ended, "run_id": run, "worker": "gw0", "event": "call-ended", "kind": "call", "id": rid,
                      "method": method, "outcome": outcome, "usable": usable})
    return lines


def window(method="create_vm", hints=None, *, start=T, ended=T + 60, outcome="error", rid="cpi-100001", run=RUN):
    return CallWindow(rid, method, "gw0", run, start, ended, outcome, VM_HINTS if hints is None else hints)


def seen(kind, rid, at=T + 10, name="", **attrs):
    return Seen(kind, rid, name, at, attrs)


def only(findings):
    assert len(findings) == 1, findings
    return findings[0]


def test_suspect_calls_are_unusable_or_cut_off_creating_calls():
    entries = (call("cpi-1", "create_vm", T, VM_HINTS, ended=T + 5)
               + call("cpi-2", "create_disk", T, {"size_mib": 1024}, ended=T + 5, outcome="ok", usable=True)
               + call("cpi-3", "snapshot_disk", T, {"disk_cid": "vol-1"}, timeout=300)
               + call("cpi-4", "attach_disk", T, {}, ended=T + 5)
               + [{"ts": T, "run_id": RUN, "event": "created", "kind": "server", "id": "srv-1"}])
    found = {w.request_id: w for w in suspect_calls(entries)}
    assert sorted(found) == ["cpi-1", "cpi-3"]
    assert (found["cpi-1"].outcome, found["cpi-1"].end(), found["cpi-1"].hints["ips"][0]) == ("error", T + 5, "10.10.1.20")
    assert (found["cpi-3"].ended_at, found["cpi-3"].outcome, found["cpi-3"].end()) == (None, None, T + 300)


def test_a_cut_off_call_without_a_timeout_gets_the_default():
    entries = call("cpi-1", "create_stemcell", T)
    del entries[0]["timeout"]
    assert suspect_calls(entries, default_timeout=120.0)[0].end() == T + 120


@pytest.mark.parametrize("text, expected", [
    ("2026-12-02T10:00:00Z", T), ("2026-12-02T10:00:00+00:00", T), ("2026-12-02T11:00:00+01:00", T),
    ("2026-12-02T10:00:00", T), ("2026-12-02T10:00:00.500000", T + 0.5), (None, None), ("", None), ("soon", None),
])
def test_created_at_is_parsed_to_epoch_no_zone_meaning_utc(text, expected):
    assert epoch(text) == expected


def test_server_with_a_static_ip_of_the_call_is_attributed():
    finding = only(attribute([seen("server", "srv-1", ips=["10.10.2.20"], image_id="other")], [window()], set()))
    assert (finding.attributed, finding.request_id, finding.method, finding.run_id) == (True, "cpi-100001",
                                                                                         "create_vm", RUN)
    assert finding.reason == "server holds 10.10.2.20, a static IP of create_vm cpi-100001 (answered error)"


def test_server_booting_the_calls_stemcell_is_attributed():
    finding = only(attribute([seen("server", "srv-1", ips=[], image_id="img-stem")], [window()], set()))
    assert finding.attributed and "boots image img-stem, the stemcell of create_vm cpi-100001" in finding.reason


def test_ports_of_an_attributed_server_by_ip_binding_and_name():
    inventory = [seen("server", "srv-1", name="vm-1f2e", image_id="img-stem", ips=[]),
                 seen("port", "p-ip", ips=["10.10.1.20"], device_id=None),
                 seen("port", "p-bound", ips=["10.10.9.9"], device_id="srv-1"),
                 seen("port", "p-named", name="vm-1f2e-manual-b", ips=[], device_id=None)]
    found = {f.id: f for f in attribute(inventory, [window()], set())}
    assert all(f.attributed for f in found.values()), found
    assert found["p-ip"].reason == "port holds 10.10.1.20, a static IP of create_vm cpi-100001 (answered error)"
    assert "bound to server srv-1" in found["p-bound"].reason
    assert "named after server vm-1f2e" in found["p-named"].reason


def test_boot_volume_of_an_attributed_server():
    inventory = [seen("server", "srv-1", ips=["10.10.1.20"]), seen("volume", "v-boot", size=3, server_ids=["srv-1"])]
    found = {f.id: f for f in attribute(inventory, [window()], set())}
    assert found["v-boot"].attributed and "(its boot volume)" in found["v-boot"].reason


@pytest.mark.parametrize("size_mib, gib", [(0, 1), (1024, 1), (1025, 2), (3072, 3)])
def test_create_disk_claims_a_volume_of_the_rounded_size(size_mib, gib):
    disk = window("create_disk", {"size_mib": size_mib, "vm_cid": None})
    right = only(attribute([seen("volume", "v-1", size=gib, server_ids=[])], [disk], set()))
    wrong = only(attribute([seen("volume", "v-2", size=gib + 1, server_ids=[])], [disk], set()))
    attached = only(attribute([seen("volume", "v-3", size=gib, server_ids=["srv-unknown"])], [disk], set()))
    assert right.attributed and f"volume of {gib} GiB" in right.reason
    assert not wrong.attributed and not attached.attributed


def test_hints_a_hostile_test_sent_match_nothing_and_break_nothing():
    odd = window(hints={"ips": "10.10.1.20", "stemcell_cid": None, "size_mib": "big"})
    disk = window("create_disk", {"size_mib": float("nan")})
    found = attribute([seen("server", "srv-1", ips=["10.10.1.20"]), seen("volume", "v-1", size=1, server_ids=[])],
                      [odd, disk], set())
    assert [f.attributed for f in found] == [False, False]
    assert suspect_calls([{**call("cpi-1", "create_vm", T)[0], "hints": ["x"]}])[0].hints == {}


def test_snapshot_of_the_calls_disk():
    snap = window("snapshot_disk", {"disk_cid": "vol-1"})
    ok = only(attribute([seen("snapshot", "s-1", volume_id="vol-1")], [snap], set()))
    other = only(attribute([seen("snapshot", "s-2", volume_id="vol-2")], [snap], set()))
    assert ok.attributed and ok.reason.startswith("snapshot of volume vol-1, the disk of snapshot_disk")
    assert not other.attributed


def test_create_stemcell_claims_an_image_of_the_project_created_in_its_window():
    finding = only(attribute([seen("image", "img-9", name="BOSH-1234")], [window("create_stemcell", {})], set()))
    assert finding.attributed and finding.method == "create_stemcell"


@pytest.mark.parametrize("at, inside", [(T - 30, True), (T - 30.5, False), (T + 60 + 30, True),
                                        (T + 60 + 30.5, False), (None, False)])
def test_skew_edges_of_a_window(at, inside):
    found = attribute([seen("server", "srv-1", at=at, ips=["10.10.1.20"])], [window()], set(), skew=30.0)
    assert bool(found) is inside


def test_a_cut_off_call_may_have_acted_until_its_timeout():
    cut = window(ended=None, outcome=None)
    late = only(attribute([seen("server", "srv-1", at=T + 899, ips=["10.10.1.20"])], [cut], set()))
    assert late.attributed and "(cut off)" in late.reason
    assert not attribute([seen("server", "srv-2", at=T + 931, ips=["10.10.1.20"])], [cut], set())


def test_known_ids_and_their_ports_and_volumes_are_left_to_the_ledger():
    inventory = [seen("server", "srv-known", name="vm-known", ips=["10.10.1.20"]),
                 seen("port", "p-of-known", device_id="srv-known", ips=[]),
                 seen("port", "p-named-known", name="vm-known-manual-a", ips=[]),
                 seen("volume", "v-of-known", size=1, server_ids=["srv-known"])]
    assert attribute(inventory, [window()], {"srv-known"}) == []


def test_what_matches_no_rule_is_reported_never_attributed():
    finding = only(attribute([seen("server", "srv-x", ips=["10.10.7.7"], image_id="img-other")], [window()], set()))
    assert not finding.attributed and finding.request_id is None and finding.during == ("cpi-100001",)
    assert finding.reason.startswith("created during create_vm cpi-100001 (answered error) but matches none of "
                                     "its hints (create_vm cpi-100001 (answered error): static IPs")


def test_resources_outside_every_window_are_ignored():
    assert attribute([seen("server", "srv-1", at=T - 3600, ips=["10.10.1.20"])], [window()], set()) == []


def test_two_calls_claiming_alike_is_ambiguous_and_strong_evidence_wins():
    first, second = window(rid="cpi-1"), window(rid="cpi-2", hints={**VM_HINTS, "ips": ["10.10.1.30"]})
    same_stemcell = only(attribute([seen("server", "srv-1", ips=[], image_id="img-stem")], [first, second], set()))
    assert not same_stemcell.attributed and same_stemcell.reason.startswith("claimed by several calls alike")
    by_ip = only(attribute([seen("server", "srv-2", ips=["10.10.1.30"], image_id="img-stem")], [first, second],
                           set()))
    assert by_ip.attributed and by_ip.request_id == "cpi-2"


def test_same_request_id_in_two_runs_is_two_calls():
    a, b = window(rid="cpi-1", run="20261202t100000-aaaa"), window(rid="cpi-1", run="20261202t100000-bbbb")
    assert not only(attribute([seen("server", "srv-1", ips=[], image_id="img-stem")], [a, b], set())).attributed


def test_openstack_inventory_reads_plain_values():
    cloud = FakeCloud(project="proj-1")
    cloud.add("server", "srv-1", name="vm-1", image={}, created_at="2026-12-02T10:00:10Z",
              addresses={"net": [{"addr": "10.10.1.20", "version": 4}]})
    cloud.add("port", "p-1", name="vm-1-manual-a", fixed_ips=[{"ip_address": "10.10.1.20", "subnet_id": "s"}],
              device_id="srv-1", device_owner="compute:nova")
    cloud.add("port", "p-dhcp", device_owner="network:dhcp")
    cloud.add("volume", "v-1", size=2, attachments=[{"server_id": "srv-1"}], created_at="2026-12-02T10:00:10.000000")
    cloud.add("snapshot", "s-1", volume_id="v-1")
    cloud.add("image", "img-mine", name="BOSH-1")
    cloud.add("image", "img-public", owner="admin-project")
    by_id = {s.id: s for s in openstack_inventory(cloud)}
    assert sorted(by_id) == ["img-mine", "p-1", "s-1", "srv-1", "v-1"]
    assert by_id["srv-1"] == Seen("server", "srv-1", "vm-1", T + 10, {"image_id": None, "ips": ["10.10.1.20"]})
    assert by_id["p-1"].attrs["ips"] == ["10.10.1.20"] and by_id["p-1"].attrs["device_id"] == "srv-1"
    assert (by_id["v-1"].created_at, by_id["v-1"].attrs["server_ids"]) == (T + 10, ["srv-1"])
    assert by_id["s-1"].attrs["volume_id"] == "v-1"
