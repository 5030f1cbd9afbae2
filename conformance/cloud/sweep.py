"""Find and remove what killed runs left behind: by ledger, by run tag, and by call attribution.

Every resource the suite creates is in a ledger (reports/<run>/ledger.jsonl) at once; resources
that can carry it also have the run id in their name, metadata or description; what a CPI created
in a call that never answered usably is found by ``attribution``. Deletion is what a project
member may do (never ``force``), dependents first, and every wait has a named timeout:

* a server's ports (bound to it, or named ``<server name>-*``) are listed before the server is
  deleted and deleted after it is gone: Nova leaves ports it did not create itself, and a port
  holding a static IP makes every later create_vm with that IP fail;
* a volume's snapshots go (and are gone) before the volume; its attachments are detached first;
* a resource in a transitional state (creating, detaching, ...) is waited out, then handled.

One resource's failure never stops the others; ``remove`` returns what was deleted and what not.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from conformance.cloud.attribution import (
    Finding,
    answered_ips,
    attribute,
    ledger_ids,
    openstack_inventory,
    suspect_calls,
)
from conformance.cloud.openstack import VOLUME_FAILED, describe_server, describe_volume
from conformance.core.cleanup import Ledger, is_not_found
from conformance.core.naming import RUN_TAG, run_id_of, run_started
from conformance.core.waiting import wait_for

ORDER = ("server", "floating_ip", "snapshot", "volume", "image", "port")
VOLUME_BUSY = {"creating", "attaching", "detaching", "extending", "downloading", "uploading", "retyping",
               "backing-up", "restoring-backup", "awaiting-transfer", "maintenance", "reserved"}
SNAPSHOT_BUSY = {"creating", "backing-up", "restoring", "unmanaging"}


class Timeouts(Protocol):
    """The named timeouts a sweep waits by (the profile's ``timeouts`` has them all)."""

    poll: float
    vm_delete: float
    volume_status: float
    disk_detach: float
    port_release: float
    floating_ip: float


@dataclass(frozen=True)
class Leftover:
    kind: str
    id: str
    name: str
    run_id: str | None
    source: str  # "ledger", "tag", "attribution", or "dependent"
    reason: str = ""
    of: str | None = None  # the resource this one is a dependent of
    after: tuple[str, ...] = ()  # ids that must be gone before this one can go
    ips: tuple[str, ...] = ()  # a server's static IPs as its create_vm asked (its ports hold them)

    def line(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        return (f"{self.kind:<12} {self.id}  {self.name or '-'}  run={self.run_id or '?'}  "
                f"(found by {self.source}{why})")

    def doc(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "name": self.name, "run_id": self.run_id,
                "source": self.source, "reason": self.reason}


@dataclass
class Outcome:
    deleted: list[Leftover] = field(default_factory=list)
    failed: list[tuple[Leftover, str]] = field(default_factory=list)


def _run_of(resource, *fields: str) -> str | None:
    meta = getattr(resource, "metadata", None) or {}
    if isinstance(meta, dict) and meta.get(RUN_TAG):
        return meta[RUN_TAG]
    for name in fields:
        found = run_id_of(getattr(resource, name, None) or "")
        if found:
            return found
    return None


def tagged(conn) -> list[Leftover]:
    """Resources in the project that carry a run id of ours."""
    found = []
    listings = (("server", conn.compute.servers, ("name",)), ("volume", conn.block_storage.volumes, ("name",)),
                ("snapshot", conn.block_storage.snapshots, ("name",)), ("image", conn.image.images, ("name",)),
                ("floating_ip", conn.network.ips, ("description",)), ("port", conn.network.ports, ("name",)))
    for kind, lister, fields in listings:
        for res in lister():
            run = _run_of(res, *fields)
            if run:
                found.append(Leftover(kind, res.id, getattr(res, "name", None) or "", run, "tag"))
    return found


def from_entries(entries: list[dict[str, Any]], reason: str = "") -> list[Leftover]:
    """What ledger entries hold as created (or kept) and not deleted; servers with their static IPs."""
    ips = answered_ips(entries)
    return [Leftover(e["kind"], e["id"], e.get("name", ""), e.get("run_id"), "ledger", reason, ips=ips.get(e["id"], ()))
            for e in Ledger.live(entries)]


def from_findings(findings: Iterable[Finding]) -> list[Leftover]:
    """Attributed findings as leftovers; the reason says which call made each one."""
    return [Leftover(f.kind, f.id, f.name, f.run_id, "attribution", f.reason) for f in findings if f.attributed]


def select(leftovers, *, run_id: str | None = None, older_than: timedelta | None = None,
           now: datetime | None = None) -> list[Leftover]:
    now = now or datetime.now(UTC)
    chosen: dict[tuple[str, str], Leftover] = {}
    for item in leftovers:
        if run_id and item.run_id != run_id:
            continue
        if older_than is not None:
            try:
                if now - run_started(item.run_id or "") < older_than:
                    continue
            except ValueError:
                continue  # no readable start time: never swept by age
        chosen.setdefault((item.kind, item.id), item)
    return _ordered(chosen.values())


def _ordered(items: Iterable[Leftover]) -> list[Leftover]:
    return sorted(items, key=lambda i: (ORDER.index(i.kind) if i.kind in ORDER else 99, i.id))


class Sweeper:
    """Deletes leftovers through the cloud API (the CPI may be the broken part), waiting by name."""

    def __init__(self, conn, timeouts: Timeouts, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = time.sleep):
        self.conn, self.timeouts = conn, timeouts
        self.clock, self.sleep = clock, sleep

    # -- what goes, in which order --------------------------------------------------------
    def plan(self, items: Iterable[Leftover]) -> tuple[list[Leftover], list[tuple[Leftover, str]]]:
        """The items plus their dependents, ordered; items whose dependents cannot be listed fail."""
        chosen: dict[tuple[str, str], Leftover] = {}
        failed: list[tuple[Leftover, str]] = []
        for item in items:
            try:
                item, extra = self._with_dependents(item)
            except Exception as exc:  # one item's listing error must not stop the others
                failed.append((item, f"could not list its dependents: {_why(exc)}"))
                continue
            chosen[(item.kind, item.id)] = item
            for dep in extra:
                chosen.setdefault((dep.kind, dep.id), dep)
        return _ordered(chosen.values()), failed

    def _with_dependents(self, item: Leftover) -> tuple[Leftover, list[Leftover]]:
        if not item.name and item.kind in self._getters():  # ledgers hold ids only: name it for the report
            found = _find(self._getters()[item.kind], item.id)
            item = replace(item, name=_name(found) if found is not None else "")
        if item.kind == "server":
            return item, self._ports_of(item)
        if item.kind == "volume":
            snaps = [Leftover("snapshot", s.id, s.name or "", item.run_id, "dependent",
                              f"snapshot of volume {item.id}", of=item.id)
                     for s in self.conn.block_storage.snapshots(details=True, volume_id=item.id)]
            return replace(item, after=item.after + tuple(s.id for s in snaps)), snaps
        return item, []

    def _ports_of(self, item: Leftover) -> list[Leftover]:
        """Ports bound to the server now (Nova unbinds them when it goes), ports named after it, and
        unbound ports holding the static IPs its create_vm asked for (the server may be gone already:
        a CPI killed half-way through delete_vm leaves its pre-created ports unbound and unnamed)."""
        ports = {p.id: p for p in self.conn.network.ports(device_id=item.id)}
        if item.name or item.ips:
            for port in self.conn.network.ports():
                named = bool(item.name) and (port.name or "").startswith(f"{item.name}-")
                holds = not port.device_id and any(f.get("ip_address") in item.ips for f in port.fixed_ips or [])
                if named or holds:
                    ports[port.id] = port
        return [Leftover("port", p.id, p.name or "", item.run_id, "dependent", f"port of server {item.id}",
                         of=item.id, after=(item.id,)) for p in ports.values()]

    def _getters(self) -> dict[str, Callable[[str], Any]]:
        conn = self.conn
        return {"server": conn.compute.get_server, "port": conn.network.get_port, "floating_ip": conn.network.get_ip,
                "snapshot": conn.block_storage.get_snapshot, "volume": conn.block_storage.get_volume,
                "image": conn.image.get_image}

    # -- deleting -------------------------------------------------------------------------
    def remove(self, items: Iterable[Leftover], on_done: Callable[[Leftover, str | None], Any] | None = None
               ) -> Outcome:
        """Plan, then delete each in turn; failures are gathered, never raised."""
        planned, failed = self.plan(items)
        return self.execute(planned, failed, on_done)

    def execute(self, planned: Iterable[Leftover], failed: Iterable[tuple[Leftover, str]] = (),
                on_done: Callable[[Leftover, str | None], Any] | None = None) -> Outcome:
        """Delete planned items in order; one whose prerequisite failed is not tried.

        ``on_done(item, None)`` after each deletion, ``on_done(item, why)`` after each failure.
        """
        outcome = Outcome(failed=list(failed))
        lost = {item.id for item, _ in outcome.failed}
        for item in planned:
            why = self._attempt(item, lost)
            if why is None:
                outcome.deleted.append(item)
            else:
                outcome.failed.append((item, why))
                lost.add(item.id)
            if on_done is not None:
                on_done(item, why)
        return outcome

    def _attempt(self, item: Leftover, lost: set[str]) -> str | None:
        """None when the item is gone, else why not."""
        blocked = [rid for rid in item.after if rid in lost]
        if blocked:
            return f"not tried: {blocked[0]} could not be deleted before it"
        try:
            self.delete(item)
        except Exception as exc:  # go on with the others; the caller reports every failure
            return _why(exc)
        return None

    def delete(self, item: Leftover) -> None:
        """Delete one resource and wait until it is gone; raises what stopped it."""
        handlers = {"server": self._server, "port": self._port, "floating_ip": self._floating_ip,
                    "snapshot": self._snapshot, "volume": self._volume, "image": self._image}
        if item.kind not in handlers:
            raise ValueError(f"cannot sweep a {item.kind}")
        handlers[item.kind](item.id)

    def _server(self, rid: str) -> None:
        compute = self.conn.compute
        if _find(compute.get_server, rid) is None:
            return
        compute.delete_server(rid, ignore_missing=True)
        self._wait(lambda: _find(compute.get_server, rid), lambda s: s is None or s.status == "DELETED",
                   None, describe_server, "vm_delete", f"Nova server {rid} to be gone")

    def _port(self, rid: str) -> None:
        self.conn.network.delete_port(rid, ignore_missing=True)
        self._gone(self.conn.network.get_port, rid, "port_release", f"Neutron port {rid} to be gone")

    def _floating_ip(self, rid: str) -> None:
        self.conn.network.delete_ip(rid, ignore_missing=True)
        self._gone(self.conn.network.get_ip, rid, "floating_ip", f"floating IP {rid} to be gone")

    def _image(self, rid: str) -> None:
        self.conn.image.delete_image(rid, ignore_missing=True)  # synchronous in Glance: nothing to wait for

    def _snapshot(self, rid: str) -> None:
        storage = self.conn.block_storage
        snap = self._settled(storage.get_snapshot, rid, SNAPSHOT_BUSY, f"Cinder snapshot {rid} to settle")
        if snap is None:
            return
        if snap.status != "deleting":
            storage.delete_snapshot(snap, ignore_missing=True)
        self._gone(storage.get_snapshot, rid, "volume_status", f"Cinder snapshot {rid} to be gone")

    def _volume(self, rid: str) -> None:
        storage = self.conn.block_storage
        volume = self._settled(storage.get_volume, rid, VOLUME_BUSY, f"Cinder volume {rid} to settle")
        if volume is None:
            return
        if volume.status != "deleting":
            volume = self._detached(volume)
            storage.delete_volume(volume, ignore_missing=True)
        self._wait(lambda: _find(storage.get_volume, rid), lambda v: v is None,
                   lambda v: v.status in VOLUME_FAILED and describe_volume(v), describe_volume, "volume_status",
                   f"Cinder volume {rid} to be gone")

    def _detached(self, volume):
        """Detach through Nova from every server the volume is attached to; wait until available."""
        servers = sorted({a["server_id"] for a in volume.attachments or [] if a.get("server_id")})
        if not servers:
            return volume
        for server_id in servers:
            self.conn.compute.delete_volume_attachment(server_id, volume, ignore_missing=True)
        return self._wait(lambda: _find(self.conn.block_storage.get_volume, volume.id),
                          lambda v: v is None or (v.status == "available" and not v.attachments),
                          lambda v: v.status in VOLUME_FAILED and describe_volume(v), describe_volume,
                          "disk_detach", f"Cinder volume {volume.id} to be detached from {servers}") or volume

    # -- waits ----------------------------------------------------------------------------
    def _settled(self, getter, rid: str, busy: set[str], what: str):
        """The resource once it leaves a transitional state (None when it went away meanwhile)."""
        return self._wait(lambda: _find(getter, rid), lambda r: r is None or r.status not in busy, None,
                          _describe, "volume_status", what)

    def _gone(self, getter, rid: str, timeout: str, what: str) -> None:
        self._wait(lambda: _find(getter, rid), lambda r: r is None, None, _describe, timeout, what)

    def _wait(self, probe, ready, failed, describe, timeout: str, what: str):
        return wait_for(probe, ready=ready, failed=failed,
                        describe=lambda r: "gone" if r is None else describe(r),
                        timeout=float(getattr(self.timeouts, timeout)), interval=float(self.timeouts.poll),
                        what=f"{what} (timeouts.{timeout})", kind="cloud", clock=self.clock, sleep=self.sleep)


def delete(conn, item: Leftover, timeouts: Timeouts) -> None:
    """Delete one resource (no dependents) and wait until it is gone."""
    Sweeper(conn, timeouts).delete(item)


def remove(conn, items: Iterable[Leftover], timeouts: Timeouts) -> Outcome:
    """Delete the items and their dependents, each in turn; failures are gathered, not raised."""
    return Sweeper(conn, timeouts).remove(items)


def reap_calls(conn, ledger_path: str | os.PathLike, request_ids: Iterable[str], known_ids: Iterable[str],
               timeouts: Timeouts, *, skew: float = 30.0
               ) -> tuple[list[Finding], list[tuple[Finding, str]], list[Finding]]:
    """Delete what the given CPI calls created without a usable answer: (deleted, failed, unattributed).

    Every suspect call of the ledger takes part in the attribution (another worker's call still in
    progress makes a claim ambiguous), but only what ``request_ids`` made is deleted; a resource
    that cannot be attributed is returned, never deleted.
    """
    wanted = set(request_ids)
    entries = Ledger.read(ledger_path)
    known = set(known_ids) | ledger_ids(entries)
    windows = suspect_calls(entries)
    if not any(w.request_id in wanted for w in windows):
        return [], [], []
    findings = attribute(openstack_inventory(conn), windows, known, skew=skew)
    mine = [f for f in findings if f.attributed and f.request_id in wanted]
    unattributed = [f for f in findings if not f.attributed and wanted & set(f.during)]
    outcome = remove(conn, from_findings(mine), timeouts)
    by_id = {f.id: f for f in mine}

    def as_finding(item: Leftover) -> Finding:
        return by_id.get(item.id) or _dependent_finding(item, by_id)

    return ([as_finding(i) for i in outcome.deleted], [(as_finding(i), why) for i, why in outcome.failed],
            unattributed)


def _dependent_finding(item: Leftover, by_id: dict[str, Finding]) -> Finding:
    parent = by_id.get(item.of or "")
    return Finding(item.kind, item.id, item.name, parent.request_id if parent else None,
                   parent.method if parent else None, item.run_id or "", item.reason, True)


def _find(getter, rid: str):
    try:
        return getter(rid)
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise


def _name(resource) -> str:
    return getattr(resource, "name", None) or getattr(resource, "floating_ip_address", None) or ""


def _describe(resource) -> str:
    return f"status={getattr(resource, 'status', None)}"


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]
