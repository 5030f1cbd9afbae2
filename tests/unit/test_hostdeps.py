"""The package plan's logic: install order of the local cloud's packages, repair of the broken
stand-in state an earlier version left, and what `conformance host check` calls missing."""

from __future__ import annotations

import subprocess

import pytest

from conformance import hostdeps
from conformance.localcloud import packages, services

pytestmark = pytest.mark.unit


class FakeApt:
    """dpkg's state and the commands run, for packages.install (no real apt-get)."""

    def __init__(self, installed: set[str], standin: bool = False, held: bool = False):
        self.installed, self.standin, self.held, self.commands = set(installed), standin, held, []

    def run(self, argv, **_kwargs):
        argv = list(argv)
        self.commands.append(argv)
        out = ""
        if argv[:2] == ["apt-cache", "policy"]:
            out = "qemu-system:\n  Installed: (none)\n  Candidate: 1:7.2+dfsg-7\n"
        elif argv[:2] == ["dpkg", "--print-architecture"]:
            out = "amd64\n"
        elif argv[0] == "dpkg" and "-i" in argv:
            assert "qemu-system-x86" in self.installed, "stand-in installed before its dependency"
            self.standin = True
        elif argv[:2] == ["apt-mark", "hold"]:
            self.held = True
        elif argv[:2] == ["apt-mark", "unhold"]:
            self.held = False
        elif argv[0] == "apt-get" and "install" in argv:
            if self.standin and "qemu-system-x86" not in self.installed and ("-f" not in argv or self.held):
                raise AssertionError(f"apt refuses with the stand-in's dependency unmet: {argv}")
            if "-f" in argv:
                self.installed.add("qemu-system-x86")
            self.installed |= {a for a in argv[argv.index("install") + 1:] if not a.startswith("-")}
        return subprocess.CompletedProcess(argv, 0, out, "")


@pytest.fixture
def fake_apt(monkeypatch, tmp_path):
    def make(**kwargs) -> FakeApt:
        apt = FakeApt(**kwargs)
        monkeypatch.setattr(packages, "missing", lambda pkgs=packages.PACKAGES: [p for p in pkgs if p not in apt.installed])
        monkeypatch.setattr(packages, "standin_installed", lambda: apt.standin)
        monkeypatch.setattr(packages, "ensure_policy_rc_d", lambda: None)
        return apt
    return make


def installs(apt: FakeApt) -> list[list[str]]:
    return [c[c.index("install") + 1:] for c in apt.commands if c[0] == "apt-get" and "install" in c]


def test_fresh_machine_gets_qemu_then_the_standin_then_the_rest(fake_apt, tmp_path):
    apt = fake_apt(installed=set())
    done = packages.install(apt, tmp_path)
    assert done == list(packages.PACKAGES)
    assert installs(apt)[0] == ["qemu-system-x86"]
    assert apt.standin and apt.held
    assert set(installs(apt)[1]) == set(packages.PACKAGES) - {"qemu-system-x86"}


def test_the_broken_state_of_earlier_versions_is_repaired_first(fake_apt, tmp_path):
    apt = fake_apt(installed=set(), standin=True, held=True)  # what the old step left behind
    packages.install(apt, tmp_path)
    unhold = apt.commands.index(["apt-mark", "unhold", packages.STANDIN])
    fix = next(i for i, c in enumerate(apt.commands) if c[0] == "apt-get" and "-f" in c)
    assert unhold < fix, "apt -f install refuses while the stand-in is held"
    assert apt.held and "qemu-system-x86" in apt.installed and set(packages.PACKAGES) <= apt.installed


def test_a_complete_machine_runs_no_apt_at_all(fake_apt, tmp_path):
    apt = fake_apt(installed=set(packages.PACKAGES), standin=True, held=True)
    assert packages.install(apt, tmp_path) == []
    assert apt.commands == []


def test_check_names_what_is_missing_by_command_and_by_path(tmp_path):
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/present").touch()
    group = hostdeps.Group("g", "a test", packages=("p",), needs=("here", "gone", "/usr/bin/present", "/usr/bin/absent"))
    which = {"here": "/bin/here"}.get
    assert group.missing(which=which, root=tmp_path) == ["gone", "/usr/bin/absent"]


def test_the_local_cloud_check_covers_every_daemon_program():
    needs = hostdeps.groups()["localcloud"].needs
    for daemon in services.ALL:
        assert daemon.argv[0] in needs, daemon.name
    assert "/etc/keystone/keystone-uwsgi.ini" in needs


def test_every_group_plans_packages_and_names_needs():
    for name, group in hostdeps.groups().items():
        assert group.packages and group.needs, name
        assert all(isinstance(n, str) and n for n in group.needs), name



def test_a_failing_apt_get_is_one_clear_message_with_its_tail_not_a_traceback(monkeypatch, capsys):
    from conformance import cli
    from conformance.localcloud.procs import CommandFailed

    def fail(names, progress):
        raise CommandFailed("apt-get install nope", 100, "E: Unable to locate package nope", None)

    monkeypatch.setattr(hostdeps, "install", fail)
    assert cli.main(["host", "install", "runner"]) == 1
    err = capsys.readouterr().err
    assert "conformance host: `apt-get install nope` exited 100\nE: Unable to locate package nope" in err


def test_installing_as_a_user_is_a_usage_error(monkeypatch):
    from conformance.core.errors import UsageError

    monkeypatch.setattr(hostdeps, "missing_packages", lambda pkgs: list(pkgs))
    monkeypatch.setattr(hostdeps.os, "geteuid", lambda: 1000)
    with pytest.raises(UsageError, match="run as root"):
        hostdeps.apt_install(("iputils-ping",), print)
