"""Run one CPI process: request on stdin, bounded capture of stdout/stderr, a deadline, and a kill
of the whole process group when the deadline passes."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: What a CPI may write before the rest is dropped (memory stays bounded; the call is judged broken).
MAX_STDOUT = 32 * 1024 * 1024
MAX_STDERR = 4 * 1024 * 1024
KILL_GRACE = 3.0
HOLDER_GRACE = 1.0  # after the CPI exited: how long its pipes may stay open before we look for holders
START_TIMEOUT = 30.0  # fork + exec of the CPI under its guard
WAIT_REPORT = 30.0  # seconds between on_wait calls while a CPI runs
GUARD = Path(__file__).with_name("guard.py")
_LIFELINES: dict[int, int] = {}  # guard pid -> write end of its lifeline (held while the CPI runs)


@dataclass
class Finished:
    stdout: bytes
    stderr: bytes
    exit_code: int | None
    duration: float
    timed_out: bool
    stdout_overflow: int  # bytes dropped past the limit
    stderr_overflow: int


class _Sink(threading.Thread):
    """Drains a pipe to the end (so the CPI never blocks on a full pipe), keeping at most ``limit`` bytes."""

    def __init__(self, pipe, limit: int, keep_tail: bool):
        super().__init__(daemon=True)
        self.pipe, self.limit, self.keep_tail = pipe, limit, keep_tail
        self.chunks: list[bytes] = []
        self.size = self.dropped = 0

    def run(self) -> None:
        try:
            while chunk := self.pipe.read1(65536):
                self._keep(chunk)
        except (OSError, ValueError):
            pass

    def _keep(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self.size += len(chunk)
        while self.size > self.limit:
            if not self.keep_tail:  # stdout: keep the head, drop the rest
                excess = self.size - self.limit
                self.chunks[-1] = self.chunks[-1][: len(self.chunks[-1]) - excess]
            else:  # stderr: keep the tail, where the error is
                excess = min(self.size - self.limit, len(self.chunks[0]))
                self.chunks[0] = self.chunks[0][excess:]
                if not self.chunks[0]:
                    self.chunks.pop(0)
            self.size -= excess
            self.dropped += excess

    def data(self) -> bytes:
        return b"".join(self.chunks)


def _feed(stdin, data: bytes) -> None:
    try:
        stdin.write(data)
    except (BrokenPipeError, OSError, ValueError):
        pass  # the CPI closed stdin early: its answer will tell
    finally:
        try:
            stdin.close()
        except OSError:
            pass


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group (guard, CPI, children), then SIGKILL what is left after a grace period."""
    for sig, grace in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _group_alive(proc):
            time.sleep(0.05)
        if not _group_alive(proc):
            break
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5.0)


