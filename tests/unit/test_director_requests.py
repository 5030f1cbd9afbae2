"""conformance.cpi.director: every request has the shape, keys and value types a BOSH Director sends."""

import ipaddress
import json
import random
import re
import uuid
from datetime import UTC, datetime

import pytest

from conformance.cpi import director

DEPLOYMENT = director.Deployment("cfm-conformance", "d-uuid", "cfm-20261201t000000-abcd",
                                 {"cfm-run": "20261201t000000-abcd"})
NOW = datetime(2026, 12, 1, 9, 30, 5, tzinfo=UTC)


def instance(index=3):
    return director.new_instance(DEPLOYMENT, "conformance", index)


def is_uuid(text) -> bool:
    return isinstance(text, str) and str(uuid.UUID(text)) == text


# -- envelope ------------------------------------------------------------------------------------
def test_request_id_is_cpi_and_six_digits():
    rng = random.Random(1)
    ids = [director.new_request_id(rng) for _ in range(200)]
    assert all(re.fullmatch(r"cpi-[1-9]\d{5}", rid) for rid in ids), ids[:5]


def test_context_has_director_uuid_request_id_and_vm_only_when_a_stemcell_version_is_known():
    assert director.context("d", "cpi-123456") == {"director_uuid": "d", "request_id": "cpi-123456"}
    ctx = director.context("d", "cpi-123456", stemcell_api_version=3, cpi_properties={"config_drive": "disk"})
    assert ctx == {"director_uuid": "d", "request_id": "cpi-123456", "vm": {"stemcell": {"api_version": 3}},
                   "config_drive": "disk"}


def test_only_vm_calls_carry_the_stemcell_version():
    assert director.STEMCELL_CONTEXT_METHODS == {"create_vm", "delete_vm", "attach_disk", "detach_disk"}
    assert director.delete_vm("vm-1", stemcell_api_version=2).stemcell_api_version == 2
    assert director.attach_disk("vm-1", "vol-1", stemcell_api_version=2).stemcell_api_version == 2
    assert director.detach_disk("vm-1", "vol-1", stemcell_api_version=None).stemcell_api_version is None
    for call in (director.has_vm("vm-1"), director.reboot_vm("vm-1"), director.set_vm_metadata("vm-1", {}),
                 director.create_disk(1024, {}, "vm-1"), director.delete_disk("d"), director.has_disk("d"),
                 director.set_disk_metadata("d", {}), director.resize_disk("d", 2048), director.get_disks("vm-1"),
                 director.snapshot_disk("d", {}), director.delete_snapshot("s"), director.info(),
                 director.create_stemcell("/tmp/image", {}), director.delete_stemcell("sc"),
                 director.calculate_vm_cloud_properties(1, 512, 1024)):
        assert call.stemcell_api_version is None, call.method


# -- instances and names ---------------------------------------------------------------------------
def test_a_new_instance_has_uuid_id_and_agent_id():
    one, two = instance(0), instance(1)
    assert is_uuid(one.id) and is_uuid(one.agent_id) and one.id != one.agent_id
    assert one.agent_id != two.agent_id and one.name == f"conformance/{one.id}"
    with pytest.raises(ValueError):
        director.new_instance(DEPLOYMENT, "g", -1)


@pytest.mark.parametrize("name, canonical", [("My_Group", "my-group"), ("a.b c", "abc"), ("x-1", "x-1")])
def test_canonicalize_like_the_director(name, canonical):
    assert director.canonicalize(name) == canonical


def test_canonicalize_refuses_edge_hyphens():
    with pytest.raises(ValueError, match="hyphen"):
        director.canonicalize("_x")


# -- create_vm ---------------------------------------------------------------------------------------
def manual(ip="10.0.1.10", **kw):
    return director.manual_network(ip=ip, netmask="255.255.255.0", gateway="10.0.1.1", dns=["10.0.1.2"],
                                   cloud_properties={"net_id": "n1"}, **kw)


