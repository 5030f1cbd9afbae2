"""The reference CPI's one wait: poll a resource until ready, gone, or failed; bounded.

It may not use conformance.core.waiting (the CPI imports only openstacksdk, stdlib and the wire
types), so this is its own small version with the same contract: fixed interval, deadline =
state_timeout, a failure state ends the wait at once with the cloud's fault in the message, and
a timeout says what it last saw.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from conformance.refcpi.errors import CloudError

LOG = logging.getLogger("conformance.refcpi.waits")
T = TypeVar("T")


def wait_for(
    fetch: Callable[[], T | None],
    *,
    ready: Callable[[T | None], bool],
    failed: Callable[[T], str | None] = lambda _res: None,
    describe: Callable[[T | None], str] = lambda res: "gone" if res is None else repr(res),
    what: str,
    timeout: float,
    interval: float,
    transient: Callable[[Exception], bool] = lambda _exc: False,
) -> T | None:
    """Poll ``fetch()`` (None means gone) until ``ready``; raise CloudError on failure or timeout.

    A ``transient`` fetch error (a reset connection, a 503) is logged and the poll repeated: the
    deadline still bounds the wait, and a timeout names the last such error.
    """
    start, last_seen, polls, last_error = time.monotonic(), "nothing yet", 0, None
    while True:
        polls += 1
        try:
            resource = fetch()
        except Exception as exc:
            if not transient(exc) or time.monotonic() - start + interval > timeout:
                raise
            last_error = f"{type(exc).__name__}: {exc}"
            LOG.warning("%s: transient error while polling (%s), polling on", what, type(exc).__name__)
            time.sleep(interval)
            continue
        seen = describe(resource)
        if seen != last_seen:
            LOG.debug("%s: now %s (after %.1fs)", what, seen, time.monotonic() - start)
            last_seen = seen
        if ready(resource):
            return resource
        problem = failed(resource) if resource is not None else None
        if problem:
            raise CloudError(f"{what} failed after {time.monotonic() - start:.1f}s: {problem}")
        if time.monotonic() - start + interval > timeout:
            raise WaitTimedOut(
                f"Timed out after {timeout:g}s waiting for {what}; last observed (after {polls} polls): {last_seen}; "
                f"last error: {last_error or 'none'}"
            )
        time.sleep(interval)


def status_of(resource: Any) -> str:
    return str(getattr(resource, "status", None) or "unknown")


class WaitTimedOut(CloudError):
    """The deadline passed without a failure state: the caller may try something else (hard reboot)."""
