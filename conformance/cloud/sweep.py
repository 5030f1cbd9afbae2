"""Find and remove what killed runs left behind: by ledger, and by the run tag / name prefix.

Every resource the suite creates is in a ledger (reports/<run>/ledger.jsonl) at once; resources
that can carry it also have the run id in their name, metadata or description. A sweep lists
candidates first (``--dry-run`` stops there) and deletes in an order that frees dependencies:
servers (and their ports), floating IPs, snapshots, volumes, images.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from conformance.cleanup import Ledger
from conformance.naming import RUN_TAG, run_id_of, run_started

log = logging.getLogger("conformance.sweep")
ORDER = ("server", "floating_ip", "snapshot", "volume", "image", "port")


@dataclass(frozen=True)
class Leftover:
    kind: str
    id: str
    name: str
    run_id: str | None
    source: str  # "ledger" or "tag"

    def line(self) -> str:
        return f"{self.kind:<12} {self.id}  {self.name or '-'}  run={self.run_id or '?'}  (found by {self.source})"


def _run_of(resource, *fields: str) -> str | None:
    meta = getattr(resource, "metadata", None) or {}
    if isinstance(meta, dict) and meta.get(RUN_TAG):
        return meta[RUN_TAG]
    for field in fields:
        found = run_id_of(getattr(resource, field, None) or "")
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


def from_ledgers(paths) -> list[Leftover]:
    """What each ledger holds as created (or kept) and not deleted."""
    return [Leftover(e["kind"], e["id"], e.get("name", ""), e.get("run_id"), "ledger")
            for path in paths for e in Ledger.outstanding(path)]


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
    return sorted(chosen.values(), key=lambda i: (ORDER.index(i.kind) if i.kind in ORDER else 99, i.id))


def delete(conn, item: Leftover) -> None:
    """Delete one leftover straight through the cloud API (the CPI may be the broken part)."""
    if item.kind == "server":
        server = _get(conn.compute.get_server, item.id)
        if server is not None:
            conn.compute.delete_server(server, ignore_missing=True)
            conn.compute.wait_for_delete(server, wait=300)
        for port in conn.network.ports(device_id=item.id):
            conn.network.delete_port(port.id, ignore_missing=True)
    elif item.kind == "floating_ip":
        conn.network.delete_ip(item.id, ignore_missing=True)
    elif item.kind == "snapshot":
        conn.block_storage.delete_snapshot(item.id, ignore_missing=True)
    elif item.kind == "volume":
        conn.block_storage.delete_volume(item.id, ignore_missing=True, force=True)
    elif item.kind == "image":
        conn.image.delete_image(item.id, ignore_missing=True)
    elif item.kind == "port":
        conn.network.delete_port(item.id, ignore_missing=True)
    else:
        raise ValueError(f"cannot sweep a {item.kind}")


def _get(getter, rid):
    from openstack import exceptions

    try:
        return getter(rid)
    except exceptions.NotFoundException:
        return None