def test_manual_network_keys_and_types():
    spec = manual()
    assert spec == {"type": "manual", "ip": "10.0.1.10", "prefix": "32", "netmask": "255.255.255.0",
                    "cloud_properties": {"net_id": "n1"}, "dns": ["10.0.1.2"], "gateway": "10.0.1.1"}
    bare = director.manual_network(ip=ipaddress.IPv4Address("10.0.1.11"), netmask="255.255.255.0",
                                   cloud_properties={})
    assert set(bare) == {"type", "ip", "prefix", "netmask", "cloud_properties"} and bare["ip"] == "10.0.1.11"


def test_dynamic_and_vip_networks():
    assert director.dynamic_network(cloud_properties={"net_id": "n2"}) == {
        "type": "dynamic", "cloud_properties": {"net_id": "n2"}, "prefix": "32"}
    assert director.vip_network(ip="172.24.4.20") == {"type": "vip", "ip": "172.24.4.20", "cloud_properties": {},
                                                      "prefix": "32"}


def test_a_lone_network_is_the_default_for_dns_and_gateway():
    settings = director.network_settings({"a": manual()})
    assert settings["a"]["default"] == ["dns", "gateway"]


def test_with_several_networks_only_the_named_one_is_default():
    networks = {"a": manual(), "b": manual("10.0.2.10"), "pub": director.vip_network(ip="172.24.4.20")}
    settings = director.network_settings(networks, default="a")
    assert [n for n, s in settings.items() if "default" in s] == ["a"]
    assert "default" not in networks["a"], "the builder copies, it does not change its input"
    with pytest.raises(ValueError, match="JobNetworkMissingDefault"):
        director.network_settings(networks)
    with pytest.raises(ValueError, match="vip"):
        director.network_settings(networks, default="pub")


def test_cloud_properties_merge_az_then_vm_type_then_extensions():
    props = director.vm_cloud_properties({"instance_type": "m1", "availability_zone": "z2"},
                                         az={"availability_zone": "z1", "x": 1}, vm_extensions=[{"x": 2}])
    assert props == {"availability_zone": "z2", "x": 2, "instance_type": "m1"}


def test_agent_env_has_group_groups_and_tags_as_the_director_builds_them():
    inst = instance()
    env = director.agent_env(inst, base={"bosh": {"keep_root_password": True}, "other": 1},
                             director_agent_env={"keep_root_password": False, "x": "y"})
    bosh = env["bosh"]
    name = DEPLOYMENT.name
    assert bosh["group"] == f"cfm-conformance-{name}-conformance"
    assert bosh["groups"] == ["cfm-conformance", name, "conformance", f"cfm-conformance-{name}",
                              f"{name}-conformance", f"cfm-conformance-{name}-conformance"]
    assert bosh["tags"] == {"cfm-run": "20261201t000000-abcd"}
    assert bosh["keep_root_password"] is True and bosh["x"] == "y" and env["other"] == 1
    assert "password" not in bosh


def test_agent_env_without_tags_has_no_tags_key():
    bare = director.Deployment("d", "u", "dep")
    assert "tags" not in director.agent_env(director.new_instance(bare, "g", 0))["bosh"]


def test_create_vm_arguments():
    inst = instance()
    call = director.create_vm(inst.agent_id, "sc-1", {"instance_type": "m1"}, {"a": manual()}, ["vol-1"],
                              director.agent_env(inst), stemcell_api_version=2)
    assert call.method == "create_vm" and call.stemcell_api_version == 2
    agent_id, stemcell, props, networks, disks, env = call.arguments
    assert (agent_id, stemcell, props, disks) == (inst.agent_id, "sc-1", {"instance_type": "m1"}, ["vol-1"])
    assert isinstance(networks, dict) and isinstance(env["bosh"]["groups"], list)
    json.dumps(call.arguments)  # the request is JSON as it stands
    with pytest.raises(TypeError):
        director.create_vm("a", "s", {}, {}, [None], {}, stemcell_api_version=2)


