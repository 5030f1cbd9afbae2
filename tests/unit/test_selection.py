"""Requirements (skips naming the profile key), sweeper selection, secrets, result shapes."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conformance.cloud.sweep import Leftover, from_entries, select
from conformance.core.cleanup import Ledger
from conformance.core.secrets import Redactor, interpolate, secrets_in
from conformance.cpi.results import check_result
from conformance.profile import addresses, load_profile
from conformance.run import requirements

pytestmark = pytest.mark.unit

EXAMPLE = load_profile(Path(__file__).parents[2] / "profiles" / "example.yml")


@pytest.mark.parametrize(
    "requirement, reason",
    [
        ("multi_nic", None),
        ("manual_networks>=2", None),
        ("manual_networks>=3", "profile: networks.manual has 2 network(s), the test needs >= 3"),
        ("get_disks", "profile: features.get_disks is false"),
        ("config_drive:disk", "profile: features.config_drive does not list 'disk'"),
        ("config_drive:cdrom", None),
        ("vip_network", None),
    ],
)
def test_requirements_name_the_profile_key(requirement, reason):
    assert requirements.unmet(EXAMPLE, requirement) == reason


def test_unknown_requirement_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown requirement 'teleport'"):
        requirements.unmet(EXAMPLE, "teleport")


def test_partition_gives_disjoint_slices():
    pool = addresses.expand(["10.0.0.10-10.0.0.19"])
    slices = [addresses.partition(pool, 3, i) for i in range(3)]
    assert [len(s) for s in slices] == [3, 3, 3]
    assert not set(slices[0]) & set(slices[1])


def test_sweep_selects_by_run_and_age_and_orders_dependencies(tmp_path):
    old, new = "20261120t000000-aaaa", "20261121t090000-bbbb"
    items = [Leftover("volume", "v1", "", old, "tag"), Leftover("server", "s1", "", old, "ledger"),
             Leftover("server", "s2", "", new, "tag"), Leftover("image", "i1", "", "not-a-run", "tag")]
    now = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    aged = select(items, older_than=timedelta(hours=2), now=now)
    assert [(i.kind, i.id) for i in aged] == [("server", "s1"), ("volume", "v1")]
    assert [i.id for i in select(items, run_id=new, now=now)] == ["s2"]


def test_ledger_leftovers_are_created_minus_deleted(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl", "20261121t090000-bbbb")
    ledger.record("created", "server", "s1")
    ledger.record("created", "volume", "v1")
    ledger.record("deleted", "server", "s1")
    ledger.record("abandoned", "volume", "v1", reason="--keep-on-failure")
    assert [(i.kind, i.id, i.run_id) for i in from_entries(Ledger.read(ledger.path))] == [
        ("volume", "v1", "20261121t090000-bbbb")]


def test_redactor_scrubs_values_and_secret_keys():
    red = Redactor({"hunter2-long"})
    assert red.text("pw=hunter2-long!") == "pw=<redacted>!"
    assert red.doc({"api_key": "x", "nested": [{"token": "y"}], "note": "hunter2-long"}) == {
        "api_key": "<redacted>", "nested": [{"token": "<redacted>"}], "note": "<redacted>"}
    assert red.leaks(stdout="ok", stderr="... hunter2-long ...") == ["stderr"]
    assert Redactor({"ab"}).text("abc") == "abc", "too short to be scanned"


def test_interpolate_remembers_secret_values_only():
    found: set[str] = set()
    doc = interpolate({"password": "${P}", "user": "${U}"}, {"P": "pw-1234", "U": "bob"}, found, None)
    assert doc == {"password": "pw-1234", "user": "bob"} and found == {"pw-1234"}
    assert secrets_in({"openstack": {"api_key": "k-1", "auth_url": "u"}}) == {"k-1"}


@pytest.mark.parametrize(
    "method, value, version, expected",
    [
        ("create_vm", "vm-1", 1, ("vm-1", None)),
        ("create_vm", ["vm-1", {"a": {}}], 2, ("vm-1", {"a": {}})),
        ("attach_disk", None, 1, None),
        ("attach_disk", "/dev/sdb", 2, "/dev/sdb"),
        ("delete_vm", True, 2, True),
    ],
)
def test_result_shapes(method, value, version, expected):
    assert check_result(method, value, version) == expected


@pytest.mark.parametrize("method, value", [("create_vm", ["vm-1"]), ("create_disk", ""), ("get_disks", "d"),
                                           ("info", {"api_version": 2}), ("attach_disk", 3)])
def test_wrong_result_shapes_are_named(method, value):
    with pytest.raises(ValueError, match=method):
        check_result(method, value, 2)


def test_the_last_line_of_a_run_counts_its_tests(tmp_path):
    import json

    from conformance.commands.run import counts

    doc = {"started_at": 100.0, "finished_at": 431.4,
           "tests": [{"outcome": "passed"}] * 44 + [{"outcome": "skipped"}]}
    (tmp_path / "results.json").write_text(json.dumps(doc))
    assert counts(tmp_path) == "44 passed, 1 skipped of 45 in 331s; "
    assert counts(tmp_path / "missing") == ""
    (tmp_path / "results.json").write_text("{broken")
    assert counts(tmp_path) == ""
