"""conformance.run.lab plays the Director's steps with conformance.cpi.director's requests (no cloud, a stub CPI)."""

from pathlib import Path

import pytest

from conformance.cloud.witness import Witnesses
from conformance.core.cleanup import CleanupStack
from conformance.core.naming import Names
from conformance.cpi import director
from conformance.cpi.errors import CpiError
from conformance.profile import load_profile
from conformance.run.lab import IpPool, Lab

FAKE_PROFILE = Path(__file__).parents[1] / "fixtures" / "profiles" / "fake.yml"


class StubCpi:
    director_uuid = "d-uuid"

    def __init__(self, errors=None):
        self.sent: list[tuple[director.Call, dict | None]] = []
        self.errors = errors or {}

    def send(self, call, *, context=None, timeout=None):
        self.sent.append((call, context))
        if call.method in self.errors:
            raise CpiError(call.method, "cpi-100000", f"Bosh::Clouds::{self.errors[call.method]}", "no", False)
        if call.method == "create_vm":
            return "vm-1", call.arguments[3]
        return {"create_disk": "vol-1", "attach_disk": "/dev/sdb"}.get(call.method)

    def methods(self):
        return [call.method for call, _ in self.sent]


def make_lab(cpi):
    profile = load_profile(FAKE_PROFILE)
    return Lab(profile=profile, cpi=cpi, witnesses=Witnesses([]), conn=None, names=Names("20261201t000000-abcd"),
               net_ids={"a": "net-a"}, pool=IpPool({"a": ["10.10.1.10", "10.10.1.11"]}),
               run_id="20261201t000000-abcd")


def test_boot_vm_sends_create_vm_then_set_vm_metadata_as_the_director_does():
    cpi = StubCpi()
    lab = make_lab(cpi)
    vm = lab.boot_vm(CleanupStack(), "sc-1", vip=False)
    assert cpi.methods() == ["create_vm", "set_vm_metadata"]
    (create, _), (meta, _) = cpi.sent
    agent_id, stemcell, props, networks, disks, env = create.arguments
    assert (agent_id, stemcell, props, disks) == (vm.agent_id, "sc-1", {"instance_type": "m1.tiny"}, [])
    assert create.stemcell_api_version == director.DEFAULT_STEMCELL_API_VERSION == vm.stemcell_api_version
    assert networks == {"a": {"type": "manual", "ip": "10.10.1.10", "prefix": "32", "netmask": "255.255.255.0",
                              "cloud_properties": {"net_id": "net-a"}, "gateway": "10.10.1.1",
                              "default": ["dns", "gateway"]}}
    assert env["bosh"]["tags"] == {"cfm-run": "20261201t000000-abcd"} and env["bosh"]["group"]
    assert meta.arguments[0] == "vm-1" and meta.arguments[1]["id"] == vm.instance.id
    assert meta.arguments[1]["name"] == vm.instance.name


def test_the_stemcell_api_version_comes_from_the_manifest_once_known():
    cpi = StubCpi()
    lab = make_lab(cpi)
    lab.remember_stemcell("sc-3", {"api_version": 3})
    lab.remember_stemcell("sc-old", {})
    assert lab.boot_vm(CleanupStack(), "sc-3", vip=False).stemcell_api_version == 3
    assert lab.boot_vm(CleanupStack(), "sc-old", vip=False).stemcell_api_version is None


def test_set_vm_metadata_not_implemented_is_rescued_like_the_director():
    lab = make_lab(StubCpi(errors={"set_vm_metadata": "NotImplemented"}))
    assert lab.boot_vm(CleanupStack(), "sc-1", vip=False).cid == "vm-1"
    with pytest.raises(CpiError):
        make_lab(StubCpi(errors={"set_vm_metadata": "CloudError"})).boot_vm(CleanupStack(), "sc-1", vip=False)


def test_vm_context_travels_with_every_call_on_that_vm():
    cpi = StubCpi()
    lab = make_lab(cpi)
    stack = CleanupStack()
    vm = lab.boot_vm(stack, "sc-1", vip=False, context={"config_drive": "disk"})
    stack.run()
    assert [(c.method, ctx) for c, ctx in cpi.sent] == [("create_vm", {"config_drive": "disk"}),
                                                        ("set_vm_metadata", {"config_drive": "disk"}),
                                                        ("delete_vm", {"config_drive": "disk"})]
    assert cpi.sent[-1][0].stemcell_api_version == vm.stemcell_api_version


