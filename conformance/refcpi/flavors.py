"""Flavor choice for calculate_vm_cloud_properties, as the official CPI's InstanceTypeMapper (pure).

A flavor fits when vcpus >= cpu and ram >= ram (MiB) and it is not disabled; then, booting from
the image: a flavor whose ephemeral disk holds ephemeral_disk_size and whose root disk has the
3 GiB OS overhead, else (only if none) a flavor without ephemeral disk whose root disk holds both.
Booting from volume, the root volume can be sized freely. The closest match is the smallest by
(vcpus, ram, disk + ephemeral, disk). A root disk under 3 GiB gets ``root_disk.size``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from conformance.refcpi.errors import CloudError

OS_OVERHEAD_GIB = 3
REQUIRED = ("cpu", "ram", "ephemeral_disk_size")


@dataclass(frozen=True)
class FlavorInfo:
    name: str
    vcpus: int
    ram: int  # MiB
    disk: int  # GiB root
    ephemeral: int = 0  # GiB
    swap: int = 0  # MiB
    disabled: bool = False

    @classmethod
    def of(cls, flavor: Any) -> FlavorInfo:
        """From an openstacksdk Flavor (or anything with the same attributes)."""
        swap = getattr(flavor, "swap", 0)
        return cls(
            name=flavor.name,
            vcpus=int(flavor.vcpus or 0),
            ram=int(flavor.ram or 0),
            disk=int(flavor.disk or 0),
            ephemeral=int(getattr(flavor, "ephemeral", 0) or 0),
            swap=int(swap) if str(swap or "").isdigit() else 0,
            disabled=bool(getattr(flavor, "is_disabled", False)),
        )


def check_requirements(requirements: Any) -> dict[str, float]:
    if not isinstance(requirements, dict):
        raise CloudError("VM requirements must be an object with cpu, ram and ephemeral_disk_size")
    missing = [f"'{k}'" for k in REQUIRED if requirements.get(k) is None]
    if missing:
        raise CloudError(f"Missing VM cloud properties: {', '.join(missing)}")
    bad = [
        k
        for k in REQUIRED
        if isinstance(requirements[k], bool) or not isinstance(requirements[k], int | float)
    ]
    if bad:
        raise CloudError(f"VM cloud properties must be numbers: {', '.join(bad)}")
    return {k: requirements[k] for k in REQUIRED}


def _candidates(req: dict[str, float], flavors: list[FlavorInfo], boot_from_volume: bool) -> list[FlavorInfo]:
    valid = [f for f in flavors if f.vcpus >= req["cpu"] and f.ram >= req["ram"] and not f.disabled]
    eph_gib = req["ephemeral_disk_size"] / 1024.0
    if boot_from_volume:
        with_eph = [f for f in valid if f.ephemeral >= eph_gib]
        return with_eph or [f for f in valid if f.ephemeral == 0]
    with_eph = [f for f in valid if f.ephemeral >= math.ceil(eph_gib) and f.disk >= OS_OVERHEAD_GIB]
    if with_eph:
        return with_eph
    return [f for f in valid if f.ephemeral == 0 and f.disk >= math.ceil(eph_gib) + OS_OVERHEAD_GIB]


def select(requirements: Any, flavors: list[FlavorInfo], boot_from_volume: bool = False) -> dict[str, Any]:
    """The cloud_properties for the closest fitting flavor. Raises CloudError listing the flavors."""
    req = check_requirements(requirements)
    fitting = _candidates(req, flavors, boot_from_volume)
    if not fitting:
        listing = "".join(f"{f.name}: {f.vcpus} CPU, {f.ram} MB RAM, {f.disk} GB Disk\n" for f in flavors)
        raise CloudError(
            f"Unable to meet requested VM requirements: {req['cpu']} CPU, {req['ram']} MB RAM, "
            f"{req['ephemeral_disk_size'] / 1024.0} GB Disk.\nAvailable flavors:\n{listing}"
        )
    best = min(fitting, key=lambda f: (f.vcpus, f.ram, f.disk + f.ephemeral, f.disk))
    if best.disk >= OS_OVERHEAD_GIB:
        return {"instance_type": best.name}
    root = OS_OVERHEAD_GIB + (math.ceil(req["ephemeral_disk_size"] / 1024.0) if best.ephemeral == 0 else 0)
    return {"instance_type": best.name, "root_disk": {"size": root}}


def check_ephemeral(flavor: FlavorInfo) -> None:
    """A flavor with an ephemeral disk needs at least twice its RAM there (swap + /var/vcap/data)."""
    minimum = (flavor.ram // 1024) * 2
    if flavor.ephemeral > 0 and flavor.ephemeral < minimum:
        raise CloudError(f"Flavor `{flavor.name}' should have at least {minimum}Gb of ephemeral disk")


def first_device_letter(flavor: FlavorInfo | None, config_drive: str | None) -> str:
    """Letter of the first persistent disk: b, moved on by ephemeral, swap and a 'disk' config drive."""
    letter = ord("b")
    if flavor is not None:
        letter += (flavor.ephemeral > 0) + (flavor.swap > 0)
    letter += config_drive == "disk"
    return chr(letter)


def device_name(taken: list[str], first_letter: str) -> str | None:
    """First /dev/sdX not taken in any of its sd/vd/xvd spellings, as the official CPI picks."""
    for code in range(ord(first_letter), ord("z") + 1):
        char = chr(code)
        if not {f"/dev/sd{char}", f"/dev/vd{char}", f"/dev/xvd{char}"} & set(taken):
            return f"/dev/sd{char}"
    return None
