"""The runner preflight as a user meets it: `conformance run` stops before pytest (so before any CPI
or cloud call) with one line per missing thing, and `conformance preflight` lists every check.
Real processes; ping is made missing by a PATH without it."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.component

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
FAKE_CPI = FIXTURES / "cpis" / "fake_cpi.py"
NO_PING = "conformance run: runner: ping is not installed (Debian: apt-get install iputils-ping): " \
          "needed by the vip network tests (features.vip_network)"


def conformance(*args, path: Path):
    env = {"PATH": str(path), "HOME": str(path.parent), "PYTHONPATH": str(ROOT), "CONFORMANCE_NO_REPORT": "1"}
    return subprocess.run([sys.executable, "-m", "conformance.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120)


@pytest.fixture
def bin_dir(tmp_path) -> Path:
    """A PATH with no ping in it."""
    folder = tmp_path / "bin"
    folder.mkdir()
    return folder


def write_profile(tmp_path, **changes) -> Path:
    """The fake CPI behind a wrapper that leaves a mark when it is ever run; vip tests enabled."""
    cpi = tmp_path / "marking_cpi.py"
    cpi.write_text(f"import os, pathlib, sys\npathlib.Path({str(tmp_path / 'cpi-was-run')!r}).touch()\n"
                   f"os.execv(sys.executable, [sys.executable, {str(FAKE_CPI)!r}, 'ok', *sys.argv[1:]])\n")
    doc = yaml.safe_load((FIXTURES / "profiles" / "fake.yml").read_text())
    doc["cpi"]["command"] = [sys.executable, str(cpi)]
    doc["ssh"] = {"private_key": str(FIXTURES / "profiles" / "dummy_key"), "via": "fixed_ip"}
    doc["networks"]["vip"] = {"floating_network": "public"}
    doc["features"]["vip_network"] = True
    for key, value in changes.items():
        doc[key] = value
    path = tmp_path / "runner.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_run_without_ping_stops_before_any_call(tmp_path, bin_dir):
    profile = write_profile(tmp_path)
    done = conformance("run", "--profile", profile, "--report-dir", tmp_path / "reports", path=bin_dir)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == [NO_PING]
    assert not (tmp_path / "reports").exists(), "pytest never started: no report folder"
    assert not (tmp_path / "cpi-was-run").exists(), "the CPI was never run"


def test_run_lists_every_missing_thing(tmp_path, bin_dir):
    (tmp_path / "not_a_key").write_text("just text\n")
    profile = write_profile(tmp_path, ssh={"private_key": str(tmp_path / "not_a_key"), "via": "fixed_ip"},
                            stemcell={"path": str(tmp_path / "no-such-stemcell.tgz")})
    doc = yaml.safe_load(profile.read_text())
    doc["cpi"]["command"] = [str(tmp_path / "no-such-cpi"), "{cpi_config}"]
    doc["cpi"]["config"] = str(tmp_path / "cpi.json")
    (tmp_path / "cpi.json").write_text("{}")
    profile.write_text(yaml.safe_dump(doc))
    done = conformance("run", "--profile", profile, "--report-dir", tmp_path / "reports", path=bin_dir)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"conformance run: runner: the CPI executable {tmp_path / 'no-such-cpi'} does not exist: "
        "needed by every test (cpi.command)",
        f"conformance run: runner: the SSH key {tmp_path / 'not_a_key'} cannot be used: ValueError: not a private "
        "key paramiko can read: needed by the tests that SSH into VMs (ssh.private_key)",
        f"conformance run: runner: the stemcell tarball {tmp_path / 'no-such-stemcell.tgz'} does not exist: "
        "needed by the tests that boot VMs (stemcell.path)",
        NO_PING]
    assert not (tmp_path / "reports").exists()


def test_preflight_lists_each_check(tmp_path, bin_dir):
    profile = write_profile(tmp_path)
    done = conformance("preflight", "--profile", profile, "--report-dir", tmp_path / "reports", path=bin_dir)
    assert done.returncode == 2
    rows = done.stdout.splitlines()
    assert rows[0] == f"ok       CPI executable: {sys.executable} (needed by every test (cpi.command))"
    assert rows[1].startswith(f"ok       SSH key: {FIXTURES / 'profiles' / 'dummy_key'} (ssh-ed25519)")
    assert rows[2] == "missing  ping: ping is not installed (Debian: apt-get install iputils-ping) " \
                      "(needed by the vip network tests (features.vip_network))"
    assert rows[-1] == f"conformance preflight: {profile}: 5 check(s), 1 missing"

    ping = bin_dir / "ping"  # a ping that answers: what preflight runs is the one on PATH
    ping.write_text("#!/bin/sh\nexit 0\n")
    ping.chmod(0o755)
    done = conformance("preflight", "--profile", profile, "--report-dir", tmp_path / "reports", path=bin_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok       ping: answers for 127.0.0.1 (needed by the vip network tests (features.vip_network))" \
           in done.stdout.splitlines()
