"""The reports' judgement: capability cells from outcomes, the verdict, the digest check, timings,
and rendering that escapes untrusted text and needs no network. Synthetic results.json documents
shaped like real ones (see the component tests for reports of real runs)."""

import json
import re

import pytest

from conformance.report import build, capabilities, matrix, model, render, timing
from conformance.report.results import canonical_digest

pytestmark = pytest.mark.unit


def case(name, capability, outcome="passed", reason=None, duration=1.0, calls=()):
    return {"nodeid": f"suites/test_x.py::{name}", "name": name, "case_id": f"id-{name}",
            "capability": capability, "outcome": outcome, "duration": duration, "reason": reason,
            "longrepr": "Traceback\nE   AssertionError: boom" if outcome in ("failed", "error") else None,
            "cpi_calls": [{"method": m, "request_id": f"cpi-{i}", "duration": d, "outcome": "ok",
                           "started_at": 100.0 + i} for i, (m, d) in enumerate(calls)]}


def results(tests, *, release="zed", name="fake", exitstatus=None, certify=False):
    failing = any(t["outcome"] in model.FAILING for t in tests)
    summary = {}
    for t in tests:
        summary[t["outcome"]] = summary.get(t["outcome"], 0) + 1
    doc = {"schema_version": 1, "run_id": "20261121t000000-abcd", "started_at": 100.0, "finished_at": 160.0,
           "tool": {"name": "cpi-conformance", "version": "0.1.0", "python": "3.11", "code_sha256": "0" * 64},
           "certify": certify, "selection": {"exitstatus": int(failing) if exitstatus is None else exitstatus},
           "profile": {"name": name, "release": release, "redacted": {}},
           "cpi": {"command": ["cpi"], "api_version": 2, "info": {"api_version": 2, "stemcell_formats": ["raw"]}},
           "cloud": {"release": release, "services": {"compute": {"api_version": "2.1", "min_microversion": "2.1",
                                                                   "max_microversion": "2.93"}}},
           "summary": summary, "tests": tests, "setup_calls": []}
    doc["digest"] = {"algorithm": "sha256", "canonical": canonical_digest(doc)}
    return doc


def write(tmp_path, doc, name="run"):
    run_dir = tmp_path / name
    run_dir.mkdir()
    (run_dir / "results.json").write_text(json.dumps(doc))
    return run_dir


@pytest.mark.parametrize("outcomes, status, detail", [
    (["passed", "passed"], "yes", ""),
    (["passed", "failed"], "no", "1 of 2 failed"),
    (["passed", "error"], "error", "1 of 2 not measured: setup error"),
    (["skipped"], "skipped", "profile: features.snapshots is false"),
    (["passed", "skipped"], "yes", "partly: 1 of 2 skipped: profile: features.snapshots is false"),
    (["xfailed", "passed"], "known failure", "known failure: bug 12"),
    ([], "not run", "no test of this row was selected"),
])
def test_a_cell_says_what_was_measured(outcomes, status, detail):
    reasons = {"skipped": "profile: features.snapshots is false", "xfailed": "known failure: bug 12"}
    tests = [case(f"t{i}", "snapshots", o, reasons.get(o)) for i, o in enumerate(outcomes)]
    cell = capabilities.measure(tests)
    assert (cell.status, cell.detail) == (status, detail)


def test_tests_land_in_the_bosh_io_style_rows():
    tests = [case("test_light_stemcell_points_at_an_existing_image", "stemcell"),
             case("test_heavy_stemcell_becomes_an_active_image_with_the_manifest_formats", "stemcell"),
             case("test_two_manual_nics_get_one_port_each_with_the_requested_ips[x]", "network_manual", "skipped",
                  "profile: features.multi_nic is false"),
             case("test_static_ip_is_on_the_port_and_on_the_matching_nic", "network_manual"),
             case("test_teleport", "teleportation")]
    rows = {r.key: r for r in capabilities.table(tests)}
    assert rows["stemcell_light"].cell.status == rows["stemcell_heavy"].cell.status == "yes"
    assert rows["network_manual_multiple"].cell.text == "skipped (profile: features.multi_nic is false)"
    assert rows["network_manual_single"].cell.status == "yes"
    assert rows["teleportation"].cell.status == "yes", "an unknown capability gets its own row"
    assert rows["snapshots"].cell.status == "not run"


