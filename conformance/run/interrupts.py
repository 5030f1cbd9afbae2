"""SIGINT and SIGTERM end a run cleanly: the test in progress stops, every cleanup runs with its
normal timeouts, then the run exits 130 (SIGINT) or 143 (SIGTERM) with an INCOMPLETE verdict.
A second interrupt cuts the cleanup waits short; what is then left stays in the ledger for
`conformance cleanup --run-id`.

Who listens to what:
- one process (no xdist): SIGINT/SIGTERM directly;
- the xdist controller: SIGINT/SIGTERM. It never raises: it keeps xdist's loop running until every
  worker has reported its end, writes ``<report>/interrupted`` (for workers still starting) and relays
  to each worker: SIGUSR1 for the first interrupt, SIGUSR2 for every later one;
- an xdist worker ignores SIGINT/SIGTERM (a terminal sends them to the whole process group; only the
  controller's relay counts, so that one Ctrl-C is one interrupt) and acts on SIGUSR1/SIGUSR2.

In a process that runs tests the first interrupt raises RunInterrupted when a test (setup or call)
is in progress, and otherwise only sets ``session.shouldstop`` (a cleanup in progress goes on).
A later one raises CutShort inside a cleanup, which gives up the current wait or CPI call; cleanup
stacks then skip their remaining steps (``cut_short()``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.core.errors import ConformanceError

INTERRUPTS = (signal.SIGINT, signal.SIGTERM)
RELAY_STOP, RELAY_HURRY = signal.SIGUSR1, signal.SIGUSR2
MARKER = "interrupted"  # in the run's report folder: {"signal": "SIGINT", "at": ts}
WORKERS = ".workers"    # in the run's report folder: <gw>.pid, one per live worker


class RunInterrupted(pytest.exit.Exception):
    """Ends the session with exit code 128 + signal (pytest's Exit: no test report, teardown runs)."""

    def __init__(self, signame: str, signum: int):
        super().__init__(f"interrupted by {signame}", returncode=128 + signum)


class CutShort(ConformanceError):
    """A second interrupt: a cleanup wait or CPI call was given up; the resource stays in the ledger."""


@dataclass
class Interrupts:
    role: str                         # "single" | "controller" | "worker"
    report_dir: Path
    say: Callable[[str], None]
    signum: int | None = None
    at: float | None = None
    hurried: bool = False
    phase: str = "other"              # "test" (setup/call), "cleanup" (teardown), "other"
    session: object | None = None

    @property
    def signame(self) -> str | None:
        return signal.Signals(self.signum).name if self.signum else None

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if self.role == "worker":
            for sig in INTERRUPTS:
                signal.signal(sig, signal.SIG_IGN)
            signal.signal(RELAY_STOP, lambda *_: self._local(self._relayed_signal()))
            signal.signal(RELAY_HURRY, lambda *_: self._local(self._relayed_signal(), hurry=True))
            (self.report_dir / WORKERS).mkdir(exist_ok=True)
            self._pid_file().write_text(str(os.getpid()))
        else:
            handler = self._relay if self.role == "controller" else self._local
            for sig in INTERRUPTS:
                signal.signal(sig, lambda signum, _frame: handler(signum))

    def uninstall(self) -> None:
        if self.role == "worker":
            self._pid_file().unlink(missing_ok=True)

    def cut_short(self) -> bool:
        return self.hurried

    def check_marker(self) -> None:
        """A worker that started after the controller's relay: stop before the next test."""
        if self.role == "worker" and self.signum is None and (self.report_dir / MARKER).exists():
            self._local(self._relayed_signal())

    def exit_code(self) -> int | None:
        return 128 + self.signum if self.signum else None

    def record(self) -> dict | None:
        if not self.signum:
            return None
        return {"signal": self.signame, "at": self.at, "cut_short": self.hurried}

    # -- handlers --------------------------------------------------------------------
    def _first(self, signum: int) -> bool:
        if self.signum is not None:
            return False
        self.signum, self.at = signum, time.time()
        if self.session is not None:
            self.session.shouldstop = f"interrupted by {self.signame}"
        return True

    def _local(self, signum: int, hurry: bool = False) -> None:
        first = self._first(signum)
        if first and self.role == "single":
            self.say(f"{self.signame}: stopping the run; its cleanups run now with their normal timeouts "
                     f"(interrupt again to cut the waits short)")
        if first and not hurry:
            if self.phase == "test":
                raise RunInterrupted(self.signame, self.signum)
            return
        self.hurried = True
        if self.role == "single":
            self.say(f"{self.signame} again: cutting the cleanup waits short; what is left stays in the ledger")
        if self.phase == "cleanup":
            raise CutShort(f"cleanup cut short by a second {self.signame}")
        if self.phase == "test":
            raise RunInterrupted(self.signame, self.signum)

    def _relay(self, signum: int) -> None:
        if self._first(signum):
            (self.report_dir / MARKER).write_text(json.dumps({"signal": self.signame, "at": self.at}))
            self.say(f"{self.signame}: stopping the run; the workers run their cleanups now with their normal "
                     f"timeouts (interrupt again to cut the waits short)")
            self._send(RELAY_STOP)
            return
        self.hurried = True
        self.say(f"{self.signame} again: the workers cut their cleanup waits short; what is left stays in the ledger")
        self._send(RELAY_HURRY)

    def _send(self, sig: int) -> None:
        for pid_file in sorted((self.report_dir / WORKERS).glob("*.pid")):
            try:
                os.kill(int(pid_file.read_text()), sig)
            except (OSError, ValueError):
                continue

    def _relayed_signal(self) -> int:
        try:
            name = json.loads((self.report_dir / MARKER).read_text())["signal"]
            return int(signal.Signals[name])
        except (OSError, ValueError, KeyError):
            return int(signal.SIGINT)

    def _pid_file(self) -> Path:
        return self.report_dir / WORKERS / f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.pid"


def stderr_writer(config) -> Callable[[str], None]:
    """A line on the real stderr, also while pytest captures output (from the main thread)."""

    gone = threading.Event()

    def say(text: str) -> None:
        if gone.is_set():
            return
        capman = config.pluginmanager.getplugin("capturemanager")
        main = threading.current_thread() is threading.main_thread()
        try:
            with capman.global_and_fixture_disabled() if capman is not None and main else nullcontext():
                sys.stderr.write(f"conformance: {text}\n")
                sys.stderr.flush()
        except (OSError, ValueError):
            # stderr is gone (the reader of a pipe died: a CI log collector, `| head`): the run goes
            # on without its lines, and still cleans up and writes results.json (a BrokenPipeError
            # here once stopped the end of an interrupted run before results.json)
            gone.set()

    return say
