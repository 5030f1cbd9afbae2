"""Runner preflight: each check against fakes and files in a temporary folder (no cloud, no real
ping or ip), and the lines `conformance run` prints for them."""

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from conformance.commands import run as run_command
from conformance.core.errors import RunnerError
from conformance.profile import load_profile
from conformance.run import netcheck, preflight

pytestmark = pytest.mark.unit


def private_key(path: Path, passphrase: bytes | None = None, pem: bool = False) -> Path:
    """An ed25519 key in OpenSSH format (ssh-keygen's), or an RSA key in PEM format."""
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    key = rsa.generate_private_key(65537, 2048) if pem else ed25519.Ed25519PrivateKey.generate()
    fmt = serialization.PrivateFormat.TraditionalOpenSSL if pem else serialization.PrivateFormat.OpenSSH
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, fmt, encryption))
    return path


def executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def make_profile(tmp_path, **sections):
    """A valid profile in tmp_path (key, CPI script, vip network), with ``sections`` replacing keys."""
    if not (tmp_path / "key").exists():
        private_key(tmp_path / "key")
        executable(tmp_path / "cpi")
    doc = {"name": "t", "cloud": None, "release": "zed",
           "cpi": {"command": ["{profile_dir}/cpi"]}, "stemcell": {"build": True},
           "vm": {"cloud_properties": {}},
           "networks": {"manual": [{"name": "a", "net_id": "n", "cidr": "10.0.1.0/24", "gateway": "10.0.1.1",
                                    "static_ips": ["10.0.1.10-10.0.1.30"]}],
                        "vip": {"floating_network": "public", "addresses": ["172.24.4.50-172.24.4.60"]}},
           "ssh": {"private_key": "key", "via": "floating_ip"},
           "features": {"cloud_witness": False, "vip_network": True}}
    doc.update(sections)
    path = tmp_path / "p.yml"
    path.write_text(yaml.safe_dump(doc))
    return load_profile(path)


def test_a_missing_check_is_one_line_naming_the_tests_that_need_it():
    check = preflight.missing("ping", preflight.VIP_TESTS, "ping is not installed (Debian: apt-get install iputils-ping)")
    assert check.line() == ("runner: ping is not installed (Debian: apt-get install iputils-ping): "
                            "needed by the vip network tests (features.vip_network)")
    assert check.row().startswith("missing  ping: ping is not installed")
    assert preflight.Check("r", "x", "warning", "slow").line() == "runner: warning: slow: needed by x"


# -- the CPI executable ------------------------------------------------------------------------
def test_cpi_command_from_the_profile_folder_is_found(tmp_path):
    check = preflight.check_cpi_command(make_profile(tmp_path))
    assert (check.status, check.text) == ("ok", str(tmp_path / "cpi"))


def test_cpi_command_name_is_looked_up_on_the_cpis_path(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    executable(bin_dir / "my-cpi")
    profile = make_profile(tmp_path, cpi={"command": ["my-cpi", "{cpi_config}"], "config": "cpi.json"})
    assert preflight.check_cpi_command(profile, environ={"PATH": str(bin_dir)}).ok
    missing = preflight.check_cpi_command(profile, environ={"PATH": str(tmp_path / "empty")})
    assert missing.status == "missing"
    assert missing.text.startswith(f"the CPI executable 'my-cpi' is not on the CPI's PATH ({tmp_path / 'empty'})")
    with_env = make_profile(tmp_path, cpi={"command": ["my-cpi"], "env": {"PATH": str(bin_dir)}})
    assert preflight.check_cpi_command(with_env, environ={"PATH": "/nowhere"}).ok, "cpi.env PATH wins, as in the client"


@pytest.mark.parametrize("make, expected", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_text("#!/bin/sh\n"), "is not executable by this user"),
    (lambda p: p.mkdir(), "is not a regular file"),
    (lambda p: executable(p, "#!/no/such/ruby\n"), "/no/such/ruby, the interpreter of the CPI executable"),
    (lambda p: executable(p, "#!/usr/bin/env -S cfm-no-such-interpreter -w\n"),
     "cfm-no-such-interpreter, the interpreter of the CPI executable"),
])
def test_cpi_command_problems(tmp_path, make, expected):
    target = tmp_path / "broken-cpi"
    make(target)
    check = preflight.check_cpi_command(make_profile(tmp_path, cpi={"command": [str(target)]}))
    assert check.status == "missing" and expected in check.text, check.text


# -- files -------------------------------------------------------------------------------------
def test_ssh_key_that_paramiko_loads_is_ok(tmp_path):
    check = preflight.check_ssh_key(make_profile(tmp_path))
    assert (check.status, check.text) == ("ok", f"{tmp_path / 'key'} (ssh-ed25519)")


