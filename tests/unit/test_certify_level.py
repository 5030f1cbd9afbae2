"""Certification levels: the shipped level's format and its judgement of a run (required pass,
required skip fails, optional skip allowed, advisory and flagged never fail, runner errors leave it
incomplete), on synthetic results.json documents shaped like real ones."""

from types import SimpleNamespace

import pytest

from conformance.certify import catalogue, level
from conformance.run import requirements

pytestmark = pytest.mark.unit

LEVEL = """
level: test-1
title: a test level
cloud: openstack
required:
  id-a: test_a
  id-b: test_b
  id-vip: test_vip
advisory:
  id-adv: {name: test_adv, reason: nice to have}
flagged:
  id-flag: {name: test_flag, reason: the test itself is wrong on some clouds (bug 7)}
optional:
  - capability: network_vip
    skips: ["profile: features.vip_network is false"]
    why: no floating IP pool
"""


def result(cid, outcome="passed", reason=None, capability="contract", blame=None):
    return {"case_id": cid, "name": f"test_{cid[3:]}", "nodeid": f"suites/x.py::test_{cid[3:]}",
            "capability": capability, "outcome": outcome, "reason": reason, "blame": blame}


def run(*tests, certify=True, **extra):
    return {"certify": certify, "selection": {"exitstatus": 0}, "tests": list(tests), **extra}


def everything_passes(**changed):
    tests = {cid: result(cid) for cid in ("id-a", "id-b", "id-adv", "id-flag")}
    tests["id-vip"] = result("id-vip", capability="network_vip")
    tests.update(changed)
    return run(*tests.values())


@pytest.fixture
def lvl():
    return level.parse(LEVEL, "test-1.yml")


def test_required_cases_that_pass_certify(lvl):
    judged = level.judge(lvl, everything_passes())
    assert judged.word == "CERTIFIED" and judged.certified
    assert judged.text == "3 of 3 required cases passed"
    assert [c.ok for c in judged.of("required")] == [True, True, True]


def test_a_skipped_required_case_fails_the_certification(lvl):
    judged = level.judge(lvl, everything_passes(**{"id-b": result("id-b", "skipped", "profile: features.snapshots is false")}))
    assert judged.word == "NOT CERTIFIED"
    (b,) = [c for c in judged.cases if c.case_id == "id-b"]
    assert b.ok is False and "a required case must run" in b.note and "test_b (skipped)" in judged.text


def test_a_skip_the_level_calls_optional_is_allowed(lvl):
    skipped = result("id-vip", "skipped", "profile: features.vip_network is false", capability="network_vip")
    judged = level.judge(lvl, everything_passes(**{"id-vip": skipped}))
    assert judged.word == "CERTIFIED", judged.text
    assert judged.text == "2 of 3 required cases passed, 1 skipped as optional"
    (vip,) = judged.of("required")[2:]
    assert vip.ok is True and "optional: no floating IP pool" in vip.note


def test_an_optional_rule_allows_only_its_reasons_and_its_capability(lvl):
    other_reason = result("id-vip", "skipped", "the cloud has no floating IPs", capability="network_vip")
    assert level.judge(lvl, everything_passes(**{"id-vip": other_reason})).word == "NOT CERTIFIED"
    other_capability = result("id-a", "skipped", "profile: features.vip_network is false")
    assert level.judge(lvl, everything_passes(**{"id-a": other_capability})).word == "NOT CERTIFIED"


@pytest.mark.parametrize("cid", ["id-adv", "id-flag"])
def test_advisory_and_flagged_failures_do_not_fail_the_certification(lvl, cid):
    judged = level.judge(lvl, everything_passes(**{cid: result(cid, "failed", "AssertionError: no")}))
    assert judged.word == "CERTIFIED"
    (case,) = [c for c in judged.cases if c.case_id == cid]
    assert case.outcome == "failed" and case.ok is None and case.note.split(";")[0] in (
        "nice to have", "the test itself is wrong on some clouds (bug 7)")
    assert ("advisory: 1 failed" in judged.text) is (cid == "id-adv")


@pytest.mark.parametrize("outcome", ["failed", "error", "xfailed", "xpassed"])
def test_a_required_failure_fails_it(lvl, outcome):
    assert level.judge(lvl, everything_passes(**{"id-a": result("id-a", outcome, "boom")})).word == "NOT CERTIFIED"


def test_a_required_case_not_run_fails_it(lvl):
    doc = everything_passes()
    doc["tests"] = [t for t in doc["tests"] if t["case_id"] != "id-b"]
    judged = level.judge(lvl, doc)
    assert judged.word == "NOT CERTIFIED" and "test_b (not run)" in judged.text


