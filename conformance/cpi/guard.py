"""The CPI's guard: a tiny parent that ends the CPI's process group when the runner dies.

A CPI runs in a process group of its own (a terminal's Ctrl-C must not reach it half-way; the
runner decides). The runner kills that group on a timeout or an interrupt, but a runner that is
SIGKILLed (a killed xdist worker, a killed run) cannot; the CPI and its children would live on,
still creating resources. So the runner starts the CPI through this guard, which holds the read
end of a pipe (the lifeline) whose only writer is the runner. When the runner dies the kernel
closes the write end, the guard sees EOF and kills the whole group. A CPI's children that start a
session of their own are out of reach here; the runner finds those by the pipes they hold.

    python -I -S guard.py LIFELINE_FD STATUS_FD -- CPI ARGS...

Standalone on purpose (only the standard library, no package import): it starts in milliseconds
for every CPI call. STATUS_FD gets nothing when the CPI was started, or "errno:message" when it
could not be executed (the runner turns that into the OSError it would have got from Popen).
Exit code: the CPI's (128 + signal when a signal ended it).
"""

import os
import select
import signal
import sys
import time

KILL_GRACE = 3.0


def _spawn(argv, inherited):
    """fork + exec the CPI; errno and message of a failed exec, or None (via a close-on-exec pipe)."""
    read_end, write_end = os.pipe()  # both close-on-exec (PEP 446)
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        for fd in inherited:  # the CPI gets neither the lifeline nor the status pipe
            os.close(fd)
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(write_end, f"{exc.errno}:{exc.strerror or exc}".encode())
        os._exit(127)
    os.close(write_end)
    failure = b""
    while chunk := os.read(read_end, 4096):
        failure += chunk
    os.close(read_end)
    return pid, failure.decode(errors="replace") or None


def _end_group() -> None:
    """SIGTERM the group (the CPI and its children), then SIGKILL it, the guard included."""
    group = os.getpgrp()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the guard outlives its own SIGTERM
    try:
        os.killpg(group, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + KILL_GRACE
    while time.monotonic() < deadline:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                time.sleep(0.05)
        except ChildProcessError:
            break
    os.killpg(group, signal.SIGKILL)


def main(args) -> int:
    lifeline, status, argv = int(args[0]), int(args[1]), args[3:]
    pid, failure = _spawn(argv, (lifeline, status))
    os.write(status, (failure or "").encode())
    os.close(status)
    if failure:
        os.waitpid(pid, 0)
        return 127
    # The CPI has the runner's stdin/stdout/stderr; the guard lets go of its copies, so the runner
    # sees EOF exactly when the CPI (and whatever it left holding them) is done.
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    child = os.pidfd_open(pid)
    while True:
        ready, _, _ = select.select([child, lifeline], [], [])
        if child in ready:
            code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            return code if code >= 0 else 128 - code
        if lifeline in ready and not os.read(lifeline, 1):  # the runner is gone
            _end_group()
            return 137


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