@pytest.mark.parametrize("outcomes, exitstatus, word", [
    (["passed", "skipped"], 0, "PASS"),
    (["passed", "failed"], 1, "FAIL"),
    (["passed", "error"], 1, "FAIL"),
    (["passed"], 2, "INCOMPLETE"),
    ([], 5, "EMPTY"),
])
def test_pass_only_when_nothing_failed_or_errored(outcomes, exitstatus, word):
    doc = results([case(f"t{i}", "contract", o) for i, o in enumerate(outcomes)], exitstatus=exitstatus)
    verdict = model.verdict(doc)
    assert verdict.word == word and verdict.passed == (word == "PASS")


def test_a_runner_error_is_no_verdict_on_the_capability():
    runner = {**case("t1", "network_vip", "error", "conformance.core.errors.RunnerError: test runner: ping is not installed"),
              "blame": "runner"}
    tests = [case("t0", "network_vip"), runner]
    cell = capabilities.measure(tests)
    assert (cell.status, cell.detail, cell.counts) == (
        "runner error", "1 of 2 not measured: conformance.core.errors.RunnerError: test runner: ping is not installed",
        {"passed": 1, "runner error": 1})
    assert capabilities.measure([*tests, case("t2", "network_vip", "error", "boom")]).status == "error"
    assert capabilities.measure([*tests, case("t2", "network_vip", "failed", "boom")]).status == "no"
    v = model.verdict(results(tests))
    assert (v.word, v.passed) == ("INCOMPLETE", False) and v.text.startswith("1 test(s) not measured: runner error")
    assert model.verdict(results([*tests, case("t2", "network_vip", "failed", "boom")])).word == "FAIL"


def test_an_edited_record_is_unverified_whatever_it_claims():
    doc = results([case("t1", "contract", "failed")])
    assert model.integrity(doc).ok
    doc["tests"][0]["outcome"] = "passed"
    check = model.integrity(doc)
    assert not check.ok and check.text.startswith("digest mismatch: edited or partial")
    assert model.verdict(doc).word == "UNVERIFIED"


def test_timing_per_method_and_per_test():
    doc = results([case("a", "vm_lifecycle", calls=[("create_vm", 30.0), ("has_vm", 0.2), ("has_vm", 0.4)],
                        duration=40.0),
                   case("b", "vm_lifecycle", calls=[("has_vm", 0.3), ("create_vm", 50.0)], duration=20.0)])
    stats = {s["method"]: s for s in timing.method_stats(doc)}
    assert (stats["has_vm"]["n"], stats["has_vm"]["min"], stats["has_vm"]["median"], stats["has_vm"]["max"]) == \
        (3, 0.2, 0.3, 0.4)
    assert stats["create_vm"]["p90"] == 50.0
    split = {s["name"]: s for s in timing.per_test_split(doc)}
    assert split["a"]["cpi"] == pytest.approx(30.6) and split["a"]["rest"] == pytest.approx(9.4)
    assert split["b"]["cpi"] == 20.0 and split["b"]["rest"] == 0.0, "CPI time never exceeds the test's time"
    chart = timing.method_chart(timing.method_stats(doc))
    xs = [r["x_median"] for r in chart["rows"]]
    assert xs == sorted(xs, reverse=True) and all(timing.LABEL_WIDTH <= x <= timing.CHART_WIDTH for x in xs)


def test_the_report_is_self_contained_and_escapes_untrusted_text(tmp_path):
    evil = "<script>alert(1)</script> | pipe"
    doc = results([case("t1", "contract", "failed", reason=evil, calls=[("info", 0.1)]),
                   case("t2", "snapshots", "skipped", reason="profile: features.snapshots is false")])
    run_dir = write(tmp_path, doc)
    html_path, md_path = build.write_reports(run_dir)
    html, md = html_path.read_text(), md_path.read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"<(script|link|img|iframe)\b|src=|@import|url\(", html), "no external or scripted content"
    assert "<svg" in html and "FAIL" in html and "Snapshots" in html
    assert "**Verdict: FAIL**" in md and "\\| pipe" in md
    assert "Snapshots: 1 test(s) skipped: profile: features.snapshots is false" in md


