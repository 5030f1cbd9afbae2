"""create_stemcell / delete_stemcell: heavy stemcells uploaded to Glance, light ones only checked.

A heavy stemcell's ``image`` member is a tgz holding root.img: it is unpacked into a private temp
dir (parallel calls never share a path) and root.img is uploaded with the stemcell.MF
cloud_properties as image properties, named ``<name>/<version>`` as the official CPI does. A light
stemcell (``image_id`` in cloud_properties) must name an active image; its cid is "<id> light" and
deleting it leaves Glance alone.
"""

from __future__ import annotations

import logging
import os
import tarfile
import tempfile
from typing import Any

from conformance.refcpi.errors import CloudError

LOG = logging.getLogger("conformance.refcpi.stemcells")
LIGHT_SUFFIX = " light"
#: stemcell.MF cloud_properties that become Glance image properties (hypervisor -> hypervisor_type)
IMAGE_OPTIONS = (
    "version",
    "os_type",
    "os_distro",
    "architecture",
    "auto_disk_config",
    "hw_vif_model",
    "hw_disk_bus_model",
    "hw_scsi_model",
    "hw_disk_bus",
    "hypervisor_type",
    "vmware_adaptertype",
    "vmware_disktype",
    "vmware_linked_clone",
    "vmware_ostype",
)


def image_id(stemcell_cid: str) -> str:
    """The Glance image id behind a stemcell cid (light cids carry a " light" suffix)."""
    return stemcell_cid.removesuffix(LIGHT_SUFFIX).strip()


def image_properties(cloud_properties: dict[str, Any], env: dict[str, Any] | None = None) -> dict[str, str]:
    props = {}
    for option in IMAGE_OPTIONS:
        source = "hypervisor" if option == "hypervisor_type" else option
        if cloud_properties.get(source) is not None:
            props[option] = str(cloud_properties[source])
    for key, value in ((env or {}).get("tags") or {}).items():  # CPI API v3: env.tags
        props[str(key)] = str(value)
    return props


def _unpack_root_image(image_path: str, tmp_dir: str) -> str:
    try:
        with tarfile.open(image_path, "r:*") as archive:
            member = next((m for m in archive.getmembers() if os.path.normpath(m.name) == "root.img"), None)
            if member is None or not member.isfile():
                raise CloudError("Root image is missing from stemcell archive")
            archive.extract(member, tmp_dir, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise CloudError(f"Extracting stemcell root image failed: {type(exc).__name__}: {exc}") from None
    return os.path.join(tmp_dir, "root.img")


def _create_light(call, cloud_properties: dict[str, Any]) -> str:
    wanted = cloud_properties["image_id"]
    LOG.info("Checking for image with id '%s' referenced by light stemcell", wanted)
    image = call.conn.image.find_image(wanted, ignore_missing=True)
    if image is None or image.status != "active":
        raise CloudError(
            f"No active image with id '{wanted}' referenced by light stemcell found in OpenStack."
        )
    return f"{image.id}{LIGHT_SUFFIX}"


def _wait_active(call, image_id_: str) -> None:
    call.wait(
        lambda: call.conn.image.find_image(image_id_, ignore_missing=True),
        what=f"image {image_id_} to become active",
        ready=lambda img: img is not None and img.status == "active",
        failed=lambda img: f"image status {img.status}" if img.status in ("killed", "deleted") else None,
    )


def create_stemcell(
    call, image_path: str, cloud_properties: dict[str, Any], env: dict[str, Any] | None = None
) -> str:
    if not isinstance(cloud_properties, dict):
        raise CloudError("create_stemcell: cloud_properties must be an object")
    if cloud_properties.get("image_id"):
        return _create_light(call, cloud_properties)
    name = f"{cloud_properties.get('name')}/{cloud_properties.get('version')}"
    visibility = "public" if call.config.get("stemcell_public_visibility") else "private"
    with tempfile.TemporaryDirectory(prefix="refcpi-stemcell-") as tmp_dir:
        root_img = _unpack_root_image(image_path, tmp_dir)
        LOG.info("Uploading %s (%d bytes) as image %s", root_img, os.path.getsize(root_img), name)
        image = call.conn.image.create_image(
            name,
            filename=root_img,
            disk_format=cloud_properties.get("disk_format", "qcow2"),
            container_format=cloud_properties.get("container_format", "bare"),
            allow_duplicates=True,
            disable_vendor_agent=False,
            meta={"visibility": visibility},
            wait=False,
            **image_properties(cloud_properties, env),
        )
    try:
        _wait_active(call, image.id)
    except CloudError:
        call.conn.image.delete_image(image.id, ignore_missing=True)
        raise
    LOG.info("Stemcell image %s is active", image.id)
    return image.id


def delete_stemcell(call, stemcell_cid: str) -> None:
    if stemcell_cid.endswith(LIGHT_SUFFIX):
        LOG.info("Light stemcell %s: the image stays in Glance", stemcell_cid)
        return None
    image = call.conn.image.find_image(image_id(stemcell_cid), ignore_missing=True)
    if image is None:
        LOG.info("Stemcell `%s' not found. Skipping.", stemcell_cid)
        return None
    call.conn.image.delete_image(image.id, ignore_missing=True)
    LOG.info("Stemcell `%s' is now deleted", stemcell_cid)
    return None
