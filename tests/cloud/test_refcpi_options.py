"""Per-call options of the reference CPI (merged from the request context), against the local cloud."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import test_refcpi_lifecycle as lifecycle

pytestmark = pytest.mark.cloud

# the lifecycle module's fixtures (module scope: this module gets its own stemcell)
cpi, nets, stemcell = lifecycle.cpi, lifecycle.nets, lifecycle.stemcell


def test_boot_from_volume_on_a_light_stemcell(cpi, os_conn, nets, stemcell):
    """boot_from_volume MUST boot from a Cinder volume of root_disk.size GiB, deleted with the VM."""
    light = cpi(
        "create_stemcell", "/unused", {"name": "cfm-test-light", "version": "1", "image_id": stemcell}
    )
    networks = {"d": {"type": "dynamic", "cloud_properties": {"net_id": nets["cfm-dynamic"].id}}}
    cloud_properties = {"instance_type": "cfm.tiny", "root_disk": {"size": 4}}
    cid, _nets = cpi(
        "create_vm",
        f"cfm-test-agent-{uuid.uuid4()}",
        light,
        cloud_properties,
        networks,
        [],
        {},
        context={"boot_from_volume": True},
    )
    try:
        attached = os_conn.compute.get_server(cid).attached_volumes
        volumes = [os_conn.block_storage.get_volume(a["id"]) for a in attached]
        assert [(v.size, v.is_bootable, v.status) for v in volumes] == [(4, True, "in-use")]
    finally:
        cpi("delete_vm", cid)
        cpi("delete_stemcell", light)
    remaining = [
        v for v in (os_conn.block_storage.find_volume(v.id, ignore_missing=True) for v in volumes) if v
    ]
    assert all(v.status == "deleting" for v in remaining), "root volume deleted on termination"


def test_a_clouds_yaml_entry_replaces_inline_credentials(localcloud_facts, tmp_path):
    """``"cloud": "<name>"`` in the openstack section MUST authenticate through clouds.yaml."""
    doc = json.loads(Path(localcloud_facts["cpi_json"]).read_text())
    openstack = doc["cloud"]["properties"]["openstack"]
    for key in (
        "auth_url",
        "username",
        "api_key",
        "project",
        "domain",
        "user_domain_name",
        "project_domain_name",
    ):
        openstack.pop(key, None)
    openstack.update(cloud=localcloud_facts["cloud"], clouds_file=localcloud_facts["clouds_yaml"])
    config = tmp_path / "cpi.json"
    config.write_text(json.dumps(doc))
    by_name = lifecycle.RefCpi(config)
    assert by_name("has_vm", str(uuid.uuid4())) is False
    assert by_name("calculate_vm_cloud_properties", {"cpu": 1, "ram": 256, "ephemeral_disk_size": 0})[
        "instance_type"
    ]


def test_disk_locality_puts_the_vm_in_the_disks_zone(cpi, os_conn, nets, stemcell):
    """create_vm with disk_cids MUST place the server in the availability zone of those disks."""
    disk = cpi("create_disk", 1024, {}, None)
    try:
        zone = os_conn.block_storage.get_volume(disk).availability_zone
        networks = {"d": {"type": "dynamic", "cloud_properties": {"net_id": nets["cfm-dynamic"].id}}}
        cid, _nets = cpi("create_vm", f"cfm-test-agent-{uuid.uuid4()}", stemcell, {"instance_type": "cfm.tiny"},
                         networks, [disk], {})  # fmt: skip
        try:
            assert os_conn.compute.get_server(cid).availability_zone == zone
        finally:
            cpi("delete_vm", cid)
    finally:
        cpi("delete_disk", disk)
