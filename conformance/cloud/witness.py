"""The witness seam: what a suite may ask of a cloud, in plain values, and who answered.

A *witness* reads, never writes, one view of the cloud: the OpenStack witness asks Nova, Neutron,
Cinder and Glance (conformance.cloud.openstack); the libvirt witness asks the hypervisor on the
compute host (conformance.cloud.libvirt). A profile names one or more (``witnesses``); none is
fine too: every test still makes its CPI and guest checks, and the report says which cloud checks
were not made.

Each question is a method of :class:`Witness`. A witness answers the ones it can see and raises
:class:`NotWitnessed` for the rest (the base class does that for every method). Answers are plain
views (:class:`Server`, :class:`Nic`, :class:`Volume`, ...); a field a witness cannot see is
``UNSEEN``, and reading it raises NotWitnessed too, so a check never compares against a guess.
Waits take no timeout: each witness binds the profile's named timeouts when it is built, and each
wait's message names the timeout it used.

Suites reach witnesses only through :class:`CloudChecks` (the ``cloud`` fixture): one check, made
by every witness that sees it, recorded per test with who made it::

    for seen in cloud.checks("the volume is 2 GiB after resize_disk"):
        with seen as w:
            assert w.volume(disk).size_gib == 2

A witness registers under the entry point group ``cpi_conformance.witnesses`` (name -> class);
the class is built as ``cls(profile, options)``. docs/witnesses.md is the guide.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from conformance.core.errors import ProfileError
from conformance.core.waiting import spent, wait_for

log = logging.getLogger("conformance.cloud")
T = TypeVar("T")
#: The entry point group a witness registers under (name -> class).
ENTRY_POINTS = "cpi_conformance.witnesses"


class NotWitnessed(Exception):
    """A witness cannot see what it was asked about (not an error of the cloud or the CPI)."""

    def __init__(self, witness: str, what: str):
        super().__init__(f"{witness} does not see {what}")
        self.witness, self.what = witness, what


class _Unseen:
    def __repr__(self) -> str:
        return "UNSEEN"

    def __bool__(self) -> bool:
        raise TypeError("UNSEEN has no truth value: read the field through the view (it raises NotWitnessed)")


#: A field of a view that its witness cannot see.
UNSEEN: Any = _Unseen()


class View:
    """A witness's plain view of one resource, taken once. Reading an UNSEEN field raises NotWitnessed."""

    witness: str

    def __getattribute__(self, name: str):
        value = object.__getattribute__(self, name)
        if value is UNSEEN:
            witness = object.__getattribute__(self, "witness")
            raise NotWitnessed(witness, f"the {name.replace('_', ' ')} of a {type(self).__name__.lower()}")
        return value

    def seen(self, name: str) -> bool:
        return object.__getattribute__(self, name) is not UNSEEN

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={object.__getattribute__(self, f.name)!r}" for f in fields(self))  # type: ignore[arg-type]
        return f"{type(self).__name__}({shown})"


def _view(cls):
    return dataclass(frozen=True, repr=False, eq=False)(cls)


@_view
class Server(View):
    witness: str
    id: str
    running: bool                 # booted and not stopped (Nova ACTIVE; libvirt "running")
    state: str                    # the witness's own words, for messages ("status=ACTIVE task_state=None")
    name: Any = UNSEEN            # the cloud's name for it
    flavor: Any = UNSEEN          # the instance type's name
    availability_zone: Any = UNSEEN
    metadata: Any = UNSEEN        # dict of str
    vcpus: Any = UNSEEN
    memory_mib: Any = UNSEEN


@_view
class Nic(View):
    witness: str
    mac: str                      # lower case
    ips: Any = UNSEEN             # frozenset of fixed IPs
    network_id: Any = UNSEEN
    port_id: Any = UNSEEN         # what wait_for_nics_gone looks for (a Neutron port; a host tap device)


@_view
class Volume(View):
    witness: str
    id: str
    state: str
    size_gib: Any = UNSEEN
    available: Any = UNSEEN       # created, attached to nothing, usable (Cinder "available")
    attached_to: Any = UNSEEN     # frozenset of server ids
    metadata: Any = UNSEEN


