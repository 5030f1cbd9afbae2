"""create_vm's choices from cloud_properties and config: flavor, security groups, zone, boot volume.

Each mirrors the official CPI: the flavor is ``instance_type`` (or, given cpu/ram/ephemeral disk,
what calculate_vm_cloud_properties would pick); security groups come from the VM's
cloud_properties or from the networks, never both, else the configured defaults; the zone is the
requested one or that of the disks the VM will get (and they must agree); boot_from_volume builds
a block device mapping sized root_disk.size or the flavor's disk.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from conformance.refcpi import flavors, resources
from conformance.refcpi.errors import CloudError
from conformance.refcpi.networks import NetworkPlan

LOG = logging.getLogger("conformance.refcpi.vm_params")


def _requirements(cloud_properties: dict[str, Any]) -> dict[str, Any] | None:
    eph = cloud_properties.get("ephemeral_disk_size", cloud_properties.get("ephemeral_disk"))
    if cloud_properties.get("cpu") is None or cloud_properties.get("ram") is None:
        return None
    return {"cpu": cloud_properties["cpu"], "ram": cloud_properties["ram"], "ephemeral_disk_size": eph or 0}


def pick_flavor(conn: Any, cloud_properties: dict[str, Any], boot_from_volume: bool) -> Any:
    name = cloud_properties.get("instance_type")
    if not name:
        requirements = _requirements(cloud_properties)
        if requirements is None:
            raise CloudError("cloud_properties.instance_type (or cpu and ram) is required")
        all_flavors = [flavors.FlavorInfo.of(f) for f in conn.compute.flavors(details=True)]
        name = flavors.select(requirements, all_flavors, boot_from_volume)["instance_type"]
    flavor = next((f for f in conn.compute.flavors(details=True) if f.name == name), None)
    if flavor is None:
        raise CloudError(f"Flavor `{name}' not found")
    LOG.debug("Using flavor: `%s'", name)
    return flavor


def security_group_names(
    plan: NetworkPlan, cloud_properties: dict[str, Any], defaults: list[str]
) -> list[str]:
    vm_groups = cloud_properties.get("security_groups") or []
    if not isinstance(vm_groups, list) or not all(isinstance(g, str) for g in vm_groups):
        raise CloudError("cloud_properties.security_groups must be a list of strings")
    if vm_groups and plan.security_groups:
        raise CloudError("Cannot define security groups in both network and resource pool.")
    return list(vm_groups or plan.security_groups or defaults)


def availability_zone(call: Any, cloud_properties: dict[str, Any], disk_cids: list[str]) -> str | None:
    requested = cloud_properties.get("availability_zone")
    if not disk_cids or call.config.get("ignore_server_availability_zone"):
        return requested
    zones = set()
    for disk_cid in disk_cids:
        vol = resources.volume(call.conn, disk_cid)
        if vol is None:
            raise CloudError(f"Volume `{disk_cid}' not found")
        zones.add(vol.availability_zone)
    if len(zones) > 1:
        raise CloudError(f"can't use multiple availability zones: {', '.join(sorted(map(str, zones)))}")
    disk_zone = zones.pop()
    if requested and disk_zone and requested != disk_zone:
        raise CloudError(f"can't use availability zone `{requested}' with disks in `{disk_zone}'")
    return requested or disk_zone


def extra_params(call: Any, image_id: str, flavor: Any, cloud_properties: dict[str, Any]) -> dict[str, Any]:
    """Scheduler hints and, booting from volume, the block device mapping (no imageRef then)."""
    params: dict[str, Any] = {}
    if cloud_properties.get("scheduler_hints"):
        params["scheduler_hints"] = cloud_properties["scheduler_hints"]
    from_volume = cloud_properties.get("boot_from_volume", call.config.get("boot_from_volume"))
    root_size = (cloud_properties.get("root_disk") or {}).get("size")
    if not from_volume:
        if root_size:
            LOG.warning("root_disk.size is only used with boot_from_volume; ignored")
        return params
    size = math.ceil(float(root_size or flavor.disk or 0))  # never less than asked
    if size <= 0:
        raise CloudError("Boot volume size unknown: set root_disk.size or use a flavor with a root disk")
    params["block_device_mapping"] = [
        {
            "uuid": image_id,
            "source_type": "image",
            "destination_type": "volume",
            "volume_size": size,
            "boot_index": 0,
            "delete_on_termination": True,
            "device_name": "/dev/vda",
        }
    ]
    params["image_id"] = ""
    return params