def _group_alive(proc: subprocess.Popen) -> bool:
    proc.poll()  # reap the guard, so that it does not count as a member
    try:
        os.killpg(proc.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _start_guarded(argv: list[str], env: dict[str, str], cwd: str | None) -> subprocess.Popen:
    """Start ``argv`` under conformance/cpi/guard.py in a session of its own. The lifeline's write
    end stays with this process only (never inherited): when this process dies, however, the guard
    kills the CPI's group. Raises OSError as Popen would when the CPI cannot be executed."""
    lifeline_r, lifeline_w = os.pipe()
    status_r, status_w = os.pipe()
    try:
        proc = subprocess.Popen([sys.executable, "-I", "-S", str(GUARD), str(lifeline_r), str(status_w), "--", *argv],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                cwd=cwd, start_new_session=True, close_fds=True, pass_fds=(lifeline_r, status_w))
    finally:
        os.close(lifeline_r)
        os.close(status_w)
    _LIFELINES[proc.pid] = lifeline_w
    try:
        failure = _read_status(status_r)
    finally:
        os.close(status_r)
    if failure:
        number, _, message = failure.partition(":")
        proc.wait()
        _release(proc)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            pipe.close()
        raise OSError(int(number) if number.isdigit() else 0, message)
    return proc


def _read_status(fd: int) -> str:
    """What the guard says about the exec: nothing (EOF) once the CPI runs."""
    data, deadline = b"", time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            return data.decode(errors="replace")
        data += chunk
    raise OSError(0, f"the CPI guard did not report the CPI's start within {START_TIMEOUT:g}s")


def _release(proc: subprocess.Popen) -> None:
    """Close the lifeline once the guard is done (its group is reaped by then)."""
    fd = _LIFELINES.pop(proc.pid, None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def _wait(proc: subprocess.Popen, start: float, timeout: float, on_wait) -> bool:
    """Until the process ends (True) or ``timeout`` seconds from ``start`` pass (False)."""
    deadline, report_at = start + timeout, start + WAIT_REPORT
    while True:
        now = time.monotonic()
        if now >= deadline:
            return False
        step = min(deadline, report_at) - now if on_wait is not None else deadline - now
        try:
            proc.wait(timeout=max(step, 0.01))
            return True
        except subprocess.TimeoutExpired:
            now = time.monotonic()
            if on_wait is not None and now >= report_at and now < deadline:
                on_wait(now - start)
                report_at = now + WAIT_REPORT


def run_process(argv: list[str], request: bytes, env: dict[str, str], timeout: float, cwd: str | None = None,
                max_stdout: int = MAX_STDOUT, max_stderr: int = MAX_STDERR,
                on_wait: Callable[[float], Any] | None = None) -> Finished:
    """Run ``argv`` with ``request`` on stdin. Raises OSError when it cannot be started.
    ``on_wait(seconds)`` is called every WAIT_REPORT seconds while the process runs (progress)."""
    start = time.monotonic()
    proc = _start_guarded(argv, env, cwd)
    out, err = _Sink(proc.stdout, max_stdout, False), _Sink(proc.stderr, max_stderr, True)
    feeder = threading.Thread(target=_feed, args=(proc.stdin, request), daemon=True)
    for thread in (out, err, feeder):
        thread.start()
    timed_out = False
    try:
        try:
            timed_out = not _wait(proc, start, timeout, on_wait)
        except BaseException:  # an interrupt (Ctrl-C, SIGTERM made one): the CPI must not outlive us
            _kill_group(proc)
            raise
        # Children of the CPI that hold the pipes open would keep the readers alive: end the group,
        # then anything else still holding our pipes (a daemon in a session of its own).
        _kill_group(proc) if timed_out else _reap_group(proc)
        for thread in (out, err):
            thread.join(timeout=HOLDER_GRACE)
        if out.is_alive() or err.is_alive():
            _kill_pipe_holders(proc)
            for thread in (out, err):
                thread.join(timeout=10)
    finally:
        _release(proc)
        for pipe, reader in ((proc.stdout, out), (proc.stderr, err)):
            if not reader.is_alive():  # closing under a blocked reader would wait on its lock
                with contextlib.suppress(OSError, ValueError):
                    pipe.close()
    duration = time.monotonic() - start
    return Finished(out.data(), err.data(), None if timed_out else proc.returncode, duration, timed_out,
                    out.dropped, err.dropped)


def _pipe_inodes(proc: subprocess.Popen) -> set[int]:
    inodes = set()
    for pipe in (proc.stdout, proc.stderr, proc.stdin):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            inodes.add(os.fstat(pipe.fileno()).st_ino)
    return inodes


def _kill_pipe_holders(proc: subprocess.Popen) -> None:
    """SIGKILL every other process that holds one of the CPI's pipes: only the CPI's descendants
    can (the pipes were made for it), also those that left its process group."""
    wanted = {f"pipe:[{inode}]" for inode in _pipe_inodes(proc)}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            holds = any(os.readlink(fd) in wanted for fd in (entry / "fd").iterdir())
        except OSError:
            continue
        if holds:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def _reap_group(proc: subprocess.Popen) -> None:
    """The CPI exited; a background child it left holding our pipes is killed too."""
    if _group_alive(proc):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