@_view
class Snapshot(View):
    witness: str
    id: str
    state: str
    ready: Any = UNSEEN           # usable (Cinder "available")
    volume_id: Any = UNSEEN


@_view
class Image(View):
    witness: str
    id: str
    state: str
    active: Any = UNSEEN          # usable to boot from
    disk_format: Any = UNSEEN
    container_format: Any = UNSEEN


@_view
class FloatingIp(View):
    witness: str
    address: str
    port_id: Any = UNSEEN         # the port (Nic.port_id) it is on, None when on none
    state: Any = UNSEEN


@_view
class Flavor(View):
    witness: str
    name: str
    vcpus: Any = UNSEEN
    memory_mib: Any = UNSEEN


class Witness:
    """The questions a suite may ask of a cloud. Every method raises NotWitnessed here; a witness
    overrides what it sees. Reads return views (or None: the resource is not there); waits return
    the view they waited for, or None for "gone"; a wait that times out raises WaitTimeout naming
    what it waited for, after which CPI call, the timeout (``timeouts.<name>``) and what it last saw."""

    name = "witness"

    def __init__(self, timeouts, *, interval: float | None = None,
                 on_progress: Callable[[str], Any] | None = None):
        self.timeouts = timeouts
        self.interval = float(interval if interval is not None else timeouts.poll)
        self.on_progress = on_progress

    def unseen(self, what: str) -> NotWitnessed:
        return NotWitnessed(self.name, what)

    # -- VMs --------------------------------------------------------------------------------
    def server(self, cid: str) -> Server | None:
        raise self.unseen("servers")

    def nics(self, cid: str) -> list[Nic]:
        raise self.unseen("the NICs of a server")

    def console_output(self, cid: str) -> str:
        raise self.unseen("a server's console")

    def wait_for_server_running(self, cid: str, *, after: str | None = None) -> Server:
        return self._wait(lambda: self.server(cid), lambda s: s is not None and s.running,
                          lambda s: s is None and "the server is gone", _state, "vm_active",
                          f"server {cid} to be running", after)

    def wait_for_server_gone(self, cid: str, *, after: str | None = None) -> None:
        self._wait(lambda: self.server(cid), lambda s: s is None, None, _state, "vm_delete",
                   f"server {cid} to be gone", after)

    def wait_for_nics_gone(self, nics: list[Nic], *, after: str | None = None) -> None:
        raise self.unseen("whether a NIC is gone")

    # -- networks ---------------------------------------------------------------------------
    def addresses_held(self, network_id: str, ips: list[str]) -> dict[str, str]:
        """Which of ``ips`` something on the network holds already: address -> what holds it."""
        raise self.unseen("who holds an address")

    def holders(self, ips: set[str], floating_ips: set[str], agent_id: str) -> list[str]:
        """What holds any of ``ips`` or has one of ``floating_ips`` on it, and any server that
        carries ``agent_id`` (in its name or metadata): one line each."""
        raise self.unseen("who holds an address")

    def wait_for_no_holders(self, ips: set[str], floating_ips: set[str], agent_id: str, *,
                            after: str | None = None) -> None:
        """Until :meth:`holders` finds nothing (timeouts.port_release)."""
        self._wait(lambda: self.holders(ips, floating_ips, agent_id), lambda left: not left, None,
                   lambda left: f"left behind: {left}", "port_release",
                   f"nothing holding {sorted(ips)}, no floating IP of {sorted(floating_ips)} on a port, no server "
                   f"of agent {agent_id}", after)

    def floating_ip(self, address: str) -> FloatingIp | None:
        raise self.unseen("floating IPs")

    def wait_for_floating_ip(self, address: str, *, on: set[str] | None, after: str | None = None) -> FloatingIp:
        """Until the floating IP is on one of the ports ``on`` (port ids), or on none (``on=None``)."""
        def ready(fip):
            return fip is not None and (fip.port_id in on if on else fip.port_id is None)

        return self._wait(lambda: self.floating_ip(address), ready, lambda f: f is None and "the floating IP is gone",
                          lambda f: "gone" if f is None else f"port_id={f.port_id} state={f.state}", "floating_ip",
                          f"floating IP {address} to be " + (f"on one of ports {sorted(on)}" if on else "on no port"),
                          after)

    # -- disks ------------------------------------------------------------------------------
    def volume(self, cid: str) -> Volume | None:
        raise self.unseen("volumes")

    def wait_for_volume_available(self, cid: str, *, after: str | None = None) -> Volume:
        return self._wait(lambda: self.volume(cid), lambda v: v is not None and v.available,
                          _volume_failed, _state, "volume_status", f"volume {cid} to be available", after)

    def wait_for_volume_attached(self, cid: str, vm_cid: str, *, after: str | None = None) -> Volume:
        return self._wait(lambda: self.volume(cid), lambda v: v is not None and vm_cid in v.attached_to,
                          _volume_failed, _state, "disk_attach", f"volume {cid} to be attached to server {vm_cid}",
                          after)

    def wait_for_volume_detached(self, cid: str, vm_cid: str, *, after: str | None = None) -> Volume | None:
        return self._wait(lambda: self.volume(cid), lambda v: v is None or vm_cid not in v.attached_to, None,
                          _state, "disk_detach", f"volume {cid} to leave server {vm_cid}", after)

    def wait_for_volume_gone(self, cid: str, *, after: str | None = None) -> None:
        self._wait(lambda: self.volume(cid), lambda v: v is None, None, _state, "volume_status",
                   f"volume {cid} to be gone", after)

    def snapshot(self, cid: str) -> Snapshot | None:
        raise self.unseen("snapshots")

    def wait_for_snapshot_ready(self, cid: str, *, after: str | None = None) -> Snapshot:
        return self._wait(lambda: self.snapshot(cid), lambda s: s is not None and s.ready,
                          lambda s: s is None and "the snapshot is gone", _state, "volume_status",
                          f"snapshot {cid} to be ready", after)

    def wait_for_snapshot_gone(self, cid: str, *, after: str | None = None) -> None:
        self._wait(lambda: self.snapshot(cid), lambda s: s is None, None, _state, "volume_status",
                   f"snapshot {cid} to be gone", after)

    # -- images and sizes -------------------------------------------------------------------
    def image(self, cid: str) -> Image | None:
        raise self.unseen("images")

    def image_ids(self) -> set[str]:
        raise self.unseen("the list of images")

    def wait_for_image_gone(self, cid: str, *, after: str | None = None) -> None:
        self._wait(lambda: self.image(cid), lambda i: i is None, None, _state, "image_delete",
                   f"image {cid} to be gone", after)

    def flavor(self, name: str) -> Flavor | None:
        raise self.unseen("instance types")

    def api_versions(self) -> dict[str, Any]:
        """Per service: api_version, min_microversion, max_microversion (version discovery)."""
        raise self.unseen("API versions")

    # -- the one way a witness waits ------------------------------------------------------------
    def _wait(self, probe, ready, failed, describe, timeout: str, what: str, after: str | None):
        return wait_for(probe, ready=ready, failed=failed, describe=describe,
                        timeout=float(getattr(self.timeouts, timeout)), interval=self.interval,
                        what=f"{self.name}: {what} (timeouts.{timeout})", after=after, on_progress=self.on_progress,
                        kind="cloud")


