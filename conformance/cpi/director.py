"""Every request the suite sends a CPI, built the way a BOSH Director builds it.

Read from cloudfoundry/bosh ``src/bosh-director`` (tree of 2026-08) and the bosh.io CPI API v2
pages. A CPI may rely on what a Director sends -- the official OpenStack CPI builds
``job + '/' + instance_id`` from snapshot metadata and crashes without ``instance_id`` -- so the
suite sends all of it, and nothing a Director never sends except where a test's MUST sentence says
the contract allows it. Each builder's docstring names the Director file (and method) it follows.

    call = director.create_vm(instance.agent_id, stemcell_cid, props, networks, [], env,
                              stemcell_api_version=2)
    vm_cid, networks = cpi.send(call)

A builder returns a :class:`Call`: the method, its positional arguments, and the stemcell
api_version the Director puts into that request's context (only on the calls that concern a VM
built from a stemcell). :func:`context` builds the envelope's context, as ``external_cpi.rb`` does.

Plain arguments only: no pytest, no profile, no CPI client. ``conformance.run.lab`` binds the profile
to these builders; ``conformance.cpi.client`` takes its context from :func:`context`.
"""

from __future__ import annotations

import copy
import ipaddress
import random
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Methods whose context carries ``vm.stemcell.api_version``: the Director asks CloudFactory for a
#: cloud with the VM's stemcell api_version only for these (steps/create_vm_step.rb#create,
#: steps/delete_vm_step.rb, steps/attach_disk_step.rb, steps/detach_disk_step.rb). The official
#: OpenStack CPI decides registry or no registry from it in exactly these four.
STEMCELL_CONTEXT_METHODS = frozenset({"create_vm", "delete_vm", "attach_disk", "detach_disk"})

#: The stemcell api_version the suite assumes when it does not know the stemcell's manifest: the
#: stemcell the suite builds declares 2 (conformance/stemcell/recipe.py), as do all stemcells
#: made for registry-less CPI API v2.
DEFAULT_STEMCELL_API_VERSION = 2

#: The error a Director rescues when the resource a call names is already gone; the call then
#: counts as done. delete_vm: steps/delete_vm_step.rb and orphaned_vm_deleter.rb (VMNotFound);
#: detach_disk of a disk that is not active: steps/detach_disk_step.rb (DiskNotAttached);
#: delete_disk and delete of an orphan's snapshot: orphan_disk_manager.rb (DiskNotFound).
#: Other deletes (delete_stemcell: jobs/helpers/stemcell_deleter.rb) rescue nothing.
GONE_ERRORS: dict[str, str] = {
    "delete_vm": "VMNotFound",
    "detach_disk": "DiskNotAttached",
    "delete_disk": "DiskNotFound",
    "delete_snapshot": "DiskNotFound",
}

#: The properties a Director names a network the default for (deployment_plan/network.rb
#: REQUIRED_DEFAULTS), sorted as network settings carry them.
REQUIRED_DEFAULTS = ("dns", "gateway")

_REQUEST_ID_MIN, _REQUEST_ID_MAX = 100000, 999999


@dataclass(frozen=True)
class Call:
    """One CPI request as a Director sends it: the method, its positional arguments, and the
    stemcell api_version its context carries (None: no ``vm`` in the context)."""

    method: str
    arguments: tuple[Any, ...] = ()
    stemcell_api_version: int | None = None


# -- the envelope -----------------------------------------------------------------------------
def new_request_id(rng: random.Random | None = None) -> str:
    """``cpi-`` and six digits: lib/clouds/external_cpi.rb#invoke_cpi_method
    (``"cpi-#{Random.rand(100000..999999)}"``)."""
    return f"cpi-{(rng or random).randint(_REQUEST_ID_MIN, _REQUEST_ID_MAX)}"


