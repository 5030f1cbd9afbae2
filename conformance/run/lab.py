"""The suite's hands: create VMs, disks and floating IPs through the CPI (and the few things the suite
provisions itself), registering every undo on the line after the create, and proving deletes.

Every CPI request is built by conformance.cpi.director as a Director builds it; the lab plays the
Director's steps around them: set_vm_metadata right after create_vm (steps/create_vm_step.rb),
set_disk_metadata right after attach_disk (steps/attach_disk_step.rb). Binds the profile (timeouts,
networks, the VM type and availability zone) to the plain libraries (director, cpi, cloud, guest).
Suites reach it through the fixtures in conformance.run.fixtures (``lab``, ``boot_vm``,
``create_disk``, ``ssh``).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.cloud.witness import Witness, Witnesses
from conformance.core.cleanup import CleanupStack
from conformance.core.naming import RUN_TAG
from conformance.core.waiting import spent
from conformance.cpi import director
from conformance.cpi.errors import CpiError
from conformance.profile import addresses

#: The name the suite plays Director under (Config.name: director, director_name in metadata).
DIRECTOR_NAME = "cfm-conformance"
#: The instance group every VM of the suite belongs to.
INSTANCE_GROUP = "conformance"


@dataclass
class Vm:
    cid: str
    instance: director.Instance
    networks: dict[str, Any]                  # as requested
    answered_networks: dict[str, Any] | None  # v2 create_vm answer
    stemcell_api_version: int | None          # what the Director sends with this VM's calls
    env: dict[str, Any] = field(default_factory=dict)             # as requested
    cpi_properties: dict[str, Any] = field(default_factory=dict)  # context sent with this VM's calls
    ssh_host: str | None = None
    floating_ip: str | None = None
    ips: dict[str, str] = field(default_factory=dict)  # manual network name -> static IP
    # epoch seconds of its boot: "create" (create_vm sent), "running" (every witness saw it), "ssh"
    # (the first SSH session opened); the lab's on_boot hears them once SSH answers
    boot: dict[str, float] = field(default_factory=dict)

    @property
    def agent_id(self) -> str:
        return self.instance.agent_id


class IpPool:
    """This worker's static IPs, by manual network name; taken per VM, given back after its delete.
    Shared by the worker's thread and the threads preparing VMs ahead."""

    def __init__(self, slices: dict[str, list]):
        self.free = {name: [str(ip) for ip in ips] for name, ips in slices.items()}
        self._lock = threading.Lock()

    def take(self, network: str, *, keep: int = 0) -> str:
        """A free address; ``keep``: leave at least that many for the tests (a VM prepared ahead
        takes none of those: conformance.run.prepare)."""
        with self._lock:
            if len(self.free.get(network) or ()) <= keep:
                raise IpsUsedUp(f"this worker's static IPs of manual network {network!r} are used up"
                                + (f" but for the {keep} kept for the tests" if keep else "")
                                + ": give its static_ips more addresses in the profile")
            return self.free[network].pop(0)

    def give_back(self, network: str, ip: str) -> None:
        with self._lock:
            self.free[network].append(ip)


class IpsUsedUp(RuntimeError):
    pass