def test_render_run_says_why_instead_of_raising(tmp_path, capsys):
    assert build.render_run(tmp_path) == []
    assert "not rendered" in capsys.readouterr().err


def test_matrix_orders_releases_oldest_first(tmp_path):
    new = write(tmp_path, results([case("t1", "snapshots")], release="zed", name="zed"), "a")
    old = write(tmp_path, results([case("t1", "snapshots", "skipped", reason="liberty: no Cinder v3")],
                                  release="liberty", name="liberty"), "b")
    ctx = matrix.context([new, old])
    assert [c["label"] for c in ctx["columns"]] == ["liberty / liberty", "zed / zed"]
    row = next(r for r in ctx["matrix"] if r["key"] == "snapshots")
    assert [c.cell.text for c in row["cells"]] == ["skipped (liberty: no Cinder v3)", "yes"]
    html, md = matrix.write_matrix([new, old], tmp_path / "m")
    assert "liberty / liberty" in html.read_text() and "| Snapshots | skipped (liberty: no Cinder v3) | yes |" \
        in md.read_text()


def test_markdown_cells_stay_on_one_row():
    assert render.md_cell("a|b\nc  d") == "a\\|b c d"
    assert render.seconds(0.25) == "250 ms" and render.seconds(3.44) == "3.4 s" and render.seconds(125) == "2 min 05 s"


@pytest.mark.parametrize("outcome, certified", [("passed", True), ("failed", False)])
def test_a_certification_run_is_certified_only_when_it_passes(tmp_path, outcome, certified):
    """Certified means judged against the certification level: every required case of it passed
    (conformance/certify; tests/unit/test_certify_level.py has the level's other rules)."""
    from conformance.certify import level

    tests = [{**case(name, "contract", outcome if i == 0 else "passed"), "case_id": cid}
             for i, (cid, name) in enumerate(level.load().required.items())]
    run_dir = write(tmp_path, results(tests, certify=True))
    md = build.write_reports(run_dir)[1].read_text()
    assert ("Certification run: **CERTIFIED against level openstack-2026.1**" in md) is certified
    assert ("Certification run: **NOT certified against level openstack-2026.1**" in md) is not certified


def test_a_partial_record_still_renders(tmp_path):
    doc = {"run_id": "x", "tests": [{"nodeid": "a::t", "name": "t", "outcome": "passed", "duration": 1.0}]}
    doc["digest"] = {"algorithm": "sha256", "canonical": canonical_digest(doc)}
    md = build.write_reports(write(tmp_path, doc))[1].read_text()
    assert "**Verdict: PASS**" in md and "| Other | **yes** | 1 passed |" in md


def test_the_resources_line_says_what_the_run_left_and_how_to_remove_it():
    from conformance.report.model import resources

    doc = {"run_id": "20261202t000000-abcd", "interrupted": {"signal": "SIGINT", "at": 1.0, "cut_short": True},
           "cleanup": {"created": 8, "deleted": 6, "kept": [], "unattributed": [],
                       "swept": [{"kind": "port", "id": "p-1", "why": "holds 10.10.1.20"}],
                       "left": ["server vm-1"], "failed": []}}
    line = resources(doc)
    assert line.startswith("8 created, 6 deleted by their tests; 1 removed by the run itself")
    assert "port p-1: holds 10.10.1.20" in line
    assert "1 left: server vm-1 (`conformance cleanup --run-id 20261202t000000-abcd`)" in line
    assert "interrupted by SIGINT, cleanups cut short" in line
    assert resources({"cleanup": {}}) is None and resources({}) is None