def context(director_uuid: str, request_id: str, *, stemcell_api_version: int | None = None,
            cpi_properties: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The request's context: lib/clouds/external_cpi.rb#invoke_cpi_method. ``director_uuid`` and
    ``request_id`` always; ``vm.stemcell.api_version`` when the Director knows the stemcell's
    api_version for this call; then the properties of the CPI's cpi-config entry merged over it
    (``properties_from_cpi_config``: the OpenStack CPI merges them over its ``openstack`` options)."""
    ctx: dict[str, Any] = {"director_uuid": director_uuid, "request_id": request_id}
    if stemcell_api_version is not None:
        ctx["vm"] = {"stemcell": {"api_version": stemcell_api_version}}
    ctx.update(copy.deepcopy(dict(cpi_properties or {})))
    return ctx


# -- who the requests are about -----------------------------------------------------------------
@dataclass(frozen=True)
class Deployment:
    """What a Director knows of itself and of the deployment a request is for."""

    director_name: str                 # Config.name
    director_uuid: str                 # Config.uuid: also the context's director_uuid
    name: str                          # the deployment's name
    tags: Mapping[str, str] = field(default_factory=dict)  # the manifest's top-level tags


@dataclass(frozen=True)
class Instance:
    """One instance of an instance group (models/instance.rb): the VM it gets is created for it."""

    deployment: Deployment
    group: str      # the instance group ("job" in the Director's models and in metadata)
    index: int
    id: str         # the instance's uuid
    agent_id: str   # chosen anew for every VM: SecureRandom.uuid in steps/create_vm_step.rb#create

    @property
    def name(self) -> str:
        """``<group>/<id>``, as metadata_updater.rb names an instance."""
        return f"{self.group}/{self.id}"


def new_instance(deployment: Deployment, group: str, index: int) -> Instance:
    """A new instance with a fresh uuid and a fresh agent id (both SecureRandom.uuid)."""
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ValueError(f"instance index must be a non-negative integer, got {index!r}")
    return Instance(deployment, group, index, str(uuid.uuid4()), str(uuid.uuid4()))


def canonicalize(name: str) -> str:
    """dns/canonicalizer.rb#canonicalize: lower case, ``_`` -> ``-``, only ``[a-z0-9-]`` kept; a
    leading or trailing hyphen is refused (DnsInvalidCanonicalName)."""
    text = re.sub(r"[^a-z0-9-]", "", name.lower().replace("_", "-"))
    if text.startswith("-") or text.endswith("-"):
        raise ValueError(f"invalid DNS canonical name {text!r}: cannot start or end with a hyphen")
    return text


def _utc_stamp(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- create_vm ----------------------------------------------------------------------------------
def manual_network(*, ip: str, netmask: str, cloud_properties: Mapping[str, Any], gateway: str | None = None,
                   dns: Iterable[str] = ()) -> dict[str, Any]:
    """One manual network's settings: deployment_plan/manual_network.rb#network_settings. ``type``,
    ``ip``, ``prefix`` (the reservation's prefix as a string, "32" for one IPv4 address; sent
    since 2025), ``netmask``, the subnet's ``cloud_properties``, ``dns`` and ``gateway`` when the
    subnet has them. ``default`` is added by :func:`network_settings`."""
    address = ipaddress.ip_address(str(ip))
    spec: dict[str, Any] = {
        "type": "manual",
        "ip": str(address),
        "prefix": str(address.max_prefixlen),
        "netmask": str(netmask),
        "cloud_properties": copy.deepcopy(dict(cloud_properties)),
    }
    servers = [str(d) for d in dns]
    if servers:
        spec["dns"] = servers
    if gateway is not None:
        spec["gateway"] = str(gateway)
    return spec


def dynamic_network(*, cloud_properties: Mapping[str, Any], dns: Iterable[str] = ()) -> dict[str, Any]:
    """A dynamic network's settings: deployment_plan/dynamic_network.rb#network_settings. ``type``,
    the subnet's ``cloud_properties``, ``prefix`` "32", ``dns`` when the subnet has it."""
    spec: dict[str, Any] = {"type": "dynamic", "cloud_properties": copy.deepcopy(dict(cloud_properties)),
                            "prefix": "32"}
    servers = [str(d) for d in dns]
    if servers:
        spec["dns"] = servers
    return spec


def vip_network(*, ip: str, cloud_properties: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A vip network's settings: deployment_plan/vip_network.rb#network_settings. ``type``, ``ip``,
    the network's ``cloud_properties`` ({} when it has none), ``prefix`` "32"; never a default."""
    address = ipaddress.ip_address(str(ip))
    return {"type": "vip", "ip": str(address), "cloud_properties": copy.deepcopy(dict(cloud_properties or {})),
            "prefix": str(address.max_prefixlen)}


def network_settings(networks: Mapping[str, Mapping[str, Any]], default: str | None = None) -> dict[str, Any]:
    """The create_vm ``networks`` argument: deployment_plan/network_settings.rb#to_hash, with the
    defaults instance_group_networks_parser.rb assigns. An instance group with one network makes
    it the default for dns and gateway; with several, the manifest must name one (``default``);
    a vip network can be no default (vip_network.rb raises NetworkReservationVipDefaultProvided).
    Only the default network carries ``default: ["dns", "gateway"]``."""
    if not networks:
        raise ValueError("an instance group must specify at least one network (JobMissingNetwork)")
    if default is None:
        if len(networks) > 1:
            raise ValueError(f"networks {sorted(networks)}: name the default for dns and gateway "
                             "(JobNetworkMissingDefault)")
        default = next(iter(networks))
    if default not in networks:
        raise ValueError(f"default network {default!r} is not among {sorted(networks)}")
    if networks[default].get("type") == "vip":
        raise ValueError(f"vip network {default!r} can be no default (NetworkReservationVipDefaultProvided)")
    settings = {}
    for name, spec in networks.items():
        settings[name] = copy.deepcopy(dict(spec))
        settings[name].pop("default", None)
        if name == default:
            settings[name]["default"] = sorted(REQUIRED_DEFAULTS)
    return settings


def vm_cloud_properties(vm_type: Mapping[str, Any], *, az: Mapping[str, Any] | None = None,
                        vm_extensions: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """create_vm's ``cloud_properties``: deployment_plan/merged_cloud_properties.rb#get. The
    availability zone's cloud_properties, then the vm_type's merged over them, then each
    vm_extension's (shallow merges)."""
    merged: dict[str, Any] = {}
    for layer in (az or {}, vm_type, *vm_extensions):
        merged.update(copy.deepcopy(dict(layer)))
    return merged


def agent_env(instance: Instance, *, base: Mapping[str, Any] | None = None,
              director_agent_env: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """create_vm's ``env``: steps/create_vm_step.rb#create. The manifest's env (``base``) with
    ``bosh`` = the Director's agent.env.bosh merged under the manifest's; ``bosh.tags`` = the
    deployment's tags when there are any; ``bosh.group`` and ``bosh.groups`` from director,
    deployment and instance group names, canonicalized. Left out, as a Director without those
    settings does: ``bosh.password`` (generate_vm_passwords, off by default), ``bosh.mbus.cert``
    (only with NATS TLS; real credentials), signed blobstore URLs."""
    env = copy.deepcopy(dict(base or {}))
    bosh = {**copy.deepcopy(dict(director_agent_env or {})), **dict(env.get("bosh") or {})}
    deployment = instance.deployment
    if deployment.tags:
        bosh["tags"] = dict(deployment.tags)
    director, name, group = deployment.director_name, deployment.name, instance.group
    bosh["group"] = canonicalize(f"{director}-{name}-{group}")
    bosh["groups"] = [canonicalize(n) for n in (director, name, group, f"{director}-{name}", f"{name}-{group}",
                                                 f"{director}-{name}-{group}")]
    env["bosh"] = bosh
    return env


def create_vm(agent_id: str, stemcell_cid: str, cloud_properties: Mapping[str, Any],
              networks: Mapping[str, Any], disk_cids: Sequence[str], env: Mapping[str, Any], *,
              stemcell_api_version: int | None) -> Call:
    """steps/create_vm_step.rb#create: ``cloud.create_vm(agent_id, stemcell_cid, cloud_properties,
    network_settings, disks, env)`` with the stemcell's api_version in the context. ``disks`` is
    the list of disk cids the VM will likely attach (``[managed_persistent_disk_cid].compact`` in
    vm_creator.rb): a list of strings, empty for a new instance."""
    cids = list(disk_cids)
    if not all(isinstance(c, str) and c for c in cids):
        raise TypeError(f"disk_cids must be a list of disk cid strings, got {cids!r}")
    return Call("create_vm", (agent_id, stemcell_cid, copy.deepcopy(dict(cloud_properties)),
                              copy.deepcopy(dict(networks)), cids, copy.deepcopy(dict(env))),
                stemcell_api_version)


def delete_vm(vm_cid: str, *, stemcell_api_version: int | None) -> Call:
    """steps/delete_vm_step.rb#perform: ``CloudFactory.get(vm.cpi, vm.stemcell_api_version)
    .delete_vm(vm_cid)``; VMNotFound is rescued (the VM counts as deleted)."""
    return Call("delete_vm", (vm_cid,), stemcell_api_version)


def has_vm(vm_cid: str) -> Call:
    """problem_scanner/vm_scan_stage.rb: ``cloud.has_vm(vm_cid)`` (no stemcell in the context)."""
    return Call("has_vm", (vm_cid,))


def reboot_vm(vm_cid: str) -> Call:
    """cloudcheck_helper.rb#reboot_vm: ``cloud.reboot_vm(vm.cid)``, then waits for the agent."""
    return Call("reboot_vm", (vm_cid,))


def _tags_and_director(deployment: Deployment) -> dict[str, str]:
    """What metadata_updater.rb starts VM and disk metadata with: the tags, then ``director``."""
    return {**{str(k): str(v) for k, v in deployment.tags.items()}, "director": deployment.director_name}


def vm_metadata(instance: Instance, *, now: datetime | None = None) -> dict[str, str]:
    """metadata_updater.rb#update_vm_metadata: the deployment's tags, ``director``, then
    ``deployment``, ``id``, ``job``, ``instance_group``, ``index`` (a string), ``name``
    (``group/id``) and ``created_at`` (UTC, ``%Y-%m-%dT%H:%M:%SZ``), which tags cannot override."""
    deployment = instance.deployment
    metadata = _tags_and_director(deployment)
    metadata.update({
        "deployment": deployment.name,
        "id": instance.id,
        "job": instance.group,
        "instance_group": instance.group,
        "index": str(instance.index),
        "name": instance.name,
        "created_at": _utc_stamp(now),
    })
    return metadata


def set_vm_metadata(vm_cid: str, metadata: Mapping[str, Any]) -> Call:
    """steps/create_vm_step.rb#update_metadata right after create_vm, and
    instance_updater/update_procedure.rb: ``cloud.set_vm_metadata(vm.cid, metadata)`` (see
    :func:`vm_metadata`); NotImplemented is rescued."""
    return Call("set_vm_metadata", (vm_cid, dict(metadata)))


def calculate_vm_cloud_properties(cpu: int, ram: int, ephemeral_disk_size: int) -> Call:
    """deployment_plan/vm_resources_cache.rb: ``cpi.calculate_vm_cloud_properties(vm_resources)``
    with ``{"cpu", "ram" (MiB), "ephemeral_disk_size" (MiB)}``, all integers (vm_resources.rb)."""
    values = {"cpu": cpu, "ram": ram, "ephemeral_disk_size": ephemeral_disk_size}
    for key, value in values.items():
        _require_int(key, value)
    return Call("calculate_vm_cloud_properties", (values,))


# -- disks --------------------------------------------------------------------------------------
def _require_int(what: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an integer, got {value!r}")


def create_disk(size_mib: int, cloud_properties: Mapping[str, Any], vm_cid: str) -> Call:
    """disk_manager.rb#create_disk: ``cloud.create_disk(disk.size, cloud_properties,
    instance_model.vm_cid)``: size in MiB (an integer), the disk type's cloud_properties, and the
    cid of the instance's VM for locality (the Director always has one; dynamic disks pass a VM
    of the AZ too: jobs/dynamic_disks/create_dynamic_disk.rb)."""
    _require_int("size_mib", size_mib)
    if not isinstance(vm_cid, str) or not vm_cid:
        raise TypeError(f"vm_cid must be a VM cid: the Director always names the VM, got {vm_cid!r}")
    return Call("create_disk", (size_mib, copy.deepcopy(dict(cloud_properties)), vm_cid))


def delete_disk(disk_cid: str) -> Call:
    """orphan_disk_manager.rb#delete_orphan_disk: ``cloud.delete_disk(disk_cid)``; DiskNotFound is
    rescued (the disk counts as deleted)."""
    return Call("delete_disk", (disk_cid,))


def has_disk(disk_cid: str) -> Call:
    """problem_scanner/disk_scan_stage.rb: ``cloud.has_disk(disk_cid)``."""
    return Call("has_disk", (disk_cid,))


def attach_disk(vm_cid: str, disk_cid: str, *, stemcell_api_version: int | None) -> Call:
    """steps/attach_disk_step.rb#perform: ``cloud.attach_disk(vm_cid, disk_cid)`` with the VM's
    stemcell api_version; the answer is the disk hint handed to the agent
    (ExternalCpiResponseWrapper#attach_disk refuses an empty one)."""
    return Call("attach_disk", (vm_cid, disk_cid), stemcell_api_version)


def detach_disk(vm_cid: str, disk_cid: str, *, stemcell_api_version: int | None) -> Call:
    """steps/detach_disk_step.rb#perform: after the agent removed the disk,
    ``cloud.detach_disk(vm_cid, disk_cid)`` with the VM's stemcell api_version; DiskNotAttached
    is rescued for a disk that is not active."""
    return Call("detach_disk", (vm_cid, disk_cid), stemcell_api_version)


def disk_metadata(instance: Instance, *, now: datetime | None = None) -> dict[str, str]:
    """metadata_updater.rb#update_disk_metadata: the deployment's tags, ``director``, then
    ``deployment``, ``instance_id``, ``instance_index`` (a string), ``instance_group`` and
    ``attached_at`` (UTC)."""
    deployment = instance.deployment
    metadata = _tags_and_director(deployment)
    metadata.update({
        "deployment": deployment.name,
        "instance_id": instance.id,
        "instance_index": str(instance.index),
        "instance_group": instance.group,
        "attached_at": _utc_stamp(now),
    })
    return metadata


def set_disk_metadata(disk_cid: str, metadata: Mapping[str, Any]) -> Call:
    """steps/attach_disk_step.rb#perform, right after attach_disk:
    ``cloud.set_disk_metadata(disk_cid, metadata)`` (see :func:`disk_metadata`)."""
    return Call("set_disk_metadata", (disk_cid, dict(metadata)))


def resize_disk(disk_cid: str, new_size_mib: int) -> Call:
    """disk_manager.rb#resize_disk / #cloud_resize_disk: on a detached disk, to a bigger size only
    (use_iaas_native_disk_resize?); NotSupported and NotImplemented make the Director copy instead."""
    _require_int("new_size_mib", new_size_mib)
    return Call("resize_disk", (disk_cid, new_size_mib))


def get_disks(vm_cid: str) -> Call:
    """jobs/snapshot_self.rb: ``cloud.get_disks(vm_id)``."""
    return Call("get_disks", (vm_cid,))


def snapshot_metadata(instance: Instance) -> dict[str, Any]:
    """api/snapshot_manager.rb#take_snapshot: ``deployment``, ``job``, ``index`` (an integer),
    ``director_name``, ``director_uuid``, ``agent_id``, ``instance_id``, then the deployment's
    tags merged over them."""
    deployment = instance.deployment
    metadata: dict[str, Any] = {
        "deployment": deployment.name,
        "job": instance.group,
        "index": instance.index,
        "director_name": deployment.director_name,
        "director_uuid": deployment.director_uuid,
        "agent_id": instance.agent_id,
        "instance_id": instance.id,
    }
    metadata.update({str(k): v for k, v in deployment.tags.items()})
    return metadata


def snapshot_disk(disk_cid: str, metadata: Mapping[str, Any]) -> Call:
    """api/snapshot_manager.rb#take_snapshot: ``cloud.snapshot_disk(disk.disk_cid, metadata)``
    (see :func:`snapshot_metadata`); NotImplemented means "no snapshots"."""
    return Call("snapshot_disk", (disk_cid, dict(metadata)))


def delete_snapshot(snapshot_cid: str) -> Call:
    """api/snapshot_manager.rb#delete_snapshots: ``cloud.delete_snapshot(snapshot_cid)``, then the
    record is removed (orphan_disk_manager.rb rescues DiskNotFound for an orphan's snapshot)."""
    return Call("delete_snapshot", (snapshot_cid,))


# -- stemcells and info -------------------------------------------------------------------------
def create_stemcell(image_path: str, cloud_properties: Mapping[str, Any]) -> Call:
    """jobs/update_stemcell.rb#perform: ``cloud.create_stemcell(image, cloud_properties)`` where
    image is the ``image`` file extracted from the tarball (empty in a light stemcell) and
    cloud_properties the manifest's; a third argument ``{"tags": ...}`` only for CPI API v3
    (ExternalCpiResponseWrapper#create_stemcell)."""
    if not isinstance(image_path, str) or not image_path:
        raise TypeError(f"image_path must be the path of the extracted image file, got {image_path!r}")
    return Call("create_stemcell", (image_path, copy.deepcopy(dict(cloud_properties))))


def delete_stemcell(stemcell_cid: str) -> Call:
    """jobs/helpers/stemcell_deleter.rb: ``cloud.delete_stemcell(stemcell.cid)``; an error fails the
    task unless ``--force``."""
    return Call("delete_stemcell", (stemcell_cid,))


def info() -> Call:
    """cloud_factory.rb#get: ``cloud.info`` before any use of a CPI (api_version, stemcell_formats)."""
    return Call("info")
