"""Start and stop the cloud's daemons without systemd: detached, by pid file, with their own log.

Each daemon runs in its own session (pitfall 11: a daemon started from a shell job died with the
job), its stdout/stderr go to ``<state>/logs/<name>.log``, and ``<state>/run/<name>.pid`` holds its
pid and kernel start time. A pid file counts as alive only when that pid still has that start
time, so a recycled pid is never mistaken for our daemon, and `down` never signals a stranger.
Stopping signals the daemon's process group (its session: uwsgi workers, privsep helpers).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from conformance.core.errors import WaitTimeout
from conformance.core.host import start_time
from conformance.core.waiting import wait_for
from conformance.localcloud.config import DAEMON_STOP_TIMEOUT, POLL
from conformance.localcloud.layout import Layout
from conformance.localcloud.procs import user_groups


@dataclass(frozen=True)
class Daemon:
    name: str
    argv: tuple[str, ...]
    user: str | None = None
    cwd: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    stop_signal: int = signal.SIGTERM
    port: int | None = None  # answers on 127.0.0.1:<port> once ready
    watch: tuple[str, ...] = ()  # config files: newer than the pid file means restart


def stale(layout: Layout, daemon: Daemon) -> list[str]:
    """Config files changed since the daemon was started (its pid file was written)."""
    try:
        started = layout.pidfile(daemon.name).stat().st_mtime
    except FileNotFoundError:
        return []
    return [f for f in daemon.watch if Path(f).exists() and Path(f).stat().st_mtime > started]


def read_pidfile(path: Path) -> int | None:
    """The pid when the file names a live process that started when we recorded it."""
    try:
        pid_text, started = path.read_text().split()
    except (FileNotFoundError, ValueError):
        return None
    pid = int(pid_text)
    return pid if start_time(pid) == started else None


def write_pidfile(path: Path, pid: int) -> None:
    path.write_text(f"{pid} {start_time(pid)}\n")


def running(layout: Layout, daemon: Daemon) -> int | None:
    return read_pidfile(layout.pidfile(daemon.name))


def start(layout: Layout, daemon: Daemon) -> bool:
    """Start unless running; returns whether it started it. Readiness is the caller's wait."""
    if running(layout, daemon):
        return False
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    if daemon.user:
        env["HOME"] = os.path.expanduser(f"~{daemon.user}")
    env.update(daemon.env)
    with open(layout.log(daemon.name), "ab") as log:
        proc = subprocess.Popen(
            list(daemon.argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=daemon.cwd, env=env, start_new_session=True, close_fds=True,
            user=daemon.user, group=daemon.user, extra_groups=user_groups(daemon.user),
        )  # fmt: skip
    write_pidfile(layout.pidfile(daemon.name), proc.pid)
    return True


def exited_early(layout: Layout, daemon: Daemon) -> str | bool:
    """For wait_for's ``failed=``: the daemon we started is gone."""
    return running(layout, daemon) is None and f"{daemon.name} exited (see {layout.log(daemon.name)})"


def stop(layout: Layout, daemon: Daemon, timeout: float = DAEMON_STOP_TIMEOUT) -> bool:
    """Stop by pid file: its signal to the process group, then SIGKILL if it will not go."""
    pidfile = layout.pidfile(daemon.name)
    pid = read_pidfile(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    signal_group(pid, daemon.stop_signal)
    try:
        wait_for(lambda: start_time(pid), ready=lambda s: s is None, describe=lambda s: f"alive={bool(s)}",
                 timeout=timeout, interval=POLL / 2, what=f"{daemon.name} (pid {pid}) to exit")  # fmt: skip
    except WaitTimeout:
        signal_group(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)
    return True


def signal_group(pid: int, sig: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def stop_by_foreign_pidfile(path: Path, sig: int = signal.SIGTERM) -> bool:
    """Processes the cloud spawned itself (dnsmasq, haproxy of Neutron) keep their own pid files.

    Such a file outlives its process (a host reboot, an earlier `down`), and its pid may since
    name an unrelated process: signal it only when its command line names the network or router
    that the file's path names (as Neutron itself checks), and remove the file either way."""
    try:
        pid = int(path.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return False
    owner = _UUID.search(str(path))
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        cmdline = ""
    ours = bool(owner) and owner.group(0) in cmdline and start_time(pid) is not None
    if ours:
        os.kill(pid, sig)
    path.unlink(missing_ok=True)
    return ours
