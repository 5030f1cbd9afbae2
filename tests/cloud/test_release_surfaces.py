"""The release surfaces in CI: `conformance nightly` over Liberty, Mitaka and Newton (the local cloud's
emulated API surfaces, docs/surfaces.md) with the suite's fast part (`-m "not slow"`: the CPI
contract, stemcells, snapshots, the failure contract, the cloud's release; no VM boot to SSH), through
the reference CPI. Each run must pass, say it ran on an emulated surface (from the endpoint's own
header) and leave nothing in the project; the merged matrix has a column per release, oldest first.
The whole suite on every surface, through both CPIs, is the nightly command (README)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
from project import project_resources  # noqa: E402

pytestmark = pytest.mark.cloud

ROOT = Path(__file__).parents[2]
RELEASES = ("liberty", "mitaka", "newton")


def test_the_fast_suite_passes_on_every_release_surface(localcloud_facts, os_conn, tmp_path):
    before = project_resources(os_conn)
    profiles = [f"profiles/local-{release}.yml" for release in RELEASES]
    done = subprocess.run([sys.executable, "-m", "conformance.cli", "nightly", *profiles, "-m", "not slow", "-n", "2",
                           "--report-dir", str(tmp_path / "reports"), "--output", str(tmp_path / "matrix")],
                          cwd=ROOT, capture_output=True, text=True, timeout=2400)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    runs = sorted((tmp_path / "reports").iterdir())
    assert len(runs) == 3
    for run_dir in runs:
        results = json.loads((run_dir / "results.json").read_text())
        release = results["profile"]["release"]
        surface = results["cloud"]["surface"]
        assert surface and surface["release"] == release and surface["over"] == "zed", surface
        outcomes = {t["outcome"] for t in results["tests"]}
        assert len(results["tests"]) >= 10 and outcomes <= {"passed", "skipped"}, \
            [(t["name"], t["reason"]) for t in results["tests"] if t["outcome"] not in ("passed", "skipped")]
    header = (tmp_path / "matrix" / "matrix.md").read_text().split("\n| Capability |", 1)[1].split("\n", 1)[0]
    assert [r for r in RELEASES if f"/ {r} (emulated over zed)" in header] == list(RELEASES)
    assert header.index("liberty") < header.index("mitaka") < header.index("newton")
    left = sorted(project_resources(os_conn) - before)
    assert left == [], f"the surface runs left these in the project: {left}"
