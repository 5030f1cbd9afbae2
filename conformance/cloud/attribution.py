"""Which leftover resources a CPI created in a call that never answered usably.

CPIs name their resources themselves (``vm-<uuid>``, ``volume-<uuid>``, ``BOSH-<uuid>``), so a
resource from a create call that failed after the fact, answered in the wrong shape, timed out or
was cut off by a killed run carries no run tag and is in no ledger. The run's call journal (kind
"call" lines in ledger.jsonl) says when such a call ran and what it was asked for (static IPs,
stemcell, disk, size); a resource created inside that window which matches those hints is the
call's. Strong evidence (a static IP, a binding to an attributed server, the snapshotted disk)
beats weak evidence (the stemcell image, the disk size, "an image appeared"); a resource that two
calls claim with equal strength, or that no rule explains, is reported and never deleted.

Everything here is pure except ``openstack_inventory``, the one adapter to openstacksdk.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

CREATING = ("create_stemcell", "create_vm", "create_disk", "snapshot_disk")
INFRA_PORT_OWNERS = {"network:router_interface", "network:router_gateway", "network:dhcp", "network:floatingip"}
STRONG, WEAK = 2, 1
_OUTCOMES = {"error": "answered error", "broken": "answered badly", "timeout": "timed out",
             "not-runnable": "could not run", "interrupted": "interrupted"}
_KIND_ORDER = {"server": 0, "port": 1, "volume": 2, "snapshot": 3, "image": 4}


@dataclass(frozen=True)
class CallWindow:
    """One creating CPI call whose result never reached the ledger, and when it could have acted."""

    request_id: str
    method: str
    worker: str
    run_id: str
    started_at: float
    ended_at: float | None  # None: cut off (the run was killed mid-call)
    outcome: str | None
    hints: Mapping[str, Any]
    timeout: float = 900.0

    @property
    def key(self) -> tuple[str, str]:
        """Request ids are six random digits: unique within a run, not across runs."""
        return self.run_id, self.request_id

    def end(self) -> float:
        """A cut-off call's CPI may outlive the run up to its own timeout."""
        return self.ended_at if self.ended_at is not None else self.started_at + self.timeout

    def contains(self, ts: float | None, skew: float) -> bool:
        return ts is not None and self.started_at - skew <= ts <= self.end() + skew

    def label(self) -> str:
        said = _OUTCOMES.get(self.outcome or "", f"answered {self.outcome}") if self.outcome else "cut off"
        return f"{self.method} {self.request_id} ({said})"


@dataclass(frozen=True)
class Seen:
    """One resource of the project as plain values (created_at: epoch seconds, None when unknown)."""

    kind: str
    id: str
    name: str
    created_at: float | None
    attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    kind: str
    id: str
    name: str
    request_id: str | None
    method: str | None
    run_id: str
    reason: str
    attributed: bool
    during: tuple[str, ...] = ()  # request ids of every call window it was created in


