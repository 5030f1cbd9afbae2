"""Run commands for the bring-up: output goes to a step log (redacted), failures carry the tail.

Commands never print to the terminal: the progress line is the runner's job, the detail is in
``<state>/logs/<step>.log``.
"""

from __future__ import annotations

import os
import pwd
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from conformance.core.errors import ConformanceError

COMMAND_TIMEOUT = 900.0  # apt-get install on a fresh machine is the longest single command


class CommandFailed(ConformanceError):
    """A bring-up command exited non-zero. Carries the (redacted) command and output tail."""

    def __init__(self, command: str, exit_status: int, tail: str, log: Path | None):
        self.command, self.exit_status, self.tail, self.log = command, exit_status, tail, log
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" (log: {self.log})" if self.log else ""
        return f"`{self.command}` exited {self.exit_status}{where}"


class Runner:
    """Runs commands, appending each command and its output to one log file, redacted."""

    def __init__(self, log: Path | None, redact: Callable[[str], str] = lambda s: s):
        self.log, self.redact = log, redact

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        check: bool = True,
        user: str | None = None,
        timeout: float = COMMAND_TIMEOUT,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        shown = self.redact(shlex.join(argv)) + (f"  (as {user})" if user else "")
        started = time.monotonic()
        proc = subprocess.run(
            list(argv), input=input, capture_output=True, text=True, timeout=timeout,
            user=user, group=user, extra_groups=user_groups(user), env=env,
            stdin=None if input is not None else subprocess.DEVNULL,
        )  # fmt: skip
        output = self.redact((proc.stdout or "") + (proc.stderr or ""))
        self._append(f"$ {shown}\n{output}[exit {proc.returncode}, {time.monotonic() - started:.1f}s]\n")
        if check and proc.returncode != 0:
            raise CommandFailed(shown, proc.returncode, tail(output), self.log)
        return proc

    def ok(self, argv: Sequence[str], **kwargs) -> bool:
        """True when the command exits 0 (a probe: failure is an answer, not an error)."""
        return self.run(argv, check=False, **kwargs).returncode == 0

    def note(self, text: str) -> None:
        self._append(self.redact(text.rstrip("\n")) + "\n")

    def _append(self, text: str) -> None:
        if self.log is not None:
            with open(self.log, "a") as fh:
                fh.write(text)


def user_groups(user: str | None) -> list[int] | None:
    """The user's own supplementary groups (nova must be in libvirt), never root's."""
    if user is None:
        return None
    return os.getgrouplist(user, pwd.getpwnam(user).pw_gid)


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def tail_file(path: Path, lines: int = 25, redact: Callable[[str], str] = lambda s: s) -> str:
    if not path.exists():
        return f"(no log at {path})"
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(fh.tell() - 64 * 1024, 0))
        data = fh.read().decode("utf-8", "replace")
    return redact(tail(data, lines))