def test_the_report_says_which_witness_made_each_cloud_check(tmp_path):
    t1 = {**case("t1", "disks"), "witness_checks": [
        {"check": "the volume is 2 GiB", "by": ["openstack", "libvirt"], "unseen": {}},
        {"check": "the volume's metadata", "by": ["openstack"], "unseen": {"libvirt": "the metadata of a volume"}}]}
    t2 = {**case("t2", "stemcell"), "witness_checks": [
        {"check": "the image is active", "by": [], "unseen": {"libvirt": "images"}}],
        "not_checked": ["the image is active: libvirt does not see images"]}
    doc = results([t1, t2])
    doc["cloud"]["witnesses"] = ["libvirt"]
    doc["digest"] = {"algorithm": "sha256", "canonical": canonical_digest(doc)}
    found = model.witness_checks(doc)
    assert found["witnesses"] == ["libvirt", "openstack"]
    assert found["made"] == {"libvirt": 1, "openstack": 2} and found["unmade"] == 1
    html_path, md_path = build.write_reports(write(tmp_path, doc))
    md = md_path.read_text()
    assert "## Cloud checks (3): which witness made each" in md
    assert "Witnesses: libvirt made 1, openstack made 2; made by none: 1." in md
    assert "| t1 | the volume's metadata | openstack | libvirt (the metadata of a volume) |" in md
    assert "Show every cloud check" in html_path.read_text()


def test_a_run_without_witnesses_says_so(tmp_path):
    doc = results([case("t1", "disks")])
    _, md_path = build.write_reports(write(tmp_path, doc))
    assert "Witnesses: none (the profile names no cloud witness); made by none: 0." in md_path.read_text()


def test_time_accounting_splits_each_test_into_cpi_cloud_guest_and_the_suite(tmp_path):
    a = {**case("a", "vm_lifecycle", calls=[("create_vm", 30.0)], duration=100.0),
         "waits": {"cloud": 20.0, "guest": 40.0, "other": 1.0}}
    b = {**case("b", "disks", calls=[("create_disk", 5.0)], duration=10.0), "waits": {"cloud": 30.0}}
    doc = results([a, b])
    split = {s["name"]: s for s in timing.per_test_split(doc)}
    assert (split["a"]["cpi"], split["a"]["cloud"], split["a"]["guest"], split["a"]["rest"]) == (30.0, 20.0, 40.0, 10.0)
    assert (split["b"]["cloud"], split["b"]["rest"]) == (5.0, 0.0), "waits never exceed the test's time"
    assert timing.account(list(split.values())) == {"total": 110.0, "cpi": 35.0, "cloud": 25.0, "guest": 40.0,
                                                    "rest": 10.0}
    html_path, md_path = build.write_reports(write(tmp_path, doc))
    md = md_path.read_text()
    assert "| a | 1 min 40 s | 30.0 s (1) | 20.0 s | 40.0 s | 10.0 s |" in md
    assert "Where the tests' 1 min 50 s went: 35.0 s inside CPI calls, 25.0 s waiting on the cloud" in md
    assert 'class="guest"' in html_path.read_text() and "waiting on the cloud" in html_path.read_text()


@pytest.mark.parametrize("outcomes, text", [
    (["passed"] * 44 + ["failed"], "1 failed; 44 of 45 passed"),
    (["passed"] * 43 + ["failed", "skipped"], "1 failed; 43 of 45 passed (1 skipped)"),
    (["passed"] * 44 + ["skipped"], "44 of 45 passed (1 skipped), nothing failed"),
    (["passed", "passed"], "2 of 2 passed, nothing failed"),
])
def test_the_verdict_says_how_many_of_how_many_passed(outcomes, text):
    assert model.verdict(results([case(f"t{i}", "contract", o) for i, o in enumerate(outcomes)])).text == text