def test_create_disk_names_the_vm_and_attach_tags_the_disk():
    cpi = StubCpi()
    lab = make_lab(cpi)
    stack = CleanupStack()
    vm = lab.boot_vm(stack, "sc-1", vip=False)
    disk = lab.create_disk(stack, vm_cid=vm.cid)
    assert lab.attach_disk(stack, vm, disk) == "/dev/sdb"
    assert cpi.methods()[2:] == ["create_disk", "attach_disk", "set_disk_metadata"]
    create, attach, tag = (c for c, _ in cpi.sent[2:])
    assert create.arguments == (1024, {}, "vm-1")
    assert attach.arguments == ("vm-1", "vol-1") and attach.stemcell_api_version == vm.stemcell_api_version
    assert tag.arguments[1]["instance_id"] == vm.instance.id


def test_cleanup_detach_tolerates_disk_not_attached_only():
    cpi = StubCpi(errors={"detach_disk": "DiskNotAttached"})
    lab = make_lab(cpi)
    stack = CleanupStack()
    vm = lab.boot_vm(stack, "sc-1", vip=False)
    lab.attach_disk(stack, vm, lab.create_disk(stack, vm_cid=vm.cid))
    stack.run()
    assert cpi.methods()[-3:] == ["detach_disk", "delete_disk", "delete_vm"]
    with pytest.raises(CpiError):
        lab.detach_disk_and_verify(vm, "vol-1")


def test_send_gone_answers_ok_or_the_rescued_type():
    lab = make_lab(StubCpi(errors={"delete_vm": "VMNotFound", "delete_stemcell": "VMNotFound"}))
    assert lab.send_gone(director.delete_vm("vm-9", stemcell_api_version=2)) == "VMNotFound"
    assert lab.send_gone(director.delete_disk("vol-9")) == "ok"
    with pytest.raises(CpiError):
        lab.send_gone(director.delete_stemcell("sc-9"))


def test_a_range_in_vip_addresses_gives_one_floating_ip_per_vm(tmp_path):
    """networks.vip.addresses may hold ranges: the lab hands create_vm single addresses, never a range."""
    import yaml

    doc = yaml.safe_load(FAKE_PROFILE.read_text())
    doc["networks"]["vip"] = {"name": "vip", "floating_network": "public",
                              "addresses": ["172.24.4.10-172.24.4.12", "172.24.4.20"]}
    (tmp_path / "dummy_key").write_bytes((FAKE_PROFILE.parent / "dummy_key").read_bytes())
    (tmp_path / "p.yml").write_text(yaml.safe_dump(doc))
    lab = Lab(profile=load_profile(tmp_path / "p.yml"), cpi=StubCpi(), witnesses=Witnesses([]), conn=None,
              names=Names("20261201t000000-abcd"), net_ids={"a": "net-a"}, pool=IpPool({"a": ["10.10.1.10"]}),
              run_id="20261201t000000-abcd")
    assert lab.vip_pool == ["172.24.4.10", "172.24.4.11", "172.24.4.12", "172.24.4.20"]


def test_without_a_witness_that_sees_ports_every_static_ip_is_used():
    from types import SimpleNamespace

    from conformance.run.fixtures import _without_held_addresses

    slices = {"manual-a": ["10.10.1.60", "10.10.1.61"]}
    assert _without_held_addresses(Witnesses([]), slices, {"manual-a": "net-a"}, SimpleNamespace(say=print)) == slices


def test_static_ips_held_by_ports_in_the_project_are_left_out_and_said():
    from types import SimpleNamespace

    from conformance.cloud.openstack import OpenStackWitness
    from conformance.profile import Timeouts
    from conformance.run.fixtures import _without_held_addresses

    leftover = SimpleNamespace(id="port-1", name="vm-x-manual-a", device_id="", created_at="2026-12-02T03:34:49Z",
                               fixed_ips=[{"ip_address": "10.10.1.60"}])
    listed = []

    def ports(network_id):
        listed.append(network_id)
        return [leftover] if network_id == "net-a" else []

    said = []
    conn = SimpleNamespace(network=SimpleNamespace(ports=ports))
    run = SimpleNamespace(say=said.append)
    witnesses = Witnesses([OpenStackWitness.over(conn, Timeouts())])
    free = _without_held_addresses(witnesses, {"manual-a": ["10.10.1.60", "10.10.1.61"], "manual-b": ["10.10.2.60"]},
                                   {"manual-a": "net-a", "manual-b": "net-b"}, run)
    assert free == {"manual-a": ["10.10.1.61"], "manual-b": ["10.10.2.60"]}
    assert listed == ["net-a", "net-b"]
    assert len(said) == 1 and "10.10.1.60" in said[0] and "port-1" in said[0] and "conformance cleanup" in said[0]
