"""`conformance nightly` for real, with the fake CPI (real processes, no cloud): one run per profile,
one release's broken profile does not stop the others, and the matrix is merged from what ran."""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
from fake_profile import FAKE_PROFILE, release_profile  # noqa: E402

pytestmark = pytest.mark.component

ROOT = Path(__file__).parents[2]


def test_a_broken_release_does_not_stop_the_others_and_the_matrix_has_what_ran(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("name: broken\nrelease: mitaka\n")  # no cloud, no CPI: the run refuses it (exit 2)
    profiles = [release_profile(tmp_path, "newton"), broken, FAKE_PROFILE]
    done = subprocess.run([sys.executable, "-m", "conformance.cli", "nightly", *map(str, profiles), "-k", "info",
                           "--report-dir", str(tmp_path / "reports"), "--output", str(tmp_path / "matrix")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("conformance nightly: ") and " exit " in line]
    assert len(lines) == 3, done.stdout[-3000:] + done.stderr[-3000:]
    assert " exit 2 " in lines[1] and lines[1].endswith("no run folder"), lines[1]
    assert done.returncode == 1, "a release whose run did not happen fails the nightly"
    md = (tmp_path / "matrix" / "matrix.md").read_text()
    header = md.split("\n| Capability |", 1)[1].split("\n", 1)[0]
    assert "fake-newton / newton" in header and "fake / zed" in header and "broken" not in header
    assert header.index("newton") < header.index("zed"), "oldest release first"
