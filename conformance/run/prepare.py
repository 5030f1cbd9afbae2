"""VMs prepared ahead: the VMs a worker's tests will boot are created, seen running and answering
SSH in background threads while the worker runs the tests before them, up to a bound the profile
sets (``vm.prepare_ahead``: VMs created ahead of their tests at once, across the run's workers).

Each prepared VM belongs to one test (or is a session VM), is booted exactly as that test would
boot it (lab.boot_vm, Director-shaped create_vm and set_vm_metadata), and is never given to
another. Its undo steps live in its own cleanup stack from the line after its create; the test that
claims it takes that stack over, so it is deleted and proven gone at the test's teardown as before.
A VM no test claims (its test deselected, skipped or never reached) is deleted when the worker ends;
a VM still being created then is waited for and deleted (the ledger has its create_vm call from
its start, for `conformance cleanup` if the worker is killed).

A failure while preparing (a CPI error, a VM that never answers SSH) is raised in the test that
claims the VM, with the same error and transcript it would have had booting the VM itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from conformance.core.cleanup import CleanupStack
from conformance.run.schedule import Need

#: What a claim waits for, by phase, and what its seconds count as in the time accounting.
PHASE_KIND = {"queued": "cloud", "create": "cloud", "running": "cloud", "ssh": "guest", "done": "cloud"}


def share(total: int, workers: int, index: int) -> int:
    """This worker's part of the run's ``prepare_ahead`` (the lower indexes take the remainder)."""
    if total <= 0:
        return 0
    workers = max(1, workers)
    return total // workers + (1 if index < total % workers else 0)


class Prepared:
    """One VM being prepared: its phase, its cleanup stack, its future."""

    def __init__(self, need: Need, stack: CleanupStack):
        self.need, self.stack = need, stack
        self.phase = "queued"
        self.future: Future | None = None
        self.claimed = False


class Preparer:
    """Prepares ``needs`` in order, at most ``limit`` created and not yet claimed at once.

    ``boot(need, stack, set_phase)`` makes the VM (registering its undo steps on ``stack``) and
    returns it; ``new_stack()`` gives each VM its own cleanup stack; ``stop()`` is true once the run
    is being interrupted (nothing new is started then)."""

    def __init__(self, needs: list[Need], *, limit: int, boot: Callable[[Need, CleanupStack, Callable], Any],
                 new_stack: Callable[[], CleanupStack], stop: Callable[[], bool] = lambda: False,
                 say: Callable[[str], Any] = lambda text: None):
        self.limit = max(0, int(limit))
        self._boot, self._stop, self._say = boot, stop, say
        self._lock = threading.Lock()
        self._queue: list[Prepared] = []
        self.items: dict[str, Prepared] = {}
        for need in needs:
            if need.key not in self.items:
                p = Prepared(need, new_stack())
                self.items[need.key] = p
                self._queue.append(p)
        self._in_flight = 0
        self._threads: list[threading.Thread] = []
        self._closed = False
        self.closing = threading.Event()  # set when the worker ends: a boot still waiting gives up

    def start(self) -> None:
        self._fill()

    def _fill(self) -> None:
        with self._lock:
            while not self._closed and self._queue and self._in_flight < self.limit and not self._stop():
                p = self._queue.pop(0)
                self._in_flight += 1
                p.future = Future()
                p.future.set_running_or_notify_cancel()
                # a daemon thread: a worker cut short by a second interrupt exits without waiting
                # for it (what it made is in the ledger from its create_vm's start)
                thread = threading.Thread(target=self._run, args=(p,), name=f"cfm-prepare-{len(self._threads)}",
                                          daemon=True)
                self._threads.append(thread)
                thread.start()

    def _run(self, p: Prepared) -> None:
        def set_phase(phase: str) -> None:
            p.phase = phase

        try:
            vm = self._boot(p.need, p.stack, set_phase)
        except BaseException as exc:  # the claiming test raises it
            p.future.set_exception(exc)
        else:
            p.future.set_result(vm)
        finally:
            p.phase = "done"

    def planned(self, key: str) -> bool:
        return key in self.items

    def claim(self, key: str, stack: CleanupStack, *, wait: Callable[[Prepared], Any]) -> Any | None:
        """The VM prepared for ``key``, its undo steps moved onto ``stack``; None when it was not
        prepared (not planned, or never started): the caller boots it now. ``wait(prepared)`` waits
        for its future (bounded, with progress: see fixtures). A failure while preparing is raised
        here, after its undo steps moved (what it made is still deleted at the test's teardown)."""
        with self._lock:
            p = self.items.get(key)
            if p is None or p.claimed:
                return None
            p.claimed = True
            if p.future is None:  # not started yet: boot it now instead, in the test
                if p in self._queue:
                    self._queue.remove(p)
                return None
        try:
            wait(p)
            return p.future.result(timeout=0)
        finally:
            if p.future.done():
                stack.adopt(p.stack)
                with self._lock:
                    self._in_flight -= 1
                self._fill()
            else:  # the wait ended first (an interrupt, its timeout): close() waits for it and deletes it
                p.claimed = False

    def close(self) -> None:
        """At the worker's end: nothing new starts; a boot still waiting (for the server, for SSH)
        gives up; every VM being created is waited for; every VM no test claimed is deleted (its own
        stack run). After a second interrupt (``stop``) nothing is waited for: what is left stays
        in the ledger for `conformance cleanup`. Raises the stacks' errors together, if any."""
        with self._lock:
            self._closed = True
            self._queue.clear()
        self.closing.set()
        for thread in list(self._threads):
            while thread.is_alive() and not self._stop():  # each boot ends within its own timeouts
                thread.join(timeout=1.0)
        errors: list[BaseException] = []
        for p in self.items.values():
            if p.claimed or p.future is None:
                continue
            if not p.future.done():  # cut short: its create_vm is in the ledger from its start
                p.stack.abandon("the run was cut short while the VM was being prepared")
                continue
            if len(p.stack):
                self._say(f"deleting {p.need}, prepared ahead and not taken by its test")
            try:
                p.stack.run()
            except Exception as exc:  # every stack is run; the errors are raised together
                errors.append(exc)
        if errors:
            raise ExceptionGroup("cleanup of VMs prepared ahead", errors)