def ledger_doc():
    doc = results([{**case("t1", "disks", "failed", "AssertionError: size"),
                    "requirement": "resize_disk MUST grow the disk to the new size (bosh.io resize_disk)."},
                   case("t2", "snapshots", "skipped", reason="profile: features.snapshots is false")])
    doc["cleanup"] = {"created": 9, "deleted": 7, "kept": ["vol-k"], "unattributed": [], "failed": [],
                      "swept": [{"kind": "port", "id": "p-1", "why": "holds 10.10.1.20"}], "left": ["server vm-1"],
                      "by_kind": {"server": {"created": 3, "deleted": 2, "abandoned": 0},
                                  "volume": {"created": 6, "deleted": 5, "abandoned": 1}}}
    doc["digest"] = {"algorithm": "sha256", "canonical": canonical_digest(doc)}
    return doc


def test_the_ledger_is_summed_up_per_kind_of_resource(tmp_path):
    rows = model.ledger(ledger_doc())
    assert rows == [
        {"kind": "port", "created": 0, "deleted": 0, "swept": 1, "kept": 0, "left": 0},
        {"kind": "server", "created": 3, "deleted": 2, "swept": 0, "kept": 0, "left": 1},
        {"kind": "volume", "created": 6, "deleted": 5, "swept": 0, "kept": 1, "left": 0},
        {"kind": "all", "created": 9, "deleted": 7, "swept": 1, "kept": 1, "left": 1}]
    assert model.ledger(results([case("t1", "disks")])) == [], "no ledger record (an older run): no table"
    html_path, md_path = build.write_reports(write(tmp_path, ledger_doc()))
    assert "| **all** | 9 | 7 | 1 | 1 | **1** |" in md_path.read_text()
    assert 'id="ledger"' in html_path.read_text()


def test_a_failure_shows_the_contract_it_broke(tmp_path):
    html_path, md_path = build.write_reports(write(tmp_path, ledger_doc()))
    sentence = "resize_disk MUST grow the disk to the new size (bosh.io resize_disk)."
    assert f"  > The contract: {sentence}" in md_path.read_text()
    assert f'<p class="requirement"><b>The contract:</b> {sentence}</p>' in html_path.read_text()


def test_few_calls_get_dots_and_a_median_not_a_box():
    doc = results([case("a", "vm_lifecycle", calls=[("create_vm", 30.0), ("create_vm", 40.0)]),
                   case("b", "vm_lifecycle", calls=[("has_vm", v) for v in (0.1, 0.2, 0.3, 0.4)])])
    rows = {r["method"]: r for r in timing.method_chart(timing.method_stats(doc))["rows"]}
    assert (rows["create_vm"]["box"], rows["has_vm"]["box"]) == (False, True)
    svg = render.environment().get_template("charts.html.j2").module.method_chart(
        timing.method_chart(timing.method_stats(doc)))
    assert str(svg).count('class="box"') == 1 and str(svg).count('class="median"') == 2


def test_the_markdown_report_renders_as_github_renders_it(tmp_path):
    """GitHub renders GFM (CommonMark plus tables): the header stays a list of one line per item, the
    paragraphs after it are not swallowed into its last item, and every table is a table."""
    from markdown_it import MarkdownIt  # the test extras

    _, md_path = build.write_reports(write(tmp_path, ledger_doc()))
    html = MarkdownIt("commonmark").enable("table").render(md_path.read_text())
    header = html.split("<ul>", 1)[1].split("</ul>", 1)[0]
    items = re.findall(r"<li>(.*?)</li>", header, re.S)
    assert [i.split(" ", 1)[0].strip("<>") for i in items] == ["Run", "CPI", "Integrity:", "Cloud", "Not"]
    assert all("\n" not in i.strip() for i in items), items
    assert "<p><strong>Skipped capabilities and why:</strong></p>" in html
    assert html.count("<table>") == md_path.read_text().count("\n|---") + md_path.read_text().count("\n| ---")
    assert "<blockquote>\n<p>The contract: resize_disk MUST" in html