# -- metadata ------------------------------------------------------------------------------------------
def test_vm_metadata_keys_and_string_values():
    inst = instance(3)
    meta = director.vm_metadata(inst, now=NOW)
    assert meta == {"cfm-run": "20261201t000000-abcd", "director": "cfm-conformance", "deployment": DEPLOYMENT.name,
                    "id": inst.id, "job": "conformance", "instance_group": "conformance", "index": "3",
                    "name": f"conformance/{inst.id}", "created_at": "2026-12-01T09:30:05Z"}
    assert director.set_vm_metadata("vm-1", meta).arguments == ("vm-1", meta)


def test_tags_cannot_override_the_default_vm_tags():
    dep = director.Deployment("dir", "u", "dep", {"deployment": "evil", "team": "a"})
    meta = director.vm_metadata(director.new_instance(dep, "g", 0), now=NOW)
    assert meta["deployment"] == "dep" and meta["team"] == "a"


def test_disk_metadata_keys():
    inst = instance(1)
    meta = director.disk_metadata(inst, now=NOW)
    assert meta == {"cfm-run": "20261201t000000-abcd", "director": "cfm-conformance", "deployment": DEPLOYMENT.name,
                    "instance_id": inst.id, "instance_index": "1", "instance_group": "conformance",
                    "attached_at": "2026-12-01T09:30:05Z"}
    assert all(isinstance(v, str) for v in meta.values())


def test_snapshot_metadata_has_what_the_official_cpi_needs():
    inst = instance(2)
    meta = director.snapshot_metadata(inst)
    assert set(meta) == {"deployment", "job", "index", "director_name", "director_uuid", "agent_id", "instance_id",
                         "cfm-run"}
    assert meta["index"] == 2 and isinstance(meta["index"], int), "snapshot_manager.rb sends index as an integer"
    assert meta["job"] + "/" + meta["instance_id"] == inst.name
    assert (meta["director_uuid"], meta["agent_id"]) == ("d-uuid", inst.agent_id)


# -- disks and the rest --------------------------------------------------------------------------------
def test_create_disk_takes_integer_mib_and_names_the_vm():
    assert director.create_disk(1500, {"type": "ssd"}, "vm-1").arguments == (1500, {"type": "ssd"}, "vm-1")
    with pytest.raises(TypeError):
        director.create_disk(1.5, {}, "vm-1")
    with pytest.raises(TypeError):
        director.create_disk(True, {}, "vm-1")
    with pytest.raises(TypeError, match="always names the VM"):
        director.create_disk(1024, {}, None)


def test_resize_and_calculate_take_integers():
    assert director.resize_disk("d", 2048).arguments == ("d", 2048)
    with pytest.raises(TypeError):
        director.resize_disk("d", "2048")
    call = director.calculate_vm_cloud_properties(cpu=1, ram=512, ephemeral_disk_size=1024)
    assert call.arguments == ({"cpu": 1, "ram": 512, "ephemeral_disk_size": 1024},)


def test_stemcell_calls_take_two_arguments():
    assert director.create_stemcell("/x/image", {"name": "s"}).arguments == ("/x/image", {"name": "s"})
    with pytest.raises(TypeError):
        director.create_stemcell("", {})
    assert director.info().arguments == ()


def test_builders_copy_what_they_are_given():
    props = {"net_id": "n1"}
    spec = director.manual_network(ip="10.0.0.2", netmask="255.0.0.0", cloud_properties=props)
    spec["cloud_properties"]["net_id"] = "changed"
    assert props == {"net_id": "n1"}


def test_gone_errors_are_the_ones_the_director_rescues():
    assert director.GONE_ERRORS == {"delete_vm": "VMNotFound", "detach_disk": "DiskNotAttached",
                                    "delete_disk": "DiskNotFound", "delete_snapshot": "DiskNotFound"}
