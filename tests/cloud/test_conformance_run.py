"""The product's main job, for real: `conformance run` on the local cloud through the reference CPI,
in parallel, passes every capability and leaves nothing of the run behind."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cleanup import Ledger

pytestmark = pytest.mark.cloud

ROOT = Path(__file__).parents[2]


def test_full_suite_passes_on_the_local_cloud_and_leaves_nothing(localcloud_facts, os_conn, tmp_path):
    reports = tmp_path / "reports"
    done = subprocess.run([sys.executable, "-m", "conformance.cli", "run", "--profile", "profiles/local.yml",
                           "-n", "2", "--report-dir", str(reports)], cwd=ROOT, capture_output=True, text=True,
                          timeout=3600)
    (run_dir,) = reports.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    failed = [f"{t['name']}: {t['reason']}" for t in results["tests"] if t["outcome"] in ("failed", "error")]
    assert done.returncode == 0 and not failed, "\n".join(failed) or done.stdout[-4000:]
    skipped = [f"{t['name']}: {t['reason']}" for t in results["tests"] if t["outcome"] == "skipped"]
    assert not skipped, f"the local profile claims every feature, yet: {skipped}"
    assert Ledger.outstanding(run_dir / "ledger.jsonl") == [], "resources of the run still in the ledger"
    run_id = results["run_id"]
    leftovers = [s.id for s in os_conn.compute.servers() if run_id in json.dumps(s.metadata or {})]
    leftovers += [v.id for v in os_conn.block_storage.volumes() if run_id in json.dumps(v.metadata or {})]
    leftovers += [f.id for f in os_conn.network.ips() if run_id in (f.description or "")]
    assert leftovers == [], f"cloud resources of run {run_id} left behind"