def _state(view) -> str:
    return "gone" if view is None else view.state


def _volume_failed(volume) -> str | bool:
    if volume is None:
        return "the volume is gone"
    return volume.state.startswith("status=error") and volume.state


# -- the witnesses of a profile ----------------------------------------------------------------

def registered() -> dict[str, Any]:
    """The witnesses installed: entry point name -> entry point (loaded when used)."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINTS)}


def build(profile, *, on_progress: Callable[[str], Any] | None = None,
          available: dict[str, Any] | None = None) -> list[Witness]:
    """The profile's witnesses (``profile.witness_options``), built in the order named."""
    available = registered() if available is None else available
    built = []
    for name, options in profile.witness_options.items():
        if name not in available:
            raise ProfileError(profile.source, f"witnesses.{name}",
                               f"no witness named {name!r} is installed (installed: "
                               f"{', '.join(sorted(available)) or 'none'}; entry point group {ENTRY_POINTS})")
        cls = available[name]
        cls = cls.load() if hasattr(cls, "load") else cls
        witness = cls(profile, options or {})
        witness.on_progress = on_progress
        built.append(Timed(witness))
    return built


class Timed:
    """A witness whose every call counts as cloud time in the run's time accounting
    (core.waiting.spent): a read of the cloud API is time the suite waits on the cloud, not its own."""

    def __init__(self, inner: Witness):
        self.__dict__["_inner"] = inner

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name.startswith("_") or not inspect.ismethod(value):  # a callback it holds is not a call
            return value

        def timed(*args: Any, **kwargs: Any) -> Any:
            with spent("cloud"):
                return value(*args, **kwargs)

        return timed

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._inner, name, value)

    def __repr__(self) -> str:
        return f"Timed({self._inner!r})"


