"""The one wait primitive: a deadline, a fixed interval, failure states, and a timeout
message that says what it waited for and what it last saw.

    server = wait_for(lambda: nova.get_server(cid), ready=lambda s: s.status == "ACTIVE",
                      failed=lambda s: s.status == "ERROR" and f"status=ERROR fault={s.fault}",
                      describe=lambda s: f"status={s.status}", timeout=600, interval=2,
                      what=f"server {cid} to be ACTIVE")

A wait that follows a CPI call names that call with ``after``, so that a timeout says which
call's effect never showed, not only the state last seen:

    wait_for(..., what=f"volume {cid} to be available", after=f"detach_disk from VM {vm} answered OK")
    # WaitTimeout: timed out after 180s waiting for volume ... to be available (after detach_disk
    # from VM ... answered OK); last observed (after 90 polls): status=in-use ... attached to [...]

Growing back-off (capped) is for connects and transient errors: ``backoff=1.5, max_interval=10``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from conformance.core.errors import WaitFailed, WaitTimeout

T = TypeVar("T")
log = logging.getLogger("conformance.wait")
#: Where every wait reports its progress unless it is given its own ``on_progress`` (a run sets it:
#: conformance.run.progress). A wait says nothing for its first PROGRESS_AFTER seconds, then what it
#: last saw whenever that changes and at least every PROGRESS_EVERY seconds.
_sink: Callable[[str], Any] | None = None
PROGRESS_AFTER = 5.0
PROGRESS_EVERY = 30.0


#: Where every wait's seconds are counted by kind ("cloud", "guest", "other"): a run's time accounting.
#: Only the waits of the thread that set it are counted: a VM prepared ahead in a background thread
#: (conformance.run.prepare) waits off the test's clock; the test counts what it waits for it.
_account: Callable[[str, float], Any] | None = None
_account_thread: int | None = None
_local = threading.local()  # .depth: waits in progress in this thread (a probe may wait too: SSH)


def account_waits_to(account: Callable[[str, float], Any] | None) -> Callable[[str, float], Any] | None:
    """Every wait of this thread calls ``account(kind, seconds)`` when it ends; returns the previous."""
    global _account, _account_thread
    previous, _account, _account_thread = _account, account, threading.get_ident()
    return previous


def account(kind: str, seconds: float) -> None:
    """Count ``seconds`` of waiting as ``kind``, as a wait of this thread would (outside any wait)."""
    if _account is not None and _account_thread == threading.get_ident() and getattr(_local, "depth", 0) == 0:
        _account(kind, seconds)


@contextlib.contextmanager
def spent(kind: str):
    """Count the block's seconds as ``kind`` (a cloud API read, an SSH command: time the suite waits
    on something else, not its own); waits inside it count once, as the block."""
    start = time.monotonic()
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1
        account(kind, time.monotonic() - start)


def report_progress_to(sink: Callable[[str], Any] | None) -> Callable[[str], Any] | None:
    """Every wait of this process reports to ``sink`` from now on; returns the previous sink."""
    global _sink
    previous, _sink = _sink, sink
    return previous


def progress(text: str) -> None:
    """Say ``text`` where the waits of this process report (nowhere outside a run)."""
    if _sink is not None:
        _sink(text)


def wait_for(
    probe: Callable[[], T],
    *,
    ready: Callable[[T], bool] = bool,
    failed: Callable[[T], str | bool | None] | None = None,
    describe: Callable[[T], str] = repr,
    timeout: float,
    interval: float,
    what: str,
    after: str | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    backoff: float = 1.0,
    max_interval: float | None = None,
    on_progress: Callable[[str], Any] | None = None,
    kind: str = "other",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Any] = time.sleep,
) -> T:
    """Call ``probe`` until ``ready(value)``; return that value.

    ``failed(value)`` returning a truthy string (or True) stops the wait at once with WaitFailed.
    Exceptions in ``retry_on`` raised by the probe are remembered as the last error and retried;
    any other exception propagates. ``on_progress`` (default: the process's sink, see
    report_progress_to) receives "waiting for <what>: <last seen> (<elapsed>s of <timeout>s)" once the
    wait is PROGRESS_AFTER seconds old, then whenever what it sees changes and at least every
    PROGRESS_EVERY seconds. ``kind`` ("cloud", "guest", "other") is what the wait's seconds count as
    in the run's time accounting (see account_waits_to). ``after`` names the call whose effect is awaited
    ("detach_disk from VM x answered OK"); it becomes part of ``what`` in every message.
    """
    if after:
        what = f"{what} (after {after})"
    if timeout <= 0 or interval <= 0:
        raise ValueError(f"wait for {what}: timeout and interval must be positive")
    start = clock()
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        return _wait(probe, ready, failed, describe, timeout, interval, what, retry_on, backoff, max_interval,
                     on_progress or _sink, clock, sleep, start)
    finally:
        _local.depth -= 1
        account(kind, clock() - start)  # a wait inside a wait's probe counts once, as the outer one


def _wait(probe, ready, failed, describe, timeout, interval, what, retry_on, backoff, max_interval, report,
          clock, sleep, start):
    deadline = start + timeout
    polls, delay = 0, interval
    last_seen, last_error = "nothing yet", None
    reported: tuple[str, float] | None = None  # what was last reported, and when
    while True:
        polls += 1
        try:
            value = probe()
        except retry_on as exc:
            last_error = f"{type(exc).__name__}: {exc}"[:500]
            seen = None
        else:
            seen = describe(value)
            if seen != last_seen:
                log.debug("waiting for %s: %s", what, seen)
            last_seen = seen
        if seen is not None:
            if ready(value):
                return value
            if failed is not None:
                verdict = failed(value)
                if verdict:
                    state = verdict if isinstance(verdict, str) else seen
                    raise WaitFailed(what, state, clock() - start)
        elapsed = clock() - start
        now_seen = last_seen if seen is not None else f"{last_seen}; last error: {last_error}"
        if report is not None and elapsed >= PROGRESS_AFTER and (
                reported is None or reported[0] != now_seen or elapsed - reported[1] >= PROGRESS_EVERY):
            report(f"waiting for {what}: {now_seen} ({elapsed:.0f}s of {timeout:g}s)")
            reported = (now_seen, elapsed)
        now = clock()
        if now >= deadline:
            raise WaitTimeout(what, timeout, polls, last_seen, last_error)
        sleep(min(delay, max(deadline - now, 0.0)))
        if backoff != 1.0:
            delay = min(delay * backoff, max_interval or delay * backoff)
