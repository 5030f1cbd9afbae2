"""`conformance local-cloud status`: every daemon (pid file alive), every endpoint, the safety rules.

Prints one row per check and exits 0 only when every check passes. Used by the test fixtures to
decide whether the cloud tier can run.
"""

from __future__ import annotations

import grp
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from conformance.localcloud import daemons, hostnet, services
from conformance.localcloud.layout import Layout
from conformance.localcloud.passwords import Passwords
from conformance.localcloud.steps_compute import NEUTRON_AGENTS
from conformance.localcloud.surfaces import wiring as surfaces


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    seconds: float = 0.0


def process_checks(layout: Layout) -> list[Check]:
    rows = []
    for daemon in (*services.ALL, *surfaces.DAEMONS):
        pid = daemons.running(layout, daemon)
        rows.append(Check(f"process {daemon.name}", pid is not None, f"pid {pid}" if pid else "not running"))
    return rows


def timed(name: str, probe: Callable[[], str]) -> Check:
    """Run one endpoint probe; any exception is the failure's detail (first line, passwords masked
    by the caller)."""
    t0 = time.monotonic()
    try:
        return Check(name, True, probe(), time.monotonic() - t0)
    except Exception as exc:  # a status row reports whatever went wrong
        first = (str(exc).splitlines() or [""])[0][:160]
        return Check(name, False, f"{type(exc).__name__}: {first}", time.monotonic() - t0)


def endpoint_checks(layout: Layout, pw: Passwords) -> list[Check]:
    from conformance.localcloud.context import Context

    conn = Context(layout, pw).admin()
    rows = [timed("keystone token", lambda: f"token issued, {len(conn.auth_token)} chars")]
    if not rows[0].ok:
        return rows
    rows += [
        timed("nova API", lambda: f"{len(list(conn.compute.flavors()))} flavors"),
        timed("neutron API", lambda: f"{len(list(conn.network.networks()))} networks"),
        timed("cinder API", lambda: f"{len(list(conn.block_storage.types()))} volume types"),
        timed("glance API", lambda: f"{len(list(conn.image.images()))} images"),
        timed("placement API", lambda: placement_probe(conn)),
        timed("neutron agents alive", lambda: agents_probe(conn)),
        timed("nova-compute up", lambda: service_probe(conn.compute, "nova-compute")),
        timed("cinder-volume up", lambda: service_probe(conn.block_storage, "cinder-volume")),
    ]
    return rows + surfaces.status_rows(timed)


def placement_probe(conn) -> str:
    providers = list(conn.placement.resource_providers())
    if not providers:
        raise RuntimeError("no resource providers (nova-compute not reporting)")
    return f"{len(providers)} resource provider(s)"


def agents_probe(conn) -> str:
    alive = {a.agent_type for a in conn.network.agents() if a.is_alive}
    missing = [t for t in NEUTRON_AGENTS if t not in alive]
    if missing:
        raise RuntimeError(f"not alive: {missing}")
    return ", ".join(sorted(alive))


def service_probe(proxy, binary: str) -> str:
    states = [f"{s.host}:{s.state}/{s.status}" for s in proxy.services() if s.binary == binary]
    if not any(st.endswith("up/enabled") for st in states):
        raise RuntimeError(f"{binary}: {states or 'not registered'}")
    return ", ".join(states)


def safety_check() -> Check:
    problems = hostnet.safety_problems()
    return Check("safety: no forward/NAT", not problems, "; ".join(problems) or "ip_forward=0, drop rule, no NAT")


LIBVIRT_CACHED_SECONDS = 2.0  # a cached answer takes milliseconds; a qemu probe takes seconds
DOMCAPABILITIES = ("virsh", "-c", "qemu:///system", "domcapabilities", "--virttype", "qemu")


def libvirt_caps_check(run=None) -> Check:
    """libvirtd answers qemu's capabilities from its cache. When the cache is invalid on every call
    (seen when /dev/kvm changed group under libvirtd), libvirtd probes qemu again for each request
    and every create_vm takes minutes instead of seconds."""
    run = run or (lambda: subprocess.run(DOMCAPABILITIES, capture_output=True, timeout=120, stdin=subprocess.DEVNULL))

    def probe() -> str:
        run()  # may probe once (a fresh libvirtd)
        t0 = time.monotonic()
        done = run()
        took = time.monotonic() - t0
        if done.returncode != 0:
            raise RuntimeError(f"virsh domcapabilities exited {done.returncode}")
        if took > LIBVIRT_CACHED_SECONDS:
            raise RuntimeError(f"{took:.1f}s for a second domcapabilities: libvirtd re-probes qemu on every call "
                               f"(/dev/kvm: {_owner('/dev/kvm')}; changed since libvirtd started?)")
        return f"{took * 1000:.0f} ms"

    return timed("libvirt qemu capabilities cached", probe)


def _owner(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return "absent"
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return f"group {group}, mode {st.st_mode & 0o777:o}"


def collect(layout: Layout) -> list[Check]:
    if not layout.secrets.exists():
        return [Check("state dir", False, f"no {layout.secrets}: run `conformance local-cloud up`")]
    pw = Passwords.load_or_create(layout.secrets)
    rows = process_checks(layout) + [safety_check(), libvirt_caps_check()]
    rows += endpoint_checks(layout, pw)
    return [Check(r.name, r.ok, pw.redact(r.detail), r.seconds) for r in rows]


def render(rows: list[Check]) -> str:
    width = max(len(r.name) for r in rows)
    lines = [f"{'check'.ljust(width)}  state  detail"]
    for r in rows:
        timing = f" ({r.seconds:.2f}s)" if r.seconds else ""
        lines.append(f"{r.name.ljust(width)}  {'ok  ' if r.ok else 'FAIL'}   {r.detail}{timing}")
    failed = [r.name for r in rows if not r.ok]
    lines.append(f"{len(rows) - len(failed)}/{len(rows)} ok" + (f"; failing: {', '.join(failed)}" if failed else ""))
    return "\n".join(lines)


def run(layout: Layout, out=sys.stdout) -> int:
    rows = collect(layout)
    print(render(rows), file=out)
    return 0 if all(r.ok for r in rows) else 1