class Lab:
    def __init__(self, *, profile, cpi, witnesses: Witnesses, conn, names, net_ids: dict[str, str], pool: IpPool,
                 run_id: str, on_boot: Callable[[Vm], Any] | None = None):
        self.profile, self.cpi, self.witnesses, self.conn = profile, cpi, witnesses, conn
        self.on_boot = on_boot  # hears each VM once, when its first SSH session opens (its boot times)
        self.names, self.net_ids, self.pool, self.run_id = names, net_ids, pool, run_id
        self.t = profile.timeouts
        # a range in vip.addresses ("172.24.4.10-172.24.4.12") is several addresses, one per VM
        self.vip_pool = [str(ip) for ip in addresses.expand(profile.networks.vip.addresses)] if profile.networks.vip else []
        self.deployment = director.Deployment(DIRECTOR_NAME, cpi.director_uuid, f"cfm-{run_id}", {RUN_TAG: run_id})
        self.stemcell_api_versions: dict[str, int | None] = {}
        self._indexes = itertools.count()  # shared with the views (next() on it is atomic)
        self.keep_ips = 0  # addresses taken by this lab leave at least this many (a view preparing ahead)

    # -- what the Director knows ------------------------------------------------------------
    def remember_stemcell(self, cid: str, manifest: dict[str, Any]) -> None:
        """The stemcell's api_version from its stemcell.MF (jobs/update_stemcell.rb keeps it; the
        Director sends it with the calls on VMs made from that stemcell, or nothing without one)."""
        self.stemcell_api_versions[cid] = manifest.get("api_version")

    def stemcell_api_version(self, stemcell_cid: str) -> int | None:
        return self.stemcell_api_versions.get(stemcell_cid, director.DEFAULT_STEMCELL_API_VERSION)

    def new_instance(self) -> director.Instance:
        """The next instance of the suite's instance group (index 0, 1, ... on this worker)."""
        return director.new_instance(self.deployment, INSTANCE_GROUP, next(self._indexes))

    def view(self, *, witnesses: Witnesses, conn, keep_ips: int = 0) -> Lab:
        """This lab for another thread (a VM prepared ahead): its own witnesses and connection (an
        openstacksdk connection is not shared across threads), the same CPI, static IPs, floating IPs,
        instance indexes and stemcells; it takes no static IP of the last ``keep_ips``."""
        other = copy.copy(self)
        other.witnesses, other.conn, other.keep_ips = witnesses, conn, keep_ips
        return other

    def vm_cloud_properties(self, vm_type: dict[str, Any] | None = None) -> dict[str, Any]:
        """The profile's availability zone (OpenStack: cloud_properties.availability_zone) under the
        VM type's cloud_properties (the profile's, or ``vm_type``)."""
        az = {"availability_zone": self.profile.vm.availability_zone} if self.profile.vm.availability_zone else {}
        return director.vm_cloud_properties(self.profile.vm.cloud_properties if vm_type is None else vm_type, az=az)

    # -- VMs ------------------------------------------------------------------------------
    def create_vm(self, stack: CleanupStack, stemcell_cid: str, networks: dict, *, cloud_properties=None,
                  disk_cids=(), env=None, context=None, instance: director.Instance | None = None) -> Vm:
        """create_vm as steps/create_vm_step.rb sends it, then set_vm_metadata as it does right
        after. ``cloud_properties``: the VM type's (the profile's by default); ``context``: CPI-config
        properties sent with every call on this VM."""
        instance = instance or self.new_instance()
        version = self.stemcell_api_version(stemcell_cid)
        agent_env = director.agent_env(instance, base=env)
        call = director.create_vm(instance.agent_id, stemcell_cid, self.vm_cloud_properties(cloud_properties),
                                  networks, list(disk_cids), agent_env, stemcell_api_version=version)
        cid, answered = self.cpi.send(call, context=context)
        stack.add(f"delete VM {cid}", self._delete_vm, cid, version, dict(context or {}), resource=("server", cid))
        ips = {name: spec["ip"] for name, spec in networks.items() if spec["type"] == "manual"}
        vm = Vm(cid, instance, networks, answered, version, agent_env, dict(context or {}), ips=ips)
        self.set_vm_metadata(vm)
        return vm

    def set_vm_metadata(self, vm: Vm) -> dict[str, str]:
        """metadata_updater.rb#update_vm_metadata (NotImplemented is rescued there too); the metadata sent."""
        metadata = director.vm_metadata(vm.instance)
        self.send_rescuing(director.set_vm_metadata(vm.cid, metadata), "NotImplemented", vm.cpi_properties)
        return metadata

    def delete_vm_and_verify(self, vm: Vm) -> None:
        """delete_vm, then prove the server and every port it had are gone."""
        self._delete_vm(vm.cid, vm.stemcell_api_version, vm.cpi_properties)

    def _delete_vm(self, cid: str, version: int | None, properties: dict) -> None:
        """delete_vm, then every witness that sees them proves the server and its NICs gone."""
        nics = self.witnesses.each(lambda w: w.nics(cid))
        self.cpi.send(director.delete_vm(cid, stemcell_api_version=version), context=properties)

        def gone(w: Witness) -> None:
            w.wait_for_server_gone(cid, after="delete_vm answered OK")
            w.wait_for_nics_gone(nics.of(w), after=f"delete_vm of {cid} answered OK")

        self.witnesses.each(gone)

    def networks_for(self, stack: CleanupStack, *, manual: int = 1, dynamic: bool = False,
                     vip: bool = True) -> tuple[dict, str | None]:
        """A networks argument as network_settings.rb builds it: ``manual`` static NICs, optional
        dynamic and vip; the first manual network (else the dynamic one) is the default."""
        networks: dict[str, Any] = {}
        for net in self.profile.networks.manual[:manual]:
            ip = self.pool.take(net.name, keep=self.keep_ips)
            stack.add(f"return static IP {ip}", self.pool.give_back, net.name, ip)
            networks[net.name] = director.manual_network(
                ip=ip, netmask=str(net.cidr.netmask), gateway=str(net.gateway), dns=[str(d) for d in net.dns],
                cloud_properties={**net.cloud_properties, "net_id": self.net_ids[net.name]})
        if dynamic:
            dyn = self.profile.networks.dynamic
            networks[dyn.name] = director.dynamic_network(
                cloud_properties={**dyn.cloud_properties, "net_id": self.net_ids[dyn.name]})
        default = next(iter(networks), None)
        address = None
        if vip:
            address = self.floating_ip(stack)
            networks[self.profile.networks.vip.name] = director.vip_network(ip=address)
        return director.network_settings(networks, default=default), address

    def boot_vm(self, stack: CleanupStack, stemcell_cid: str, *, manual: int = 1, dynamic: bool = False,
                vip: bool | None = None, context=None, cloud_properties=None) -> Vm:
        """A VM the suite can SSH into: created through the CPI, running for every witness that sees
        servers (with none, the first SSH session waits for it: timeouts.ssh_ready)."""
        vip = (self.profile.ssh.via == "floating_ip") if vip is None else vip
        networks, address = self.networks_for(stack, manual=manual, dynamic=dynamic, vip=vip)
        started = time.time()
        vm = self.create_vm(stack, stemcell_cid, networks, context=context, cloud_properties=cloud_properties)
        vm.boot["create"] = started
        vm.floating_ip = address
        self.witnesses.each(lambda w: w.wait_for_server_running(vm.cid, after="create_vm answered OK"))
        vm.boot["running"] = time.time()
        vm.ssh_host = address or next(iter(vm.ips.values()), None) or self._dynamic_ip(vm)
        return vm

    def _dynamic_ip(self, vm: Vm) -> str | None:
        """The address of a VM on a dynamic network only: the CPI's v2 answer, else a witness's NIC."""
        for spec in (vm.answered_networks or {}).values():
            if isinstance(spec, dict) and spec.get("ip"):
                return str(spec["ip"])
        nics = self.witnesses.first(lambda w: [ip for nic in w.nics(vm.cid) for ip in sorted(nic.ips)], [])
        return next(iter(nics), None)

    # -- the calls on a VM that carry its context ---------------------------------------------
    def send_on(self, vm: Vm, call: director.Call) -> Any:
        """A call about ``vm``, with the CPI-config properties the VM was created with."""
        return self.cpi.send(call, context=vm.cpi_properties)

    def send_gone(self, call: director.Call, context: dict | None = None) -> str:
        """A call on a resource that is gone: "ok", or the error type the Director rescues for that
        method (director.GONE_ERRORS); any other error is raised."""
        return self.send_rescuing(call, director.GONE_ERRORS.get(call.method), context)

    def send_rescuing(self, call: director.Call, rescued: str | None, context: dict | None = None) -> str:
        """``call``, as a Director makes it where it rescues one error type: "ok", or ``rescued``
        when the CPI answered that; any other error is raised."""
        try:
            self.cpi.send(call, context=context)
        except CpiError as exc:
            if exc.short_type != rescued:
                raise
            return exc.short_type
        return "ok"

    # -- floating IPs ----------------------------------------------------------------------
    def floating_ip(self, stack: CleanupStack) -> str:
        """A floating IP for a vip network: a pre-allocated one from the profile, or a new one
        (released in cleanup, after the VM is gone)."""
        try:
            address = self.vip_pool.pop(0)  # list.pop is atomic: the threads preparing VMs share the pool
        except IndexError:
            address = None
        if address is not None:
            stack.add(f"return floating IP {address}", self.vip_pool.append, address)
            return address
        from conformance.cloud import provision

        with spent("cloud"):
            fip = provision.allocate_floating_ip(self.conn, self.profile.networks.vip.floating_network,
                                                 description=self.names.name("fip"))
        stack.add(f"release floating IP {fip.floating_ip_address}", self._release_floating_ip, fip.id,
                  resource=("floating_ip", fip.id))
        return fip.floating_ip_address

    def _release_floating_ip(self, fip_id: str) -> None:
        from conformance.cloud import provision

        with spent("cloud"):
            provision.release_floating_ip(self.conn, fip_id)

    # -- SSH --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def ssh(self, vm: Vm, host: str | None = None):
        """An SSH session to the VM (waits up to timeouts.ssh_ready); the console log is attached
        to the error when SSH never comes up."""
        with self._opened(vm, self._connecting(vm, host, self.t.ssh_ready)) as session:
            yield session

    def wait_ssh(self, vm: Vm, *, stop: Callable[[], bool], slice_s: float = 10.0) -> bool:
        """Until the VM answers SSH (timeouts.ssh_ready), in slices of ``slice_s`` so that ``stop()``
        ends it soon (a VM prepared ahead when the worker ends): True once it answered, False when
        stopped; the last slice's error, with the console log, when it never did."""
        from conformance.core.errors import WaitTimeout

        deadline = time.monotonic() + self.t.ssh_ready
        while not stop():
            left = deadline - time.monotonic()
            try:
                session = self._connect(vm.ssh_host, timeout=max(1.0, min(slice_s, left)))
            except WaitTimeout:
                if time.monotonic() + 1.0 < deadline:
                    continue
                session = self._connecting(vm, None, 1.0)  # the error, with the console log
            with self._opened(vm, session):
                return True
        return False

    def _connecting(self, vm: Vm, host: str | None, timeout: float):
        try:
            return self._connect(host or vm.ssh_host, timeout=timeout)
        except Exception as exc:
            console = self.witnesses.first(lambda w: w.console_output(vm.cid))
            if console is not None:
                exc.add_note(f"console log of VM {vm.cid} (tail):\n{console[-6000:]}")
            raise

    def _opened(self, vm: Vm, session):
        """``session``, once the VM's first: its boot times go to on_boot."""
        if "create" in vm.boot and "ssh" not in vm.boot:
            vm.boot["ssh"] = time.time()
            if self.on_boot is not None:
                self.on_boot(vm)
        return session

    def _connect(self, host: str, *, timeout: float):
        """guest.connect with the profile's SSH user, key, port and command timeout."""
        from conformance import guest

        ssh = self.profile.ssh
        return guest.connect(host, user=ssh.user, key_path=str(self.profile.path(ssh.private_key)), port=ssh.port,
                             timeout=timeout, interval=self.t.poll, command_timeout=self.t.ssh_command)

    def wait_rebooted(self, vm: Vm, old_boot_id: str) -> str:
        """Until the guest answers SSH with a boot id other than ``old_boot_id`` (timeouts.reboot)."""
        from conformance.core.waiting import wait_for

        def probe() -> str:
            with self._connect(vm.ssh_host, timeout=min(30.0, self.t.reboot)) as session:
                return session.boot_id()

        return wait_for(probe, ready=lambda boot_id: boot_id != old_boot_id, describe=lambda b: f"boot_id={b}",
                        timeout=self.t.reboot, interval=self.t.poll, retry_on=(Exception,),
                        what=f"VM {vm.cid} to answer SSH with a boot id other than {old_boot_id}", kind="guest",
                        after="reboot_vm answered OK")

    # -- disks ------------------------------------------------------------------------------
    def create_disk(self, stack: CleanupStack, size_mib: int | None = None, *, vm_cid: str,
                    cloud_properties: dict | None = None) -> str:
        """create_disk as disk_manager.rb sends it: size in MiB (the profile's by default), the
        disk type's cloud_properties (the profile's), the cid of the VM it is for."""
        size = size_mib or self.profile.disks.size_mib
        props = dict(self.profile.disks.cloud_properties if cloud_properties is None else cloud_properties)
        cid = self.cpi.send(director.create_disk(size, props, vm_cid))
        stack.add(f"delete disk {cid}", self.delete_disk_and_verify, cid, resource=("volume", cid))
        return cid

    def delete_disk_and_verify(self, cid: str) -> None:
        self.cpi.send(director.delete_disk(cid))
        self.witnesses.each(lambda w: w.wait_for_volume_gone(cid, after="delete_disk answered OK"))

    def attach_disk(self, stack: CleanupStack, vm: Vm, disk_cid: str) -> Any:
        """attach_disk, then set_disk_metadata, as steps/attach_disk_step.rb does; the hint."""
        hint = self.send_on(vm, director.attach_disk(vm.cid, disk_cid, stemcell_api_version=vm.stemcell_api_version))
        stack.add(f"detach disk {disk_cid} from {vm.cid}", self.detach_disk_and_verify, vm, disk_cid,
                  at_cleanup=True)
        self.witnesses.each(lambda w: w.wait_for_volume_attached(
            disk_cid, vm.cid, after=f"attach_disk to VM {vm.cid} answered {hint!r}"))
        self.send_rescuing(director.set_disk_metadata(disk_cid, director.disk_metadata(vm.instance)),
                           "NotImplemented", vm.cpi_properties)
        return hint

    def wait_for_device(self, session, disk_cid: str, *, after: str = "attach_disk answered") -> str:
        """The guest's device for the volume (by its virtio serial), once it shows (timeouts.disk_attach)."""
        from conformance.core.waiting import wait_for

        return wait_for(lambda: session.device_for_volume(disk_cid), describe=lambda d: f"device={d}",
                        timeout=self.t.disk_attach, interval=self.t.poll,
                        what=f"volume {disk_cid} to show in guest {session.host} (by its virtio serial)", after=after,
                        kind="guest")

    def wait_for_no_device(self, session, disk_cid: str, *, after: str = "detach_disk answered OK") -> None:
        from conformance.core.waiting import wait_for

        wait_for(lambda: session.device_for_volume(disk_cid), ready=lambda d: d is None,
                 describe=lambda d: f"device={d}", timeout=self.t.disk_detach, interval=self.t.poll,
                 what=f"volume {disk_cid} to leave guest {session.host}", after=after, kind="guest")

    def detach_disk_and_verify(self, vm: Vm, disk_cid: str, *, at_cleanup: bool = False) -> None:
        """detach_disk, then every witness that sees it shows the volume off the VM. At cleanup the
        disk may be detached already: DiskNotAttached is then fine (steps/detach_disk_step.rb rescues it)."""
        call = director.detach_disk(vm.cid, disk_cid, stemcell_api_version=vm.stemcell_api_version)
        if at_cleanup:
            self.send_gone(call, context=vm.cpi_properties)
        else:
            self.send_on(vm, call)
        self.witnesses.each(lambda w: w.wait_for_volume_detached(
            disk_cid, vm.cid, after=f"detach_disk from VM {vm.cid} answered OK"))