class PerWitness(dict):
    """What each witness saw (name -> value); a witness that saw nothing raises NotWitnessed on lookup."""

    def __missing__(self, name: str):
        raise NotWitnessed(name, "it (it saw nothing of it earlier in the test)")

    def of(self, witness: Witness):
        return self[witness.name]


class Witnesses:
    """A profile's witnesses together, for the lab (no per-test record)."""

    def __init__(self, witnesses: list[Witness]):
        self.all = list(witnesses)

    def __bool__(self) -> bool:
        return bool(self.all)

    @property
    def names(self) -> list[str]:
        return [w.name for w in self.all]

    def each(self, ask: Callable[[Witness], T]) -> PerWitness:
        """``ask`` of every witness that sees it: name -> answer."""
        seen = PerWitness()
        for witness in self.all:
            try:
                seen[witness.name] = ask(witness)
            except NotWitnessed as exc:
                log.debug("%s", exc)
        return seen

    def first(self, ask: Callable[[Witness], T], default: T | None = None) -> T | None:
        """The answer of the first witness that sees it, else ``default``."""
        for witness in self.all:
            try:
                return ask(witness)
            except NotWitnessed as exc:
                log.debug("%s", exc)
        return default


class Seen:
    """One witness making one check: ``with seen as w:`` (NotWitnessed inside ends the block and is recorded)."""

    def __init__(self, witness: Witness, record: dict):
        self.witness, self.record = witness, record

    def __enter__(self) -> Witness:
        return self.witness

    def __exit__(self, kind, exc, tb) -> bool:
        if kind is None:
            self.record["by"].append(self.witness.name)
            return False
        if isinstance(exc, NotWitnessed):
            self.record["unseen"][self.witness.name] = exc.what
            return True
        return False


class CloudChecks(Witnesses):
    """The ``cloud`` fixture: checks made by every witness that sees them, recorded for the test
    (results.json ``tests[].witness_checks``; a check no witness made is also in ``not_checked``)."""

    def __init__(self, witnesses: list[Witness], record_property: Callable[[str, Any], None]):
        super().__init__(witnesses)
        self.record_property = record_property

    def checks(self, check: str) -> Iterator[Seen]:
        record: dict[str, Any] = {"check": check, "by": [], "unseen": {}}
        for witness in self.all:
            yield Seen(witness, record)
        self.record_property("witness_check", record)
        if not record["by"]:
            why = ("the profile names no cloud witness (witnesses)" if not self.all else
                   "; ".join(f"{name} does not see {what}" for name, what in record["unseen"].items()))
            self.record_property("not_checked", f"{check}: {why}")


def macs_by_ip(nics: list[Nic]) -> dict[str, str]:
    """fixed IP -> MAC of the NIC holding it (NotWitnessed when the witness does not see NIC addresses)."""
    return {ip: nic.mac for nic in nics for ip in nic.ips}


def ips_by_network(nics: list[Nic]) -> dict[str, set[str]]:
    """network id -> fixed IPs of the NICs on it (NotWitnessed when the witness does not see them)."""
    found: dict[str, set[str]] = {}
    for nic in nics:
        found.setdefault(nic.network_id, set()).update(nic.ips)
    return found