def test_a_runner_error_on_a_required_case_leaves_it_incomplete(lvl):
    judged = level.judge(lvl, everything_passes(**{"id-a": result("id-a", "error", "ping is not installed", blame="runner")}))
    assert judged.word == "INCOMPLETE" and "not measured (runner error)" in judged.text


def test_parametrized_variants_are_one_case_judged_by_the_worst(lvl):
    doc = everything_passes()
    doc["tests"].append(result("id-a", "failed", "second variant"))
    assert level.judge(lvl, doc).word == "NOT CERTIFIED"


@pytest.mark.parametrize("doc_change, word, text", [
    ({"certify": False}, "NOT CERTIFIED", "not a certification run"),
    ({"interrupted": {"signal": "SIGINT"}}, "INCOMPLETE", "interrupted by SIGINT"),
    ({"selection": {"exitstatus": 3}}, "INCOMPLETE", "pytest exit status 3"),
])
def test_the_run_itself_must_be_a_whole_certification_run(lvl, doc_change, word, text):
    judged = level.judge(lvl, {**everything_passes(), **doc_change})
    assert judged.word == word and text in judged.text


def test_an_edited_record_is_not_certified(lvl):
    judged = level.judge(lvl, everything_passes(), record_ok=False)
    assert judged.word == "NOT CERTIFIED" and "digest" in judged.text


def test_cases_outside_the_level_are_listed_not_judged(lvl):
    doc = everything_passes()
    doc["tests"].append(result("id-new", "failed", "a case newer than the level"))
    judged = level.judge(lvl, doc)
    assert judged.word == "CERTIFIED" and [c.name for c in judged.of("not in level")] == ["test_new"]


@pytest.mark.parametrize("text, problem", [
    ("level: x\ncloud: o\nbogus: 1\n", "unknown key(s) bogus"),
    ("cloud: o\n", "level: a non-empty string is required"),
    ("level: x\ncloud: o\nrequired: {a: t}\nadvisory: {a: {name: t, reason: r}}\n", "listed under two statuses: a"),
    ("level: x\ncloud: o\nflagged: {a: {name: t}}\n", "flagged.a: {name, reason} is required"),
    ("level: x\ncloud: o\noptional: [{capability: c, why: w}]\n", "needs skips"),
    ("level: x\ncloud: o\noptional: [{skips: [a], why: w}]\n", "names a capability or cases"),
    ("[1, 2]", "a level is a mapping"),
    ("level: &a [*a]\n", "recursive"),
])
def test_a_bad_level_file_is_refused_naming_what(text, problem):
    with pytest.raises(level.LevelError) as info:
        level.parse(text, "bad.yml")
    assert str(info.value).startswith("bad.yml: ") and problem in str(info.value)


def test_an_unknown_level_name_lists_the_shipped_ones():
    with pytest.raises(level.LevelError, match="no certification level 'nope' \\(shipped: openstack-2026.1"):
        level.load("nope")


def test_the_shipped_level_names_only_cases_of_the_suites():
    shipped, cases = level.load(), {c["case_id"]: c for c in catalogue.collect()}
    listed = [*shipped.required, *shipped.advisory, *shipped.flagged]
    assert sorted(set(listed) - set(cases)) == [], "level ids that are no case of the suites"
    assert sorted(set(cases) - set(listed)) == [], "cases of the suites this level does not classify"
    capabilities = {c["capability"] for c in cases.values()}
    assert {r.capability for r in shipped.optional if r.capability} <= capabilities


def test_the_shipped_levels_optional_skips_are_the_reasons_the_run_gives():
    """Each optional rule allows the very reason requirements.unmet gives for a profile without the
    feature, for every required case of that capability that requires it."""
    features = SimpleNamespace(multi_nic=False, dynamic_network=False, vip_network=False, light_stemcell=False,
                               reboot=False, native_disk_resize=False, snapshots=False, config_drive=["cdrom"])
    profile = SimpleNamespace(features=features, ssh=SimpleNamespace(via="fixed_ip"),
                              networks=SimpleNamespace(manual=[object()], dynamic=None, vip=None))
    shipped = level.load()
    checked = 0
    for case in catalogue.collect():
        if case["case_id"] not in shipped.required or not case["requires"]:
            continue
        reason = requirements.first_unmet(profile, case["requires"])
        assert shipped.allowed_skip(case["case_id"], case["capability"], reason), (case["name"], reason)
        checked += 1
    assert checked >= 10
