"""The product's main job, for real: `conformance run` on the local cloud, in parallel, through both
real CPIs, the bundled reference CPI and the official BOSH OpenStack CPI (Ruby, unmodified, installed
by ../shared/official-cpi/install). Each run passes every capability its CPI implements (the
official one may only fail where its profile lists a known CPI bug) and leaves nothing behind in
the project: servers, volumes, snapshots, floating IPs, ports and images are compared before and
after the run, whoever named them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.core.cleanup import Ledger

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
import junit  # noqa: E402
import official_cpi as official_cpi_sources  # noqa: E402
from project import project_resources  # noqa: E402

pytestmark = pytest.mark.cloud

ROOT = Path(__file__).parents[2]
# What a profile may leave unrun, and why (anything else skipped is a failure of this test).
ALLOWED_SKIPS = {"profiles/local.yml": (), "profiles/local-official.yml": ("features.get_disks is false",)}


@pytest.fixture(scope="module")
def official_cpi() -> str:
    """Installs the official CPI (idempotent: seconds when done) and returns its executable."""
    folder = official_cpi_sources.find()
    if folder is None:
        pytest.fail(f"the official CPI is not on this machine (looked in "
                    f"{', '.join(map(str, official_cpi_sources.CANDIDATES))}; set CONFORMANCE_OFFICIAL_CPI_DIR)",
                    pytrace=False)
    install = folder / "install"
    done = subprocess.run([str(install)], capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{install} failed:\n{done.stderr[-3000:]}"
    return done.stdout.strip().splitlines()[-1]


#: (profile, witnesses): the reference CPI with both witnesses (the cloud API and the hypervisor) and
#: with none (every test still runs, its cloud checks not made), the official CPI with the cloud API's.
RUNS = [("profiles/local.yml", "openstack,libvirt"), ("profiles/local-official.yml", "openstack"),
        ("profiles/local.yml", "none")]


@pytest.mark.parametrize("profile, witnesses", RUNS,
                         ids=["reference-cpi-both-witnesses", "official-cpi", "reference-cpi-no-witness"])
def test_full_suite_passes_on_the_local_cloud_and_leaves_nothing(profile, witnesses, request, localcloud_facts,
                                                                  os_conn, tmp_path):
    if profile == "profiles/local-official.yml":  # the profile's cpi.command names this path
        assert request.getfixturevalue("official_cpi") == "/opt/official-openstack-cpi/bin/cpi"
    before = project_resources(os_conn)
    reports = tmp_path / "reports"
    done = subprocess.run([sys.executable, "-m", "conformance.cli", "run", "--profile", profile,
                           "--witnesses", witnesses, "-n", "2", "--report-dir", str(reports)], cwd=ROOT,
                          capture_output=True, text=True, timeout=3600)
    runs = list(reports.iterdir()) if reports.is_dir() else []
    assert len(runs) == 1, f"exit {done.returncode}, no report folder:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    (run_dir,) = runs
    results = json.loads((run_dir / "results.json").read_text())
    failed = [f"{t['name']}: {t['reason']}" for t in results["tests"] if t["outcome"] in ("failed", "error", "xpassed")]
    assert done.returncode == 0 and not failed, "\n".join(failed) or done.stdout[-4000:]
    skipped = [f"{t['name']}: {t['reason']}" for t in results["tests"] if t["outcome"] == "skipped"
               and not any(allowed in (t["reason"] or "") for allowed in ALLOWED_SKIPS[profile])]
    assert not skipped, f"{profile} claims these features, yet: {skipped}"
    assert Ledger.outstanding(run_dir / "ledger.jsonl") == [], "resources of the run still in the ledger"
    left = sorted(project_resources(os_conn) - before)
    assert left == [], f"{profile}: the run left these in the project: {left}"
    check_witnesses(results, witnesses)
    check_prepared_ahead(run_dir, results)
    cases = junit.check(run_dir / "junit.xml")  # a JUnit schema; case id and capability on every testcase
    assert len(cases) == len(results["tests"]), "junit.xml has a testcase per test of results.json"
    assert all(t.get("requirement") for t in results["tests"]), "every test carries its MUST sentence"


def check_witnesses(results: dict, witnesses: str) -> None:
    """Who made the cloud checks: every witness of the run made some, none made a check it cannot
    see; without witnesses every cloud check is listed as not checked."""
    names = [] if witnesses == "none" else witnesses.split(",")
    assert results["cloud"]["witnesses"] == names
    checks = [c for t in results["tests"] for c in t.get("witness_checks") or []]
    assert len(checks) >= 30, f"only {len(checks)} cloud checks recorded"
    made = {name: sum(name in c["by"] for c in checks) for name in names}
    assert all(made.values()), f"a witness made no check: {made}"
    assert all(set(c["by"]) | set(c["unseen"]) == set(names) for c in checks), "a witness neither made nor declined"
    not_checked = [text for t in results["tests"] for text in t.get("not_checked") or []]
    if names:
        assert made.get("openstack", len(checks)) >= len(checks) - 1, f"the cloud API saw too little: {made}"
    else:
        assert all(not c["by"] for c in checks) and len(not_checked) >= len(checks), "checks without a witness"


def check_prepared_ahead(run_dir: Path, results: dict) -> None:
    """The run was planned (schedule.json: every test on exactly one worker, and run there) and its
    VMs were prepared ahead: each create_vm made ahead belongs to a test that declares that VM
    (@pytest.mark.boots) or uses a session VM, and every VM that answered SSH is in boots.jsonl."""
    from conformance.core.jsonl import read_jsonl

    plan = json.loads((run_dir / "schedule.json").read_text())["workers"]
    planned = [nodeid for order in plan.values() for nodeid in order]
    ran = {t["nodeid"].removeprefix("conformance/"): t for t in results["tests"]}
    assert sorted(planned) == sorted(ran), "schedule.json lists every test of the run once"
    wrong = [n for w, order in plan.items() for n in order if ran[n].get("worker") != w]
    assert not wrong, f"tests that ran elsewhere than planned: {wrong}"
    needs = json.loads((run_dir / "needs.json").read_text())
    ahead = [c for t in results["tests"] for c in t["cpi_calls"] if c.get("ahead") and c["method"] == "create_vm"]
    assert ahead, "no VM was prepared ahead"
    for t in results["tests"]:
        made = [c for c in t["cpi_calls"] if c.get("ahead") and c["method"] == "create_vm"]
        n = needs[t["nodeid"].removeprefix("conformance/")] if made else {}
        assert not made or n["boots"] or n["uses"], f"{t['name']}: a VM made ahead for a test that needs none"
    boots = read_jsonl(run_dir / "boots.jsonl")
    assert boots and all(b["to_ssh"] > 0 for b in boots), "every VM that answered SSH has its boot time"
    assert any(b["ahead"] for b in boots), "no VM answered SSH before its test"
