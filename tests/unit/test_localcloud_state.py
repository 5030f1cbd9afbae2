"""State handling of the local cloud: passwords never shown, pid files, clouds.yaml merge, facts,
idempotence decisions, the step runner's output."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conformance.localcloud import daemons, facts, teardown, up
from conformance.localcloud.context import StepFailed
from conformance.localcloud.daemons import Daemon
from conformance.localcloud.layout import Layout
from conformance.localcloud.passwords import MASK, NAMES, Passwords
from conformance.localcloud.procs import CommandFailed, Runner

pytestmark = pytest.mark.unit


def test_passwords_are_generated_once_kept_0600_and_never_repr(tmp_path):
    path = tmp_path / "secrets.json"
    first = Passwords.load_or_create(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again = Passwords.load_or_create(path)
    assert all(first[n] == again[n] for n in NAMES), "stable across runs"
    assert len({first[n] for n in NAMES}) == len(NAMES), "one random password per account"
    assert first["admin"] not in repr(first)


def test_runner_masks_passwords_in_log_and_error(tmp_path):
    pw = Passwords.load_or_create(tmp_path / "s.json")
    runner = Runner(tmp_path / "step.log", pw.redact)
    with pytest.raises(CommandFailed) as err:
        runner.run(["sh", "-c", 'echo "got $0"; exit 3', pw["rabbit"]])
    assert pw["rabbit"] not in str(err.value) and pw["rabbit"] not in err.value.tail
    log = (tmp_path / "step.log").read_text()
    assert pw["rabbit"] not in log and MASK in log and "[exit 3" in log


def test_pidfile_alive_only_for_the_same_process(tmp_path):
    layout = Layout(tmp_path)
    layout.create()
    sleeper = Daemon("sleeper", ("sleep", "30"))
    assert daemons.start(layout, sleeper) is True
    assert daemons.start(layout, sleeper) is False, "already running: not started twice"
    pid = daemons.running(layout, sleeper)
    assert pid and os.getpgid(pid) == pid, "own session and process group"
    layout.pidfile("sleeper").write_text(f"{pid} 1\n")
    assert daemons.running(layout, sleeper) is None, "a different start time is not our process"
    daemons.write_pidfile(layout.pidfile("sleeper"), pid)
    assert daemons.stop(layout, sleeper, timeout=5) is True
    assert daemons.start_time(pid) is None and not layout.pidfile("sleeper").exists()


def test_a_neutron_pidfile_stops_only_the_process_that_names_its_network(tmp_path):
    # a stale pid file (left by an earlier down or a reboot) whose pid now names another process
    net = "1ada27b9-71ba-48b8-baa6-c35ce9436951"
    unrelated = subprocess.Popen(["sleep", "30"])
    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", f"/var/lib/neutron/dhcp/{net}/host"])
    deadline = time.monotonic() + 10  # Popen may return before exec has set up the new command line
    while net.encode() not in Path(f"/proc/{ours.pid}/cmdline").read_bytes() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        stale = tmp_path / "dhcp" / net / "pid"
        stale.parent.mkdir(parents=True)
        stale.write_text(f"{unrelated.pid}\n")
        assert daemons.stop_by_foreign_pidfile(stale) is False
        assert unrelated.poll() is None, "a process that does not name the network is left alone"
        assert not stale.exists(), "the stale pid file is removed"

        stale.write_text(f"{ours.pid}\n")
        assert daemons.stop_by_foreign_pidfile(stale) is True
        assert ours.wait(timeout=10) == -15 and not stale.exists()
    finally:
        for proc in (unrelated, ours):
            proc.kill()
            proc.wait()


def test_daemon_is_stale_when_its_config_is_newer_than_its_pidfile(tmp_path):
    layout = Layout(tmp_path)
    layout.create()
    conf = tmp_path / "svc.conf"
    conf.write_text("a")
    daemon = Daemon("svc", ("true",), watch=(str(conf),))
    layout.pidfile("svc").write_text("1 1\n")
    assert daemons.stale(layout, daemon) == []
    later = time.time() + 5
    os.utime(conf, (later, later))
    assert daemons.stale(layout, daemon) == [str(conf)]


def test_clouds_yaml_merge_keeps_other_clouds():
    existing = yaml.safe_dump({"clouds": {"prod": {"auth": {"auth_url": "x"}}, "local": {"old": 1}}, "x": 1})
    merged = yaml.safe_load(facts.merge_clouds_yaml(existing, {"local": {"new": 2}, "local-admin": {"a": 3}}))
    assert merged == {"clouds": {"prod": {"auth": {"auth_url": "x"}}, "local": {"new": 2}, "local-admin": {"a": 3}},
                      "x": 1}  # fmt: skip
    assert yaml.safe_load(facts.merge_clouds_yaml("", {"local": {}})) == {"clouds": {"local": {}}}


def test_facts_have_the_documented_shape_and_no_password(tmp_path):
    layout = Layout(tmp_path)
    data = facts.localcloud_facts(layout, tmp_path / "clouds.yaml")
    assert data["networks"]["manual"][1] == {
        "name": "cfm-manual-b", "cidr": "10.10.2.0/24", "gateway": "10.10.2.1", "dhcp": False
    }  # fmt: skip
    assert data["flavors"] == {"tiny": "cfm.tiny", "small": "cfm.small"}
    assert "password" not in json.dumps(data) and "api_key" not in json.dumps(data)
    cpi = facts.cpi_config("s3cret")["cloud"]["properties"]["openstack"]
    assert cpi["api_key"] == "s3cret" and cpi["use_dhcp"] is False and cpi["config_drive"] == "cdrom"


def test_neutron_rules_are_removed_and_others_kept():
    saved = "*filter\n:neutron-filter-top - [0:0]\n-A FORWARD -j neutron-filter-top\n-A FORWARD -i br-ex ! -o br-ex -j DROP\nCOMMIT\n"
    assert teardown.without_neutron_rules(saved) == "*filter\n-A FORWARD -i br-ex ! -o br-ex -j DROP\nCOMMIT\n"
    assert teardown.NEUTRON_LINK.match("tap1a2b3c4d-5e") and teardown.NEUTRON_LINK.match("vxlan-732")
    assert not teardown.NEUTRON_LINK.match("tap0") and not teardown.NEUTRON_LINK.match("eth0")


def test_step_runner_prints_timings_and_stops_at_the_failed_step(tmp_path):
    calls = []

    def ok(ctx):
        calls.append("ok")
        return "started x"

    def boom(ctx):
        (tmp_path / "svc.log").write_text("line1\npassword is " + ctx.pw["admin"] + "\nfatal: bad config\n")
        raise StepFailed("svc exited right after start", tmp_path / "svc.log")

    out = io.StringIO()
    rc = up.run_steps(Layout(tmp_path), (("first", ok), ("second", boom), ("third", ok)), out=out)
    text = out.getvalue()
    secret = json.loads((tmp_path / "secrets.json").read_text())["admin"]
    assert rc == 1 and calls == ["ok"], "stops at the failure"
    assert "[ 1/3] first" in text and "s ok  started x" in text and "[ 2/3] second" in text
    assert "FAILED" in text and "fatal: bad config" in text and "svc exited right after start" in text
    assert secret not in text and MASK in text


def test_sql_for_databases_is_idempotent_and_grants_nova_on_cell0(tmp_path):
    from conformance.localcloud.context import Context
    from conformance.localcloud.steps_infra import databases_sql

    ctx = Context(Layout(tmp_path), Passwords({n: "p" for n in NAMES}))
    sql = databases_sql(ctx)
    assert "CREATE DATABASE IF NOT EXISTS nova_cell0;" in sql
    assert "GRANT ALL PRIVILEGES ON nova_cell0.* TO 'nova'@'localhost';" in sql
    assert "CREATE USER IF NOT EXISTS" in sql and "DROP" not in sql



def test_purge_removes_only_our_clouds_yaml_entries(tmp_path):
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": {"local": {}, "local-admin": {}, "prod": {"x": 1}}}))
    teardown.remove_clouds_entries(path)
    assert yaml.safe_load(path.read_text()) == {"clouds": {"prod": {"x": 1}}}
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_libvirt_that_reprobes_qemu_on_every_call_fails_status():
    """A second domcapabilities that is slow means libvirtd's qemu cache is invalid on every call:
    every create_vm would take minutes (seen when /dev/kvm changed group under libvirtd)."""

    from conformance.localcloud import status

    fast = status.libvirt_caps_check(run=lambda: subprocess.CompletedProcess([], 0))
    assert fast.ok, fast
    slow = status.libvirt_caps_check(
        run=lambda: (time.sleep(status.LIBVIRT_CACHED_SECONDS + 0.2), subprocess.CompletedProcess([], 0))[1])
    assert not slow.ok and "re-probes qemu on every call" in slow.detail and "/dev/kvm: group" in slow.detail
    broken = status.libvirt_caps_check(run=lambda: subprocess.CompletedProcess([], 1))
    assert not broken.ok and "exited 1" in broken.detail