@pytest.mark.parametrize("make, expected", [
    (lambda p: p.write_text("not a key: SECRET-ish text"), "cannot be used: ValueError: not a private key paramiko"),
    (lambda p: private_key(p, b"pass phrase", pem=True), "cannot be used: the key is encrypted and no passphrase"),
    (lambda p: private_key(p, b"pass phrase"), "cannot be used: the key is encrypted and no passphrase"),
    (lambda p: p.mkdir(), "is not a regular file"),
    (lambda p: None, "does not exist"),
])
def test_ssh_key_problems_never_show_the_file(tmp_path, make, expected):
    make(tmp_path / "badkey")
    check = preflight.check_ssh_key(make_profile(tmp_path, ssh={"private_key": "badkey"}))
    assert check.status == "missing" and expected in check.text, check.text
    assert "SECRET" not in check.text and "BEGIN" not in check.text


def test_stemcell_tarball(tmp_path):
    good = tmp_path / "good.tgz"
    with tarfile.open(good, "w:gz") as tar:
        info = tarfile.TarInfo("stemcell.MF")
        tar.addfile(info, io.BytesIO(b""))
    (tmp_path / "plain.tgz").write_text("no tar")
    for name, status, text in [("good.tgz", "ok", str(good)), ("plain.tgz", "missing", "is not a tar archive"),
                               ("gone.tgz", "missing", "does not exist")]:
        check = preflight.check_stemcell(make_profile(tmp_path, stemcell={"path": name}))
        assert check.status == status and text in check.text, (name, check)


def test_report_folder_must_be_writable(tmp_path):
    assert preflight.check_report_dir(tmp_path / "new" / "reports").ok, "a folder not made yet is fine"
    (tmp_path / "file").write_text("")
    check = preflight.check_report_dir(tmp_path / "file" / "reports")
    assert check.status == "missing" and check.text.endswith(f"{tmp_path / 'file'} is not a folder")


# -- ping -----------------------------------------------------------------------------------------
def test_ping_check_reports_a_runner_error_with_its_hint():
    def no_ping(*_a, **_k):
        raise RunnerError("ping is not installed", netcheck.PING_HINT)

    check = preflight.check_ping(no_ping)
    assert check.line() == ("runner: ping is not installed (Debian: apt-get install iputils-ping): "
                            "needed by the vip network tests (features.vip_network)")
    assert preflight.check_ping(lambda *a, **k: False).status == "missing"
    assert preflight.check_ping(lambda *a, **k: True).ok


def completed(code=0, stdout="", stderr=""):
    return subprocess.CompletedProcess([], code, stdout, stderr)


@pytest.mark.parametrize("done, expected", [
    (completed(0), True),
    (completed(1, "1 packets transmitted, 0 received"), False),
    (completed(2, "From 10.0.0.1 icmp_seq=1 Destination Host Unreachable\n"), False),
])
def test_netcheck_ping_answers(monkeypatch, done, expected):
    monkeypatch.setattr(netcheck.shutil, "which", lambda name: "/bin/ping")
    monkeypatch.setattr(netcheck.subprocess, "run", lambda argv, **kw: done)
    assert netcheck.ping("10.0.0.5", count=1, timeout=1) is expected


def test_netcheck_ping_raises_runner_errors(monkeypatch):
    monkeypatch.setattr(netcheck.shutil, "which", lambda name: None)
    with pytest.raises(RunnerError, match=r"^test runner: ping is not installed \(Debian: apt-get install iputils-ping\)$"):
        netcheck.ping("10.0.0.5")
    monkeypatch.setattr(netcheck.shutil, "which", lambda name: "/bin/ping")
    monkeypatch.setattr(netcheck.subprocess, "run",
                        lambda argv, **kw: completed(2, "", "ping: socktype: SOCK_RAW\nping: socket: Operation not permitted\n"))
    with pytest.raises(RunnerError, match=r"`ping 10.0.0.5` cannot run here \(exit 2: ping: socket: Operation not permitted\)"):
        netcheck.ping("10.0.0.5")


# -- routes ---------------------------------------------------------------------------------------
DEFAULT = [{"dst": "default", "gateway": "192.0.2.1", "dev": "eth0"}]


def fake_ip(routes: dict[str, tuple[int, object]]):
    """subprocess.run for `ip -j route ...`: the default route, and ``routes`` by address."""
    calls = []

    def run(argv, **kwargs):
        calls.append(argv)
        assert kwargs["timeout"] == preflight.TOOL_TIMEOUT
        if argv[-1] == "default":
            return completed(0, json.dumps(DEFAULT))
        code, answer = routes[argv[-1]]
        return completed(code, json.dumps(answer)) if code == 0 else completed(code, "", answer)

    run.calls = calls
    return run


