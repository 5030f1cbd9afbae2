"""The suite's own worth: the reference CPI, broken on purpose in one way at a time, must fail the
conformance test that covers that behaviour, with a message that names it.

Each case runs `conformance run` for real (the local cloud, a real CPI process, SSH where the test
needs it) with the CPI command swapped for tests/fixtures/cpis/broken_refcpi.py FLAW.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.cloud

ROOT = Path(__file__).parents[2]
BROKEN = ROOT / "tests" / "fixtures" / "cpis" / "broken_refcpi.py"

CASES = [
    ("v1-shape-under-v2", "test_create_vm_answers_its_cid", "v2 create_vm must answer [cid, networks]"),
    ("has-vm-always-true", "test_delete_vm_removes_the_server", "has_vm after delete_vm"),
    ("ignores-vm-metadata", "test_set_vm_metadata_is_visible", "server metadata after set_vm_metadata"),
    ("drops-second-nic", "test_two_manual_nics", "guest NICs carrying"),
    ("resize-does-nothing", "test_resize_disk_grows", "volume size after resize_disk"),
    ("leaks-api-key", "test_info_declares", "leaked a configured secret in stdout"),
]


@pytest.mark.parametrize("flaw, test, message", CASES, ids=[c[0] for c in CASES])
def test_broken_cpi_fails_the_test_that_names_its_flaw(localcloud_facts, tmp_path, flaw, test, message):
    profile = yaml.safe_load((ROOT / "profiles" / "local.yml").read_text())
    profile["cpi"]["command"] = [sys.executable, str(BROKEN), flaw, "{cpi_config}"]
    path = tmp_path / f"broken-{flaw}.yml"
    path.write_text(yaml.safe_dump(profile))
    done = subprocess.run([sys.executable, "-m", "conformance.cli", "run", "--profile", str(path), "--report-dir",
                           str(tmp_path / "reports"), "-k", test], capture_output=True, text=True, timeout=1800,
                          cwd=ROOT)
    out = done.stdout + done.stderr
    assert done.returncode == 1, f"the suite did not fail for a CPI that {flaw}:\n{out[-3000:]}"
    assert message in out, f"the failure does not name the flaw {flaw!r}:\n{out[-3000:]}"
    summary = [line for line in done.stdout.splitlines() if " failed" in line and " in " in line]
    assert summary and "1 failed" in summary[-1] and "error" not in summary[-1], out[-1500:]
