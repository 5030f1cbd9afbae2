"""The fault tier: real runs of `conformance run` on the local cloud, interrupted or broken on
purpose, each followed by a count of what is left in the test project (servers, ports, volumes,
snapshots, floating IPs, images; whoever named them) and of CPI processes still alive.

- SIGINT once VMs exist, as a terminal sends it: the run cleans up by itself (no sweep);
- SIGKILL of one xdist worker, then `conformance cleanup --run-id`;
- SIGKILL of the whole run, then `conformance cleanup --run-id`;
- a CPI that creates a volume and then answers garbage, a CPI that leaves a port after a failed
  create_vm, a CPI whose delete_vm does nothing: the run itself finds and removes what they left,
  and still writes results.json and its report.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
from project import project_resources  # noqa: E402

pytestmark = pytest.mark.cloud

ROOT = Path(__file__).parents[2]
BROKEN = ROOT / "tests" / "fixtures" / "cpis" / "broken_refcpi.py"
LOCAL = ROOT / "profiles" / "local.yml"
# Two modules, so that each xdist worker boots VMs of its own.
VM_TESTS = "reboot_vm_really_reboots or delete_vm_removes_the_server or floating_ip_is_let_go"


@pytest.fixture
def project(localcloud_facts, os_conn):
    """The project's resources before the test; the test compares after."""
    before = project_resources(os_conn)
    yield lambda: sorted(project_resources(os_conn) - before)


def start(tmp_path: Path, *args: str, profile: Path = LOCAL) -> subprocess.Popen:
    """`conformance run` as a user starts it in a terminal (a session of its own, so that a
    signal to its process group is what a terminal's Ctrl-C is)."""
    log = open(tmp_path / "run.log", "wb")  # noqa: SIM115 - the run outlives this function
    return subprocess.Popen([sys.executable, "-m", "conformance.cli", "run", "--profile", str(profile),
                             "--report-dir", str(tmp_path / "reports"), *args], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def output(tmp_path: Path) -> str:
    return (tmp_path / "run.log").read_text(errors="replace")


def run_dir(tmp_path: Path) -> Path:
    runs = [p for p in (tmp_path / "reports").glob("*") if p.is_dir()]
    assert len(runs) == 1, f"expected one run folder, found {runs}\n{output(tmp_path)[-3000:]}"
    return runs[0]


def wait_until_servers_exist(tmp_path: Path, run: subprocess.Popen, workers: int, timeout: float = 900) -> Path:
    """Until the ledger shows a server created by each of ``workers`` workers."""
    deadline, seen = time.monotonic() + timeout, set()
    while time.monotonic() < deadline:
        assert run.poll() is None, f"the run ended before its VMs existed:\n{output(tmp_path)[-3000:]}"
        for ledger in (tmp_path / "reports").glob("*/ledger.jsonl"):
            lines = [json.loads(line) for line in ledger.read_text().splitlines() if line.strip()]
            seen = {e["worker"] for e in lines if e["event"] == "created" and e["kind"] == "server"}
            if len(seen) >= workers:
                return ledger.parent
        time.sleep(1)
    pytest.fail(f"no server from {workers} worker(s) within {timeout:g}s (saw {sorted(seen)}):\n"
                f"{output(tmp_path)[-3000:]}")


def cpi_processes() -> list[str]:
    """CPI guards and reference CPI processes still running (none may outlive a run)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "conformance/cpi/guard.py" in cmdline or "conformance-openstack-cpi" in cmdline:
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


def no_cpi_survives(timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while cpi_processes() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert cpi_processes() == [], f"CPI processes outlived the run: {cpi_processes()}"


def sweep(tmp_path: Path, run_id: str) -> str:
    done = subprocess.run([sys.executable, "-m", "conformance.cli", "cleanup", "--profile", str(LOCAL),
                           "--run-id", run_id, "--report-dir", str(tmp_path / "reports")], cwd=ROOT,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, f"conformance cleanup failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def broken_profile(tmp_path: Path, flaw: str, **timeouts: int) -> Path:
    profile = yaml.safe_load(LOCAL.read_text())
    profile["cpi"]["command"] = [sys.executable, str(BROKEN), flaw, "{cpi_config}"]
    profile["timeouts"].update(timeouts)
    path = tmp_path / f"broken-{flaw}.yml"
    path.write_text(yaml.safe_dump(profile))
    return path


def test_ctrl_c_once_vms_exist_leaves_nothing_without_a_sweep(tmp_path, project):
    run = start(tmp_path, "-n", "2", "-k", VM_TESTS)
    report = wait_until_servers_exist(tmp_path, run, workers=2)
    os.killpg(run.pid, signal.SIGINT)
    assert run.wait(timeout=900) == 130, output(tmp_path)[-4000:]
    results = json.loads((report / "results.json").read_text())
    assert results["interrupted"]["signal"] == "SIGINT", results["interrupted"]
    assert "SIGINT: stopping the run" in output(tmp_path)
    no_cpi_survives()
    assert project() == [], f"left after Ctrl-C:\n{output(tmp_path)[-3000:]}"


def test_sigkill_of_one_worker_then_cleanup_leaves_nothing(tmp_path, project):
    run = start(tmp_path, "-n", "2", "-k", VM_TESTS)
    report = wait_until_servers_exist(tmp_path, run, workers=2)
    os.kill(int((report / ".workers" / "gw0.pid").read_text()), signal.SIGKILL)
    run.wait(timeout=1800)  # the other worker goes on; xdist reports the killed one's test as crashed
    no_cpi_survives()
    print(sweep(tmp_path, report.name))
    assert project() == [], f"left after a killed worker and the sweep:\n{output(tmp_path)[-3000:]}"


def test_sigkill_of_the_whole_run_then_cleanup_leaves_nothing(tmp_path, project):
    run = start(tmp_path, "-n", "2", "-k", VM_TESTS)
    report = wait_until_servers_exist(tmp_path, run, workers=2)
    time.sleep(5)  # calls in flight, too
    for pid in [*children_of(run.pid), run.pid]:
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)  # pytest and its workers run in a group of their own
        except ProcessLookupError:
            pass
    run.wait(timeout=30)
    no_cpi_survives()
    print(sweep(tmp_path, report.name))
    assert project() == [], f"left after a killed run and the sweep:\n{output(tmp_path)[-3000:]}"


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(c) for c in task.read_text().split()]
    return found


@pytest.mark.parametrize("flaw, selection, timeouts", [
    ("create-disk-then-garbage", "create_disk_rounds_up", {}),
    ("create-vm-leaves-a-port", "create_vm_answers_its_cid", {}),
    ("delete-vm-does-nothing", "create_vm_answers_its_cid", {"vm_delete": 30}),
], ids=["volume-then-garbage", "port-after-failed-create_vm", "delete_vm-does-nothing"])
def test_a_broken_cpi_fails_its_test_and_the_run_removes_what_it_left(tmp_path, project, flaw, selection,
                                                                        timeouts):
    run = start(tmp_path, "-k", selection, profile=broken_profile(tmp_path, flaw, **timeouts))
    assert run.wait(timeout=1800) == 1, output(tmp_path)[-4000:]
    report = run_dir(tmp_path)
    results = json.loads((report / "results.json").read_text())
    assert any(t["outcome"] in ("failed", "error") for t in results["tests"]), results["summary"]
    assert (report / "report.html").exists() and (report / "report.md").exists()
    no_cpi_survives()
    assert project() == [], f"{flaw}: the run left these:\n{output(tmp_path)[-3000:]}"
