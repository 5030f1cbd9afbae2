"""The suite's hands: create VMs, disks and floating IPs through the CPI (and the few things the suite
provisions itself), registering every undo on the line after the create, and proving deletes.

Binds the profile (timeouts, networks) to the plain libraries (cpi, cloud, guest). Suites reach it
through the fixtures in conformance.session (``lab``, ``create_vm``, ``create_disk``, ``ssh``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from conformance import specs
from conformance.cleanup import CleanupStack


@dataclass
class Vm:
    cid: str
    agent_id: str
    networks: dict[str, Any]                  # as requested
    answered_networks: dict[str, Any] | None  # v2 create_vm answer
    ssh_host: str | None = None
    floating_ip: str | None = None
    ips: dict[str, str] = field(default_factory=dict)  # manual network name -> static IP


class IpPool:
    """This worker's static IPs, by manual network name; taken per VM, given back after its delete."""

    def __init__(self, slices: dict[str, list]):
        self.free = {name: [str(ip) for ip in ips] for name, ips in slices.items()}

    def take(self, network: str) -> str:
        if not self.free.get(network):
            raise RuntimeError(f"this worker's static IPs of manual network {network!r} are used up: "
                               "give its static_ips more addresses in the profile")
        return self.free[network].pop(0)

    def give_back(self, network: str, ip: str) -> None:
        self.free[network].append(ip)