@pytest.mark.parametrize("answer, status, text", [
    ((0, [{"dst": "172.24.4.50", "dev": "br-ex", "prefsrc": "172.24.4.1"}]), "ok", "dev br-ex"),
    ((2, "RTNETLINK answers: Network is unreachable\n"), "missing",
     "no route to the floating IP 172.24.4.50 (networks.vip.addresses): RTNETLINK answers: Network is unreachable"),
    ((0, [{"dst": "172.24.4.50", "gateway": "192.0.2.1", "dev": "eth0"}]), "warning",
     "routed through the default gateway 192.0.2.1 (dev eth0)"),
    ((0, [{"dst": "172.24.4.50", "type": "blackhole"}]), "missing", "route type blackhole"),
])
def test_route_to_the_floating_ips(tmp_path, answer, status, text):
    run = fake_ip({"172.24.4.50": answer})
    (check,) = preflight.check_routes(make_profile(tmp_path), run=run, which=lambda name, path: "/sbin/ip")
    assert check.status == status and text in check.text, check
    assert check.needed_by == f"{preflight.SSH_VIA_FIP} and {preflight.VIP_TESTS}"
    assert run.calls == [["/sbin/ip", "-j", "route", "show", "default"],
                         ["/sbin/ip", "-j", "route", "get", "172.24.4.50"]]


def test_a_public_floating_ip_may_go_through_the_default_gateway(tmp_path):
    profile = make_profile(tmp_path, networks={"vip": {"floating_network": "public", "addresses": ["8.8.4.4"]}})
    run = fake_ip({"8.8.4.4": (0, [{"dst": "8.8.4.4", "gateway": "192.0.2.1", "dev": "eth0"}])})
    (check,) = preflight.check_routes(profile, run=run, which=lambda name, path: "/sbin/ip")
    assert check.ok and check.text == "dev eth0 via 192.0.2.1"


def test_route_check_without_ip_or_without_addresses(tmp_path):
    profile = make_profile(tmp_path)
    (check,) = preflight.check_routes(profile, run=fake_ip({}), which=lambda name, path: None)
    assert check.line() == ("runner: ip is not installed (Debian: apt-get install iproute2): needed by "
                            "SSH into VMs (ssh.via: floating_ip) and the vip network tests (features.vip_network)")
    empty = make_profile(tmp_path, networks={"vip": {"floating_network": "public"}})
    (check,) = preflight.check_routes(empty, run=fake_ip({}), which=lambda name, path: None)
    assert check.ok and check.text.startswith("not checked: networks.vip.addresses is empty")


def test_nothing_needs_a_route_or_ping_without_vip_tests_or_ssh_via_floating_ip(tmp_path):
    profile = make_profile(tmp_path, ssh={"private_key": "key", "via": "fixed_ip"},
                           features={"cloud_witness": False, "vip_network": False})
    assert preflight.check_routes(profile, run=fake_ip({}), which=lambda name, path: None) == []
    assert [c.what for c in preflight.checks(profile)] == ["CPI executable", "SSH key"]


def test_checks_follow_the_profile(tmp_path, monkeypatch):
    monkeypatch.setattr(preflight, "check_ping", lambda: preflight.ok("ping", preflight.VIP_TESTS, "fake"))
    monkeypatch.setattr(preflight, "check_routes", lambda profile: [])
    found = preflight.checks(make_profile(tmp_path, stemcell={"path": "s.tgz"}), report_dir=tmp_path / "r")
    assert [c.what for c in found] == ["CPI executable", "SSH key", "stemcell", "ping", "report folder"]
    assert [c.what for c in preflight.problems(found)] == ["stemcell"]


# -- conformance run ------------------------------------------------------------------------------
def test_run_prints_every_problem_and_stops_only_on_a_missing_thing(monkeypatch, capsys):
    found = [preflight.missing("ping", preflight.VIP_TESTS, "ping is not installed"),
             preflight.Check("route to 10.0.0.1", "x", "warning", "through the default gateway"),
             preflight.missing("SSH key", preflight.SSH_TESTS, "the SSH key k does not exist"),
             preflight.ok("report folder", "y", "r")]
    monkeypatch.setattr(preflight, "checks", lambda profile, report_dir: found)
    assert run_command.runner_ready(object(), "reports") is False
    assert capsys.readouterr().err.splitlines() == [
        "conformance run: runner: ping is not installed: needed by the vip network tests (features.vip_network)",
        "conformance run: runner: warning: through the default gateway: needed by x",
        "conformance run: runner: the SSH key k does not exist: needed by the tests that SSH into VMs "
        "(ssh.private_key)"]
    monkeypatch.setattr(preflight, "checks", lambda profile, report_dir: found[1:2])
    assert run_command.runner_ready(object(), "reports") is True, "a warning alone does not stop the run"


def test_the_libvirt_witness_needs_virsh_on_the_runner(tmp_path):
    check = preflight.check_virsh("virsh", which=lambda name: None)
    assert check.line() == ("runner: virsh is not installed (Debian: apt-get install libvirt-clients): "
                            "needed by the libvirt witness's cloud checks (profile witnesses.libvirt)")
    assert preflight.check_virsh("virsh", which=lambda name: "/usr/bin/virsh").ok
    named = make_profile(tmp_path, features={"vip_network": False}, witnesses={"libvirt": {"virsh": "/nope/virsh"}})
    assert [c.what for c in preflight.checks(named) if c.what == "virsh"] == ["virsh"]
    assert "virsh" not in [c.what for c in preflight.checks(make_profile(tmp_path, features={"vip_network": False}))]