def ledger_ids(entries: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every id a ledger names: its resources, its requests, and the cids that creating calls
    answered with (a resource a call answered for is never a stranger, even in the moment before
    its test registers it for cleanup)."""
    return {str(e[key]) for e in entries for key in ("id", "result_id") if e.get(key)}


def answered_ips(entries: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """server cid -> the static IPs its create_vm asked for (from the call journal): the ports a CPI
    made for those IPs are the server's even once the server is gone and they are unbound."""
    asked = {e["id"]: tuple((e.get("hints") or {}).get("ips") or ()) for e in entries
             if e.get("event") == "call-started" and e.get("method") == "create_vm"}
    return {str(e["result_id"]): asked.get(e["id"], ()) for e in entries
            if e.get("event") == "call-ended" and e.get("result_id") and asked.get(e["id"])}


def suspect_calls(entries: Iterable[Mapping[str, Any]], *, default_timeout: float = 900.0) -> list[CallWindow]:
    """Creating calls that started and either never ended or ended with an unusable answer."""
    started: dict[tuple[str, str], Mapping[str, Any]] = {}
    ended: dict[tuple[str, str], Mapping[str, Any]] = {}
    for entry in entries:
        if entry.get("kind") != "call" or entry.get("method") not in CREATING:
            continue
        key = (str(entry.get("run_id")), str(entry.get("id")))
        if entry.get("event") == "call-started":
            started[key] = entry
        elif entry.get("event") == "call-ended":
            ended[key] = entry
    windows = []
    for key, start in started.items():
        end = ended.get(key)
        if end is not None and end.get("usable"):
            continue
        windows.append(CallWindow(
            request_id=key[1], method=start["method"], worker=str(start.get("worker", "")), run_id=key[0],
            started_at=float(start["ts"]), ended_at=float(end["ts"]) if end else None,
            outcome=end.get("outcome") if end else None,
            hints=start["hints"] if isinstance(start.get("hints"), Mapping) else {},
            timeout=float(start.get("timeout") or default_timeout)))
    return sorted(windows, key=lambda w: w.started_at)


def epoch(text: str | None) -> float | None:
    """ISO 8601 as the APIs give it (Z, an offset, or none at all, which means UTC) to epoch seconds."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def attribute(inventory: Iterable[Seen], windows: Sequence[CallWindow], known_ids: Iterable[str], *,
              skew: float = 30.0) -> list[Finding]:
    """A Finding for every unknown resource created inside some window: attributed, or why not."""
    known = set(known_ids)
    seen = list(inventory)
    known_names = {s.name for s in seen if s.kind == "server" and s.id in known and s.name}
    fresh = [s for s in seen if s.id not in known and not _belongs_to_known(s, known, known_names)]
    servers: dict[tuple[str, str], list[Seen]] = {}  # (run, request id) -> servers attributed to that call
    findings = []
    for res in sorted(fresh, key=lambda s: _KIND_ORDER.get(s.kind, 9)):
        inside = [w for w in windows if w.contains(res.created_at, skew)]
        if not inside:
            continue
        finding = _decide(res, inside, [(w, *m) for w in inside if (m := _match(res, w, servers))])
        if finding.attributed and res.kind == "server":
            servers.setdefault((finding.run_id, finding.request_id or ""), []).append(res)
        findings.append(finding)
    return findings


def _belongs_to_known(res: Seen, known: set[str], known_server_names: set[str]) -> bool:
    """A port or volume of a server some ledger holds: that server's sweep handles it."""
    if res.kind == "port":
        return res.attrs.get("device_id") in known or any(
            res.name.startswith(f"{name}-") for name in known_server_names)
    return res.kind == "volume" and bool(set(res.attrs.get("server_ids") or ()) & known)


def _decide(res: Seen, inside: list[CallWindow], matches: list[tuple[CallWindow, int, str]]) -> Finding:
    during = tuple(w.request_id for w in inside)
    best = max((strength for _, strength, _ in matches), default=0)
    top = [(w, why) for w, strength, why in matches if strength == best]
    if len({w.key for w, _ in top}) == 1:
        window, why = top[0]
        return Finding(res.kind, res.id, res.name, window.request_id, window.method, window.run_id, why, True,
                       during)
    if top:
        why = "; ".join(f"{w.label()}: {reason}" for w, reason in top)
        return Finding(res.kind, res.id, res.name, None, None, top[0][0].run_id,
                       f"claimed by several calls alike ({why})", False, during)
    hints = "; ".join(f"{w.label()}: {_hint_text(w)}" for w in inside)
    return Finding(res.kind, res.id, res.name, None, None, inside[0].run_id,
                   f"created during {', '.join(w.label() for w in inside)} but matches none of "
                   f"{'its' if len(inside) == 1 else 'their'} hints ({hints})", False, during)


def _match(res: Seen, w: CallWindow, servers: Mapping[tuple[str, str], list[Seen]]) -> tuple[int, str] | None:
    """(strength, reason) when ``res`` is what call ``w`` would have created, else None."""
    rule = _RULES.get((w.method, res.kind))
    return rule(res, w, servers.get(w.key, [])) if rule else None


def _vm_server(res: Seen, w: CallWindow, _mine: list[Seen]) -> tuple[int, str] | None:
    if ip := _held_ip(res, w):
        return STRONG, f"server holds {ip}, a static IP of {w.label()}"
    stemcell = w.hints.get("stemcell_cid")
    if stemcell and res.attrs.get("image_id") == stemcell:
        return WEAK, f"server boots image {stemcell}, the stemcell of {w.label()}"
    return None


def _vm_port(res: Seen, w: CallWindow, mine: list[Seen]) -> tuple[int, str] | None:
    if ip := _held_ip(res, w):
        return STRONG, f"port holds {ip}, a static IP of {w.label()}"
    for server in mine:
        if res.attrs.get("device_id") == server.id:
            return STRONG, f"port is bound to server {server.id}, attributed to {w.label()}"
        if server.name and res.name.startswith(f"{server.name}-"):
            return STRONG, f"port is named after server {server.name}, attributed to {w.label()}"
    return None


def _vm_volume(res: Seen, w: CallWindow, mine: list[Seen]) -> tuple[int, str] | None:
    boots = sorted(set(res.attrs.get("server_ids") or ()) & {s.id for s in mine})
    return (STRONG, f"volume is attached to server {boots[0]}, attributed to {w.label()} (its boot volume)"
            ) if boots else None


def _disk_volume(res: Seen, w: CallWindow, _mine: list[Seen]) -> tuple[int, str] | None:
    """A new disk is attached to nothing (a volume attached to an unknown server is more likely its boot disk)."""
    size = _gib(w.hints.get("size_mib"))
    if size is None or res.attrs.get("size") != size or res.attrs.get("server_ids"):
        return None
    return WEAK, f"volume of {size} GiB, the size {w.label()} asked for ({w.hints['size_mib']} MiB)"


def _disk_snapshot(res: Seen, w: CallWindow, _mine: list[Seen]) -> tuple[int, str] | None:
    disk = w.hints.get("disk_cid")
    return (STRONG, f"snapshot of volume {disk}, the disk of {w.label()}"
            ) if disk and res.attrs.get("volume_id") == disk else None


def _stemcell_image(res: Seen, w: CallWindow, _mine: list[Seen]) -> tuple[int, str] | None:
    return WEAK, f"image owned by the project, created during {w.label()}"


_RULES = {("create_vm", "server"): _vm_server, ("create_vm", "port"): _vm_port, ("create_vm", "volume"): _vm_volume,
          ("create_disk", "volume"): _disk_volume, ("snapshot_disk", "snapshot"): _disk_snapshot,
          ("create_stemcell", "image"): _stemcell_image}


def _held_ip(res: Seen, w: CallWindow) -> str | None:
    held = set(_strings(res.attrs.get("ips")))
    return next((ip for ip in _strings(w.hints.get("ips")) if ip in held), None)


def _gib(size_mib: Any) -> int | None:
    """The CPI's rounding: whole GiB, at least 1 (None for a size that is no number: a hostile test's)."""
    if isinstance(size_mib, bool) or not isinstance(size_mib, int | float) or not math.isfinite(size_mib):
        return None
    return max(1, math.ceil(size_mib / 1024))


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list | tuple) else []


