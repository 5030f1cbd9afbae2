"""The reference CPI's pure parts: agent settings, network rules, flavor choice, device names, scrubbing."""

from __future__ import annotations

import ast
import pathlib
import sys

import pytest

from conformance.refcpi import flavors, networks, settings
from conformance.refcpi.errors import CloudError
from conformance.refcpi.logs import REDACTED, CaptureHandler, Scrubber

pytestmark = pytest.mark.unit

NET_A = {
    "type": "manual",
    "ip": "10.0.1.10",
    "netmask": "255.255.255.0",
    "gateway": "10.0.1.1",
    "dns": ["10.0.1.2"],
    "default": ["dns", "gateway"],
    "cloud_properties": {"net_id": "net-a"},
}
NET_B = {
    "type": "manual",
    "ip": "10.0.2.10",
    "netmask": "255.255.255.0",
    "cloud_properties": {"net_id": "net-b"},
}
VIP = {"type": "vip", "ip": "172.24.4.20", "cloud_properties": {}}


def test_agent_settings_match_the_official_registryless_shape():
    nets = settings.agent_networks({"a": NET_A, "pub": VIP}, use_dhcp=False, macs={"a": "fa:16:3e:00:00:01"})
    got = settings.agent_settings(
        server_name="vm-1",
        agent_id="agent-1",
        networks=nets,
        env={"bosh": {"group": "g"}},
        has_ephemeral=False,
        agent={"mbus": "nats://m", "ntp": ["10.0.0.1"]},
    )
    assert got["server"] == {"name": "vm-1"} and got["vm"] == {"name": "vm-1"}
    assert got["agent_id"] == "agent-1"
    assert got["networks"]["a"]["mac"] == "fa:16:3e:00:00:01" and got["networks"]["a"]["use_dhcp"] is False
    assert "use_dhcp" not in got["networks"]["pub"], "vip networks pass through"
    assert got["disks"] == {"system": "/dev/sda", "ephemeral": None, "persistent": {}}
    assert got["dns"] == {"nameserver": ["10.0.1.2"]}
    assert got["env"] == {"bosh": {"group": "g"}}
    assert got["mbus"] == "nats://m" and got["ntp"] == ["10.0.0.1"], "agent block at top level"
    assert "mac" not in NET_A, "the request's networks are not mutated"


def test_ephemeral_disk_hint_follows_the_flavor():
    got = settings.agent_settings(
        server_name="s", agent_id="a", networks={}, env=None, has_ephemeral=True, agent={}
    )
    assert got["disks"]["ephemeral"] == "/dev/sdb" and "env" not in got and "dns" not in got


def test_nameservers_prefer_the_network_that_is_default_for_dns():
    other = dict(NET_B, dns=["8.8.8.8"])
    assert settings.nameservers({"b": other, "a": NET_A}) == ["10.0.1.2"]
    assert settings.nameservers({"b": other}) == ["8.8.8.8"]


def test_two_manual_networks_need_static_settings_and_a_config_drive():
    spec = {"a": NET_A, "b": NET_B, "pub": VIP}
    with pytest.raises(CloudError, match="Multiple manual networks"):
        networks.plan(spec, use_dhcp=True, config_drive="cdrom")
    with pytest.raises(CloudError, match="Multiple manual networks"):
        networks.plan(spec, use_dhcp=False, config_drive=None)
    plan = networks.plan(spec, use_dhcp=False, config_drive="cdrom")
    assert [n.net_id for n in plan.manual] == ["net-a", "net-b"]
    assert plan.vip == ("pub", "172.24.4.20", {}) and plan.gateway_nic(spec).name == "a"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"p": VIP}, "At least one dynamic or manual network"),
        ({"a": {"type": "manual", "ip": "10.0.0.2", "cloud_properties": {}}}, "must have net_id"),
        ({"a": NET_A, "a2": dict(NET_A)}, "already defined"),
        ({"d": {"type": "dynamic"}, "e": {"type": "dynamic"}}, "Only one dynamic"),
        ({"a": NET_A, "p": VIP, "q": VIP}, "Only one VIP"),
        ({"a": NET_A, "p": {"type": "vip", "cloud_properties": {}}}, "VIP network `p' has no ip"),
        ({"x": {"type": "bridge"}}, "Invalid network type"),
        ({"a": dict(NET_A, cloud_properties={"net_id": "n", "security_groups": "sg"})}, "must be an Array"),
        ([], "Hash expected"),
    ],
)
def test_bad_network_specs_are_cloud_errors(spec, message):
    with pytest.raises(CloudError, match=message):
        networks.plan(spec, use_dhcp=False, config_drive="cdrom")


