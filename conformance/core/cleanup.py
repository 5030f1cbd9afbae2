"""A LIFO cleanup stack that runs every step, and the ledger of every resource a run creates.

    stack = CleanupStack(ledger)
    vm_cid = cpi.create_vm(...)
    stack.add(f"delete VM {vm_cid}", delete_and_wait, vm_cid, resource=("vm", vm_cid))
    ...
    stack.run()   # LIFO; "already gone" is fine; other failures gathered into one CleanupError
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from conformance.core.errors import CleanupError
from conformance.core.jsonl import JsonlFile, read_jsonl

log = logging.getLogger("conformance.cleanup")

NOT_FOUND_TYPES = ("VMNotFound", "DiskNotFound", "NotFound")


def is_not_found(exc: BaseException) -> bool:
    """An error that means "already gone": typed not-found errors of openstacksdk, the CPI, HTTP 404."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"NotFoundException", "ResourceNotFound", "ResourceNotFoundError"}:
        return True
    if getattr(exc, "status_code", None) == 404:
        return True
    short = getattr(exc, "short_type", None)
    return bool(short and short in NOT_FOUND_TYPES)


class CleanupLeft(Exception):
    """A cleanup step that was not run (the run was told to stop waiting)."""


class Ledger:
    """Append-only JSON lines (reports/<run>/ledger.jsonl): one line per create / delete / abandon.

    Each write holds a file lock and appends one flushed, fsynced line, so xdist workers and a
    killed run never leave a torn record.
    """

    def __init__(self, path: str | os.PathLike, run_id: str, worker: str = "main"):
        self._file = JsonlFile(path)
        self.path = self._file.path
        self.run_id, self.worker = run_id, worker

    def record(self, event: str, kind: str, rid: str, **extra: Any) -> None:
        self._file.append({"ts": time.time(), "run_id": self.run_id, "worker": self.worker, "event": event,
                           "kind": kind, "id": rid, **extra})

    @staticmethod
    def read(path: str | os.PathLike) -> list[dict[str, Any]]:
        return read_jsonl(path)

    @staticmethod
    def outstanding(path: str | os.PathLike) -> list[dict[str, Any]]:
        """Resources created and not (yet) recorded as deleted, oldest first."""
        return Ledger.live(Ledger.read(path))

    @staticmethod
    def live(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``outstanding`` of entries already read (a caller that also reads them otherwise)."""
        live: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in entries:
            key = (entry["kind"], entry["id"])
            if entry["event"] == "created":
                live[key] = entry
            elif entry["event"] == "deleted":
                live.pop(key, None)
        return list(live.values())


class CleanupStack:
    def __init__(self, ledger: Ledger | None = None, not_found: Callable[[BaseException], bool] = is_not_found,
                 stop: Callable[[], bool] = lambda: False, on_step: Callable[[str, str], Any] | None = None):
        self._steps: list[tuple[str, Callable[[], Any], tuple[str, str] | None]] = []
        self._ledger = ledger
        self._not_found = not_found
        self._stop = stop  # true once the run was told to cut its cleanups short (a second interrupt)
        self._on_step = on_step or (lambda description, outcome: None)  # (description, what happened)

    def __len__(self) -> int:
        return len(self._steps)

    def add(self, description: str, fn: Callable[..., Any], *args: Any, resource: tuple[str, str] | None = None,
            **kwargs: Any) -> None:
        """Register an undo. With ``resource=(kind, id)`` the ledger records the resource as created."""
        self._steps.append((description, lambda: fn(*args, **kwargs), resource))
        if resource is not None and self._ledger is not None:
            self._ledger.record("created", *resource, cleanup=description)

    def adopt(self, other: CleanupStack) -> None:
        """Take over ``other``'s steps (on top of this stack's, in their order); ``other`` is left
        empty. The ledger already has their resources."""
        self._steps.extend(other._steps)
        other._steps = []

    def run(self) -> None:
        """Run every step, last first. Raises CleanupError listing the steps that failed."""
        failures: list[tuple[str, BaseException]] = []
        while self._steps:
            description, step, resource = self._steps.pop()
            if self._stop():
                failures.append((description, CleanupLeft("not run: the cleanup was cut short; the ledger "
                                                          "keeps it for `conformance cleanup`")))
                self._on_step(description, "left for `conformance cleanup`")
                continue
            try:
                step()
            except Exception as exc:
                if not self._not_found(exc):
                    log.warning("cleanup step failed: %s: %s", description, exc)
                    failures.append((description, exc))
                    self._on_step(description, f"failed: {type(exc).__name__}: {str(exc)[:300]}")
                    continue
                log.info("cleanup: %s: already gone", description)
                self._on_step(description, "already gone")
            else:
                self._on_step(description, "done")
            if resource is not None and self._ledger is not None:
                self._ledger.record("deleted", *resource)
        if failures:
            raise CleanupError(failures)

    def abandon(self, reason: str) -> list[str]:
        """Drop every step without running it (``--keep-on-failure``); the ledger keeps the resources."""
        kept = [description for description, _, _ in self._steps]
        for _, _, resource in self._steps:
            if resource is not None and self._ledger is not None:
                self._ledger.record("abandoned", *resource, reason=reason)
        self._steps.clear()
        return kept