class Lab:
    def __init__(self, *, profile, cpi, cloud, conn, names, net_ids: dict[str, str], pool: IpPool, run_id: str):
        self.profile, self.cpi, self.cloud, self.conn = profile, cpi, cloud, conn
        self.names, self.net_ids, self.pool, self.run_id = names, net_ids, pool, run_id
        self.t = profile.timeouts
        self.vip_pool = list(profile.networks.vip.addresses) if profile.networks.vip else []

    # -- VMs ------------------------------------------------------------------------------
    def create_vm(self, stack: CleanupStack, stemcell_cid: str, networks: dict, *, cloud_properties=None,
                  disk_cids=(), env=None, context=None, agent_id: str | None = None) -> Vm:
        agent_id = agent_id or self.names.agent_id()
        props = dict(self.profile.vm.cloud_properties if cloud_properties is None else cloud_properties)
        cid, answered = self.cpi.create_vm(agent_id, stemcell_cid, props, networks, list(disk_cids),
                                           env or specs.agent_env(self.run_id), context=context)
        stack.add(f"delete VM {cid}", self.delete_vm_and_verify, cid, resource=("server", cid))
        ips = {name: spec["ip"] for name, spec in networks.items() if spec["type"] == "manual"}
        return Vm(cid, agent_id, networks, answered, ips=ips)

    def delete_vm_and_verify(self, cid: str) -> None:
        """delete_vm, then prove the server and every port it had are gone."""
        port_ids = {p.id for p in self.cloud.ports_of(cid)} if self.cloud else set()
        self.cpi.delete_vm(cid)
        if self.cloud:
            self.cloud.wait_for_server_gone(cid, timeout=self.t.vm_delete)
            self.cloud.wait_for_ports_gone(port_ids, timeout=self.t.port_release)

    def networks_for(self, stack: CleanupStack, *, manual: int = 1, dynamic: bool = False,
                     vip: bool = True) -> tuple[dict, str | None]:
        """A networks argument: ``manual`` static NICs (first one default), optional dynamic and vip."""
        networks: dict[str, Any] = {}
        for i, net in enumerate(self.profile.networks.manual[:manual]):
            ip = self.pool.take(net.name)
            stack.add(f"return static IP {ip}", self.pool.give_back, net.name, ip)
            default = ("dns", "gateway") if i == 0 else ()
            networks[net.name] = specs.manual_network(net, net_id=self.net_ids[net.name], ip=ip, default=default)
        if dynamic:
            dyn = self.profile.networks.dynamic
            default = () if networks else ("dns", "gateway")
            networks[dyn.name] = specs.dynamic_network(dyn, net_id=self.net_ids[dyn.name], default=default)
        address = None
        if vip:
            address = self.floating_ip(stack)
            networks[self.profile.networks.vip.name] = specs.vip_network(address)
        return networks, address

    def boot_vm(self, stack: CleanupStack, stemcell_cid: str, *, manual: int = 1, dynamic: bool = False,
                vip: bool | None = None, context=None, cloud_properties=None) -> Vm:
        """A VM the suite can SSH into: created through the CPI, ACTIVE in Nova."""
        vip = (self.profile.ssh.via == "floating_ip") if vip is None else vip
        networks, address = self.networks_for(stack, manual=manual, dynamic=dynamic, vip=vip)
        vm = self.create_vm(stack, stemcell_cid, networks, context=context, cloud_properties=cloud_properties)
        vm.floating_ip = address
        if self.cloud:
            self.cloud.wait_for_server(vm.cid, timeout=self.t.vm_active)
        vm.ssh_host = address or next(iter(vm.ips.values()), None) or self._dynamic_ip(vm)
        return vm

    def _dynamic_ip(self, vm: Vm) -> str | None:
        if not self.cloud:
            return None
        return next(iter(self.cloud.mac_by_ip(vm.cid)), None)

    # -- floating IPs ----------------------------------------------------------------------
    def floating_ip(self, stack: CleanupStack) -> str:
        """A floating IP for a vip network: a pre-allocated one from the profile, or a new one
        (released in cleanup, after the VM is gone)."""
        if self.vip_pool:
            address = self.vip_pool.pop(0)
            stack.add(f"return floating IP {address}", self.vip_pool.append, address)
            return address
        from conformance.cloud import provision

        fip = provision.allocate_floating_ip(self.conn, self.profile.networks.vip.floating_network,
                                             description=self.names.name("fip"))
        stack.add(f"release floating IP {fip.floating_ip_address}", provision.release_floating_ip, self.conn,
                  fip.id, resource=("floating_ip", fip.id))
        return fip.floating_ip_address

    # -- SSH --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def ssh(self, vm: Vm, host: str | None = None):
        """An SSH session to the VM (waits up to timeouts.ssh_ready); the console log is attached
        to the error when SSH never comes up."""

        try:
            session = self._connect(host or vm.ssh_host, timeout=self.t.ssh_ready)
        except Exception as exc:
            if self.cloud:
                exc.add_note(f"console log of VM {vm.cid} (tail):\n{self.cloud.console_output(vm.cid)[-6000:]}")
            raise
        with session:
            yield session

    def _connect(self, host: str, *, timeout: float):
        """guest.connect with the profile's SSH user, key, port and command timeout."""
        from conformance import guest

        ssh = self.profile.ssh
        return guest.connect(host, user=ssh.user, key_path=str(self.profile.path(ssh.private_key)), port=ssh.port,
                             timeout=timeout, interval=self.t.poll, command_timeout=self.t.ssh_command)

    def wait_rebooted(self, vm: Vm, old_boot_id: str) -> str:
        """Until the guest answers SSH with a boot id other than ``old_boot_id`` (timeouts.reboot)."""
        from conformance.waiting import wait_for

        def probe() -> str:
            with self._connect(vm.ssh_host, timeout=min(30.0, self.t.reboot)) as session:
                return session.boot_id()

        return wait_for(probe, ready=lambda boot_id: boot_id != old_boot_id, describe=lambda b: f"boot_id={b}",
                        timeout=self.t.reboot, interval=self.t.poll, retry_on=(Exception,),
                        what=f"VM {vm.cid} to come back from reboot with a new boot id")

    # -- disks ------------------------------------------------------------------------------
    def create_disk(self, stack: CleanupStack, size_mib: int | None = None, *, vm_cid: str | None = None,
                    cloud_properties: dict | None = None) -> str:
        size = size_mib or self.profile.disks.size_mib
        props = dict(self.profile.disks.cloud_properties if cloud_properties is None else cloud_properties)
        cid = self.cpi.create_disk(size, props, vm_cid)
        stack.add(f"delete disk {cid}", self.delete_disk_and_verify, cid, resource=("volume", cid))
        return cid

    def delete_disk_and_verify(self, cid: str) -> None:
        self.cpi.delete_disk(cid)
        if self.cloud:
            self.cloud.wait_for_volume_gone(cid, timeout=self.t.volume_status)

    def attach_disk(self, stack: CleanupStack, vm_cid: str, disk_cid: str) -> Any:
        hint = self.cpi.attach_disk(vm_cid, disk_cid)
        stack.add(f"detach disk {disk_cid} from {vm_cid}", self.detach_disk_and_verify, vm_cid, disk_cid)
        if self.cloud:
            self.cloud.wait_for_volume(disk_cid, status="in-use", timeout=self.t.disk_attach)
        return hint

    def wait_for_device(self, session, disk_cid: str) -> str:
        """The guest's device for the volume (by its virtio serial), once it shows (timeouts.disk_attach)."""
        from conformance.waiting import wait_for

        return wait_for(lambda: session.device_for_volume(disk_cid), describe=lambda d: f"device={d}",
                        timeout=self.t.disk_attach, interval=self.t.poll,
                        what=f"volume {disk_cid} to appear in guest {session.host}")

    def wait_for_no_device(self, session, disk_cid: str) -> None:
        from conformance.waiting import wait_for

        wait_for(lambda: session.device_for_volume(disk_cid), ready=lambda d: d is None,
                 describe=lambda d: f"device={d}", timeout=self.t.disk_detach, interval=self.t.poll,
                 what=f"volume {disk_cid} to leave guest {session.host}")

    def detach_disk_and_verify(self, vm_cid: str, disk_cid: str) -> None:
        self.cpi.detach_disk(vm_cid, disk_cid)
        if self.cloud:
            self.cloud.wait_for_volume(disk_cid, status="available", timeout=self.t.disk_detach)