FLAVORS = [
    flavors.FlavorInfo("tiny", vcpus=1, ram=512, disk=1),
    flavors.FlavorInfo("small", vcpus=1, ram=1024, disk=5),
    flavors.FlavorInfo("eph", vcpus=1, ram=1024, disk=3, ephemeral=10),
    flavors.FlavorInfo("big", vcpus=4, ram=8192, disk=40),
    flavors.FlavorInfo("off", vcpus=1, ram=1024, disk=40, disabled=True),
]


@pytest.mark.parametrize(
    ("req", "expected"),
    [
        ({"cpu": 1, "ram": 512, "ephemeral_disk_size": 1024}, {"instance_type": "eph"}),
        ({"cpu": 1, "ram": 512, "ephemeral_disk_size": 20 * 1024}, {"instance_type": "big"}),
        ({"cpu": 2, "ram": 1024, "ephemeral_disk_size": 0}, {"instance_type": "big"}),
        ({"cpu": 1, "ram": 512, "ephemeral_disk_size": 0}, {"instance_type": "small"}),
    ],
)
def test_flavor_choice_is_the_smallest_that_fits(req, expected):
    assert flavors.select(req, FLAVORS) == expected


def test_flavor_without_3gib_root_gets_a_root_disk_size_when_booting_from_volume():
    got = flavors.select(
        {"cpu": 1, "ram": 256, "ephemeral_disk_size": 2048}, FLAVORS[:1], boot_from_volume=True
    )
    assert got == {"instance_type": "tiny", "root_disk": {"size": 5.0}}
    odd = flavors.select({"cpu": 1, "ram": 256, "ephemeral_disk_size": 1500}, FLAVORS[:1], boot_from_volume=True)
    assert odd == {"instance_type": "tiny", "root_disk": {"size": 5}}, "1500 MiB ephemeral rounds up to 2 GiB"


def test_no_fitting_flavor_lists_the_flavors():
    with pytest.raises(CloudError, match=r"Unable to meet requested VM requirements(.|\n)*tiny: 1 CPU"):
        flavors.select({"cpu": 64, "ram": 1, "ephemeral_disk_size": 0}, FLAVORS)
    with pytest.raises(CloudError, match="Missing VM cloud properties: 'ram'"):
        flavors.select({"cpu": 1, "ephemeral_disk_size": 0}, FLAVORS)


def test_device_names_skip_taken_letters_in_any_spelling():
    assert flavors.first_device_letter(flavors.FlavorInfo("f", 1, 1024, 3), "cdrom") == "b"
    assert (
        flavors.first_device_letter(flavors.FlavorInfo("f", 1, 1024, 3, ephemeral=4, swap=512), "disk") == "e"
    )
    assert flavors.device_name(["/dev/vda", "/dev/vdb", "/dev/xvdc"], "b") == "/dev/sdd"
    assert flavors.device_name([f"/dev/sd{chr(c)}" for c in range(98, 123)], "b") is None


def test_ephemeral_disk_must_hold_twice_the_ram():
    with pytest.raises(CloudError, match="at least 4Gb of ephemeral disk"):
        flavors.check_ephemeral(flavors.FlavorInfo("f", 1, 2048, 3, ephemeral=2))


def test_scrubber_masks_known_values_and_secret_shapes():
    scrubber = Scrubber()
    scrubber.add("hunter2-very-secret")
    text = scrubber.scrub(
        'auth failed for hunter2-very-secret; X-Auth-Token: gAAAAABtoken123 {"password": "other-pw"}'
    )
    assert "hunter2" not in text and "gAAAAABtoken123" not in text and "other-pw" not in text
    assert text.count(REDACTED) == 3
    assert scrubber.scrub_value({"a": ["x hunter2-very-secret"]}) == {"a": [f"x {REDACTED}"]}
    assert scrubber.scrub("openstack.api_key is required") == "openstack.api_key is required"


def test_log_capture_keeps_the_tail_within_its_bound(capsys):
    import logging

    handler = CaptureHandler(Scrubber(), limit=2000)
    log = logging.getLogger("refcpi-test-capture")
    log.addHandler(handler)
    log.propagate = False
    for i in range(200):
        log.warning("line %03d %s", i, "x" * 40)
    text = handler.text()
    assert len(text) < 2200 and "line 199" in text and "earlier log dropped" in text
    assert "line 199" in capsys.readouterr().err


ALLOWED_PREFIXES = ("openstack", "conformance.refcpi", "conformance.cpi.protocol", "__future__")


def test_refcpi_imports_only_openstacksdk_stdlib_and_the_wire_types():
    root = pathlib.Path(__file__).resolve().parents[2] / "conformance" / "refcpi"
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert name.startswith(ALLOWED_PREFIXES) or top in sys.stdlib_module_names, (
                    f"{path.name}: {name}"
                )
