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

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from conformance.core.errors import WaitFailed, WaitTimeout

T = TypeVar("T")
log = logging.getLogger("conformance.wait")


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
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Any] = time.sleep,
) -> T:
    """Call ``probe`` until ``ready(value)``; return that value.

    ``failed(value)`` returning a truthy string (or True) stops the wait at once with WaitFailed.
    Exceptions in ``retry_on`` raised by the probe are remembered as the last error and retried;
    any other exception propagates. ``on_progress`` receives a line whenever the observed state
    changes (for progress output on long waits). ``after`` names the call whose effect is awaited
    ("detach_disk from VM x answered OK"); it becomes part of ``what`` in every message.
    """
    if after:
        what = f"{what} (after {after})"
    if timeout <= 0 or interval <= 0:
        raise ValueError(f"wait for {what}: timeout and interval must be positive")
    start = clock()
    deadline = start + timeout
    polls, delay = 0, interval
    last_seen, last_error = "nothing yet", None
    while True:
        polls += 1
        try:
            value = probe()
        except retry_on as exc:
            last_error = f"{type(exc).__name__}: {exc}"[:500]
        else:
            seen = describe(value)
            if seen != last_seen:
                log.debug("waiting for %s: %s", what, seen)
                if on_progress is not None:
                    on_progress(f"{what}: {seen} ({clock() - start:.0f}s)")
            last_seen = seen
            if ready(value):
                return value
            if failed is not None:
                verdict = failed(value)
                if verdict:
                    state = verdict if isinstance(verdict, str) else seen
                    raise WaitFailed(what, state, clock() - start)
        now = clock()
        if now >= deadline:
            raise WaitTimeout(what, timeout, polls, last_seen, last_error)
        sleep(min(delay, max(deadline - now, 0.0)))
        if backoff != 1.0:
            delay = min(delay * backoff, max_interval or delay * backoff)