def _hint_text(w: CallWindow) -> str:
    hints = w.hints
    if w.method == "create_vm":
        return f"static IPs {list(hints.get('ips') or [])}, stemcell {hints.get('stemcell_cid')}"
    if w.method == "create_disk":
        return f"a volume of {hints.get('size_mib')} MiB"
    if w.method == "snapshot_disk":
        return f"a snapshot of volume {hints.get('disk_cid')}"
    return "an image owned by the project"


def openstack_inventory(conn) -> list[Seen]:
    """Servers, ports (no router/DHCP/floating IP ports), volumes, snapshots and the project's images."""
    seen = [Seen("server", s.id, s.name or "", epoch(s.created_at),
                 {"image_id": _get(s.image, "id"), "ips": _server_ips(s.addresses)})
            for s in conn.compute.servers()]
    seen += [Seen("port", p.id, p.name or "", epoch(p.created_at),
                  {"ips": [ip["ip_address"] for ip in p.fixed_ips or []], "device_id": p.device_id or None,
                   "device_owner": p.device_owner, "network_id": p.network_id})
             for p in conn.network.ports() if p.device_owner not in INFRA_PORT_OWNERS]
    seen += [Seen("volume", v.id, v.name or "", epoch(v.created_at),
                  {"size": v.size, "status": v.status,
                   "server_ids": [a.get("server_id") for a in v.attachments or [] if a.get("server_id")]})
             for v in conn.block_storage.volumes()]
    seen += [Seen("snapshot", s.id, s.name or "", epoch(s.created_at), {"volume_id": s.volume_id, "status": s.status})
             for s in conn.block_storage.snapshots()]
    project = conn.current_project_id
    seen += [Seen("image", i.id, i.name or "", epoch(i.created_at),
                  {"disk_format": i.disk_format, "container_format": i.container_format})
             for i in conn.image.images(owner=project) if i.owner == project]
    return seen


def _get(value: Any, key: str) -> Any:
    """A field of a dict or of an openstacksdk resource (a boot-from-volume server's image is {})."""
    return value.get(key) if isinstance(value, Mapping) else getattr(value, key, None)


def _server_ips(addresses: Mapping[str, list] | None) -> list[str]:
    return [a["addr"] for entries in (addresses or {}).values() for a in entries if a.get("addr")]
