"""Which worker runs which tests, planned before any runs, so that each worker knows its whole list
and can prepare the VMs it will need ahead (conformance.run.prepare).

A test declares the VMs it boots with ``@pytest.mark.boots(**spec)`` (one marker per VM; the spec is
lab.boot_vm's keywords) and uses the session VMs by name (``shared_vm``, ``peer_vm``). Each worker
writes what its collection needs to ``needs.json`` in the run folder; the xdist controller's
scheduler (PlannedScheduling, loadscope's units: a module's tests stay on one worker) reads it,
gives each worker whole modules by their estimated cost (longest first, to the worker where it ends
soonest), sends each worker all of its tests at once, in the planned order (what needs no VM
first), and writes the plan to ``schedule.json`` (which worker runs what, and the estimates it was
made from). A worker reads its list there; a
run without xdist runs its collection in order. No plan (a file missing, another --dist): the
worker knows no list and boots every VM when its test asks, as before.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The fixtures that are VMs shared by the tests of a worker (conformance.run.fixtures).
SESSION_VMS = ("shared_vm", "peer_vm")
NEEDS_FILE = "needs.json"
SCHEDULE_FILE = "schedule.json"
#: Estimates the plan is made from (seconds, on the local cloud under TCG): a test's own work, and a
#: VM's boot to SSH (a session VM counts once per module that uses it: the module may run anywhere).
TEST_COST = 4.0
BOOT_COST = 35.0


@dataclass(frozen=True)
class Need:
    """One VM a worker will need: ``key`` is "shared_vm", "peer_vm", or "<nodeid>#<i>" (the i-th VM
    the test boots); ``nodeid`` the first test that uses it; ``spec`` lab.boot_vm's keywords."""
    key: str
    nodeid: str
    spec: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __str__(self) -> str:
        """How messages name it: "shared_vm (first used by test_x)", "VM 1 of test_y"."""
        test = self.nodeid.rsplit("::", 1)[-1]
        if "#" not in self.key:
            return f"{self.key} (first used by {test})"
        return f"VM {int(self.key.rsplit('#', 1)[1]) + 1} of {test}"


def scope_of(nodeid: str) -> str:
    """xdist loadscope's unit: the nodeid up to its last ``::`` (the module, or the class)."""
    return nodeid.rsplit("::", 1)[0]


def item_needs(item) -> dict[str, Any]:
    """What one collected test needs: the specs of the VMs it boots, the session VMs it uses. A
    test that will be skipped (an unmet ``requires``) needs nothing."""
    if any(m.name == "skip" for m in item.iter_markers()):
        return {"boots": [], "uses": [], "stemcell": False}
    boots = [dict(m.kwargs) for m in reversed(list(item.iter_markers("boots")))]  # in the order written
    names = getattr(item, "fixturenames", ())
    uses = [name for name in SESSION_VMS if name in names]
    return {"boots": boots, "uses": uses, "stemcell": "stemcell" in names}


def write_needs(report_dir: Path, items) -> dict[str, dict[str, Any]]:
    """``needs.json``: every collected test's needs, by nodeid (written whole, atomically: every
    worker writes the same)."""
    needs = {item.nodeid: item_needs(item) for item in items}
    _write_json(Path(report_dir) / NEEDS_FILE, needs)
    return needs


