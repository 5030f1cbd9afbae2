"""The reference CPI's bounded wait: ready, failure state at once, timeout naming what it saw."""

from __future__ import annotations

import pytest

from conformance.refcpi.errors import CloudError
from conformance.refcpi.waits import WaitTimedOut, wait_for

pytestmark = pytest.mark.unit


class Transient(Exception):
    pass


def sequence(*items):
    items = list(items)

    def fetch():
        item = items.pop(0) if len(items) > 1 else items[0]
        if isinstance(item, Exception):
            raise item
        return item

    return fetch


def test_ready_after_transient_errors_and_progress():
    fetch = sequence("BUILD", Transient("reset"), "ACTIVE")
    got = wait_for(
        fetch,
        ready=lambda s: s == "ACTIVE",
        what="server x",
        timeout=5,
        interval=0.01,
        transient=lambda exc: isinstance(exc, Transient),
    )
    assert got == "ACTIVE"


def test_failure_state_ends_the_wait_with_the_fault():
    fetch = sequence("BUILD", "ERROR")
    with pytest.raises(CloudError, match="server x failed after .*: No valid host"):
        wait_for(
            fetch,
            ready=lambda s: s == "ACTIVE",
            failed=lambda s: "No valid host" if s == "ERROR" else None,
            what="server x",
            timeout=5,
            interval=0.01,
        )


def test_timeout_names_the_last_state_and_error():
    fetch = sequence(Transient("reset"), "BUILD")
    with pytest.raises(
        WaitTimedOut, match=r"waiting for server x; last observed .*BUILD.*last error: Transient"
    ):
        wait_for(
            fetch,
            ready=lambda s: False,
            describe=str,
            what="server x",
            timeout=0.1,
            interval=0.02,
            transient=lambda exc: isinstance(exc, Transient),
        )


def test_a_non_transient_error_is_raised_at_once():
    with pytest.raises(ValueError):
        wait_for(sequence(ValueError("boom")), ready=lambda s: True, what="x", timeout=5, interval=0.01)