def test_the_junit_schema_refuses_what_ci_systems_cannot_read(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
    import junit

    good = ('<testsuites><testsuite name="cpi-conformance fake" tests="1" failures="0" errors="0" skipped="0" '
            'time="1.5" timestamp="2026-12-02T08:00:00.1+00:00"><properties><property name="profile" value="fake"/>'
            '</properties><testcase classname="fake.suites.test_x" name="t" time="0.1"><properties>'
            '<property name="case_id" value="c"/><property name="capability" value="disks"/></properties>'
            '<failure message="boom">trace</failure></testcase></testsuite></testsuites>')
    path = tmp_path / "junit.xml"
    path.write_text(good)
    assert junit.check(path) == {"fake.suites.test_x::t": {"case_id": "c", "capability": "disks"}}
    for broken in (good.replace(' tests="1"', ""), good.replace('time="0.1"', 'time="soon"'),
                   good.replace("<failure", "<failed").replace("</failure>", "</failed>"),
                   good.replace('<property name="capability" value="disks"/>', "")):
        path.write_text(broken)
        with pytest.raises(AssertionError):
            junit.check(path)


def test_the_benchmark_figures_of_a_run():
    a = {**case("a", "vm_lifecycle", calls=[("create_vm", 30.0), ("has_vm", 1.0)], duration=100.0),
         "waits": {"cloud": 20.0, "guest": 40.0}, "worker": "gw0"}
    b = {**case("b", "disks", calls=[("create_vm", 5.0)], duration=20.0), "waits": {"guest": 5.0}, "worker": "gw1"}
    b["cpi_calls"][0]["outcome"] = "error"
    doc = results([a, b])  # wall: 60 s (started 100, finished 160)
    figures = timing.run_figures(doc)
    assert (figures["wall"], figures["cpi"], figures["cloud"], figures["guest"], figures["rest"]) == \
        (60.0, 36.0, 20.0, 45.0, 19.0)
    assert (figures["vm_boots"], figures["create_vm_calls"]) == (1, 2), "a failed create_vm boots nothing"
    assert (figures["critical_path"], figures["critical_test"]) == (100.0, "a")
    assert figures["workers"] == {"gw0": 100.0, "gw1": 20.0}
    assert figures["suite_share"] == pytest.approx(19 / 60) and figures["wall_over_critical"] == 0.6


def test_an_emulated_surface_is_never_labelled_with_the_release_alone(tmp_path):
    doc = results([case("t1", "disks")], release="liberty", name="local-liberty")
    doc["cloud"]["surface"] = {"emulated": True, "label": "liberty over zed", "release": "liberty", "over": "zed",
                               "description": "an emulated Liberty API surface over OpenStack Zed"}
    doc["digest"] = {"algorithm": "sha256", "canonical": canonical_digest(doc)}
    assert model.run_label(doc) == "local-liberty / liberty (emulated over zed)"
    html_path, md_path = build.write_reports(write(tmp_path, doc))
    assert "**Target: an emulated Liberty API surface over OpenStack Zed**" in md_path.read_text()
    assert "# cpi-conformance report: local-liberty / liberty (emulated over zed)" in md_path.read_text()
    assert "Target: an emulated Liberty API surface over OpenStack Zed" in html_path.read_text()
    real = write(tmp_path, results([case("t1", "disks")], release="zed", name="local"), "real")
    _, matrix_md = matrix.write_matrix([real, tmp_path / "run"], tmp_path / "m")
    text = matrix_md.read_text()
    assert "| Capability | local-liberty / liberty (emulated over zed) (`" in text
    assert "| **Target** | an emulated Liberty API surface over OpenStack Zed | the cloud itself |" in text
    assert "| **CPI** | `cpi` | `cpi` |" in text
    assert model.run_label(results([case("t1", "disks")])) == "fake / zed", "a real cloud: no such words"


def test_per_test_labels_fit_left_of_their_bars():
    name = "test_disk_attaches_shows_in_the_guest_and_moves_with_its_data_between_vms"
    chart = timing.split_chart(timing.per_test_split(results([case(name, "disks", duration=10.0)])))
    (row,) = chart["rows"]
    assert len(row["label"]) == timing.SPLIT_LABEL_CHARS and row["label"].endswith("\u2026")
    assert len(row["label"]) * 6.2 <= chart["label_width"] - 8, "the label's width at 11 px fits its room"
    assert row["parts"][0]["x"] == chart["label_width"]