def plan(collection: list[str], needs: dict[str, dict[str, Any]], workers: int) -> list[list[str]]:
    """Each worker's tests, in the order it runs them.

    Units are loadscope's (a module's tests go to one worker). The most expensive unit goes first,
    to the worker where it ends soonest: a session VM (shared_vm, peer_vm) costs a boot only on a
    worker that does not have it yet, so the modules that use one gather where it is, when that
    keeps the workers even (ties: the lower index). A worker runs its tests that need no VM first
    (those that use the stemcell before the others: preparing starts with the first of them), while
    the VMs of the others are prepared, then the others, unit by unit in the order given."""
    units: dict[str, list[str]] = {}
    for nodeid in collection:
        units.setdefault(scope_of(nodeid), []).append(nodeid)
    own = {scope: TEST_COST * len(ids) + BOOT_COST * sum(len((needs.get(i) or {}).get("boots", [])) for i in ids)
           for scope, ids in units.items()}
    uses = {scope: {u for i in ids for u in (needs.get(i) or {}).get("uses", [])} for scope, ids in units.items()}
    load = [0.0] * max(1, workers)
    has: list[set[str]] = [set() for _ in load]
    given: list[list[str]] = [[] for _ in load]
    for scope in sorted(units, key=lambda s: -(own[s] + BOOT_COST * len(uses[s]))):  # stable: ties in collection order
        ends = [load[w] + own[scope] + BOOT_COST * len(uses[scope] - has[w]) for w in range(len(load))]
        w = min(range(len(load)), key=lambda i: (ends[i], i))
        given[w].append(scope)
        load[w], has[w] = ends[w], has[w] | uses[scope]
    out = []
    for scopes in given:
        ids = [nodeid for s in scopes for nodeid in units[s]]
        # the stemcell's users first: preparing starts with the first of them (conformance.run.fixtures)
        free = sorted((i for i in ids if not _needs_vm(needs.get(i))),
                      key=lambda i: not (needs.get(i) or {}).get("stemcell"))
        out.append(free + [i for i in ids if _needs_vm(needs.get(i))])
    return out


def _needs_vm(needs: dict[str, Any] | None) -> bool:
    return bool(needs and (needs.get("boots") or needs.get("uses")))


def worker_needs(order: list[str], needs: dict[str, dict[str, Any]]) -> list[Need]:
    """The VMs a worker will need, in the order its tests first ask for them."""
    out: list[Need] = []
    seen: set[str] = set()
    for nodeid in order:
        n = needs.get(nodeid) or {}
        for name in n.get("uses", []):
            if name not in seen:
                seen.add(name)
                out.append(Need(name, nodeid, {}))
        for i, spec in enumerate(n.get("boots", [])):
            out.append(Need(f"{nodeid}#{i}", nodeid, dict(spec)))
    return out


def read_schedule(report_dir: Path, worker: str) -> list[str] | None:
    """This worker's planned tests, in order; None without a plan."""
    try:
        doc = json.loads((Path(report_dir) / SCHEDULE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    order = (doc.get("workers") or {}).get(worker)
    return list(order) if isinstance(order, list) else None


def _write_json(path: Path, doc: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def make_scheduler(config, log, report_dir: Path):
    """xdist's scheduler for a conformance run with ``--dist loadscope``: PlannedScheduling."""
    from xdist.scheduler import LoadScopeScheduling

    class PlannedScheduling(LoadScopeScheduling):
        """loadscope, planned: every worker gets all of its modules at once, as ``plan`` gives them."""

        def schedule(self) -> None:
            if self.collection is not None:  # a later call (a worker came up late): as loadscope
                return super().schedule()
            needs_path = Path(report_dir) / NEEDS_FILE
            try:
                needs = json.loads(needs_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.log(f"no {needs_path}: scheduling as loadscope")
                return super().schedule()
            if not self._check_nodes_have_same_collection():
                self.log("**Different tests collected, aborting run**")
                return
            self.collection = list(next(iter(self.registered_collections.values())))
            if not self.collection:
                return
            nodes = sorted(self.nodes, key=lambda n: _gateway_index(n))
            planned = plan(self.collection, needs, len(nodes))
            _write_json(Path(report_dir) / SCHEDULE_FILE, {
                "workers": {n.gateway.id: planned[i] for i, n in enumerate(nodes)},
                "estimates": {"test_cost": TEST_COST, "boot_cost": BOOT_COST}})
            for i, node in enumerate(nodes):
                order = planned[i]
                if not order:
                    node.shutdown()
                    continue
                for nodeid in order:
                    unit = self.assigned_work.setdefault(node, {}).setdefault(scope_of(nodeid), {})
                    unit[nodeid] = False
                collection = self.registered_collections[node]
                node.send_runtest_some([collection.index(nodeid) for nodeid in order])
                node.shutdown()  # everything it will run is sent: it ends after the last

    return PlannedScheduling(config, log)


def _gateway_index(node) -> int:
    gid = str(getattr(getattr(node, "gateway", None), "id", "gw0"))
    return int(gid[2:]) if gid[2:].isdigit() else 0
