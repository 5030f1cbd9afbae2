"""What every bring-up step works with, and the two moves they all make: converge a config file,
then make sure its daemons run (restarting a running one only when its config changed)."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from conformance.core.errors import ConformanceError
from conformance.core.waiting import wait_for
from conformance.localcloud import daemons, ini
from conformance.localcloud.config import API_TIMEOUT, HOST_IP, KEYSTONE_URL, POLL, PORT_OPEN_TIMEOUT, REGION
from conformance.localcloud.daemons import Daemon
from conformance.localcloud.layout import Layout
from conformance.localcloud.passwords import Passwords
from conformance.localcloud.procs import Runner


class StepFailed(ConformanceError):
    """A step could not reach its goal; ``log`` is the file whose tail explains why."""

    def __init__(self, problem: str, log: Path | None = None):
        self.problem, self.log = problem, log
        super().__init__(str(self))

    def __str__(self) -> str:
        return self.problem + (f" (log: {self.log})" if self.log else "")


@dataclass
class Context:
    layout: Layout
    pw: Passwords
    runner: Runner = field(default_factory=lambda: Runner(None))
    _admin: object | None = None

    def admin(self):
        """openstacksdk connection as the cloud admin, built from our passwords, not from any file."""
        if self._admin is None:
            import openstack  # heavy: only when a step needs the APIs

            self._admin = openstack.connect(
                auth_url=KEYSTONE_URL, username="admin", password=self.pw["admin"], project_name="admin",
                user_domain_name="Default", project_domain_name="Default", region_name=REGION,
                interface="public", api_timeout=API_TIMEOUT, load_yaml_config=False, load_envvars=False,
            )  # fmt: skip
        return self._admin

    def reset_connection(self) -> None:
        self._admin = None

    def configure(self, path: str, settings: dict, drop_sections: Iterable[str] = ()) -> bool:
        """Merge ``settings`` into an oslo.config file; keep the package's original once."""
        return keep_original(Path(path), lambda p: ini.merge_ini(p, settings, drop_sections))

    def configure_uwsgi(self, path: str, options: dict, append: Iterable[str]) -> bool:
        return keep_original(Path(path), lambda p: ini.edit_uwsgi(p, options, append))

    def ensure_running(self, daemon: Daemon) -> str:
        """Start ``daemon`` unless it runs; restart it when a config file changed since it started;
        wait for its port."""
        state = "running"
        if daemons.running(self.layout, daemon) and daemons.stale(self.layout, daemon):
            daemons.stop(self.layout, daemon)
            state = "restarted"
        if daemons.start(self.layout, daemon):
            state = "restarted" if state == "restarted" else "started"
            self.runner.note(f"{daemon.name}: {state}, log {self.layout.log(daemon.name)}")
        if daemon.port:
            self.wait_port(daemon)
        elif not daemons.running(self.layout, daemon):
            raise StepFailed(f"{daemon.name} exited right after start", self.layout.log(daemon.name))
        return state

    def wait_port(self, daemon: Daemon, timeout: float = PORT_OPEN_TIMEOUT) -> None:
        wait_listening(self.layout, daemon, timeout)

    def ensure_all(self, group: Iterable[Daemon]) -> list[str]:
        """Start/restart a group; returns notes for the ones that were not simply running."""
        return [f"{d.name} {s}" for d in group if (s := self.ensure_running(d)) != "running"]


def keep_original(path: Path, edit: Callable[[Path], bool]) -> bool:
    original = path.with_name(path.name + ".cfm-orig")
    if path.exists() and not original.exists():
        shutil.copy2(path, original)
    return edit(path)


def wait_listening(layout: Layout, daemon: Daemon, timeout: float = PORT_OPEN_TIMEOUT) -> None:
    """Until ``daemon`` listens on its port; StepFailed (with its log) when it exits or times out."""
    try:
        wait_for(
            lambda: port_open(daemon.port), failed=lambda _: daemons.exited_early(layout, daemon),
            describe=lambda up: "open" if up else "closed", timeout=timeout, interval=POLL,
            what=f"{daemon.name} to listen on {HOST_IP}:{daemon.port}",
        )  # fmt: skip
    except ConformanceError as exc:
        raise StepFailed(str(exc), layout.log(daemon.name)) from exc


def port_open(port: int | None, host: str = HOST_IP) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False
