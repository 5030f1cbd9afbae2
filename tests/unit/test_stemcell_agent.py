"""The guest agent's decisions, run in bash with jq on the host: which NIC gets what, who owns the
default route and resolv.conf, and that settings values are never executed as shell code.

The agent is sourced with CONFORMANCE_AGENT_LIB=1 (functions only); `ip`, `dhcp` and the MAC
lookup are replaced by recorders, so nothing on the host is touched.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance.stemcell.recipe import FILES_DIR

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(not (shutil.which("bash") and shutil.which("jq")), reason="needs bash and jq"),
]

AGENT = FILES_DIR / "conformance-agent"
STUBS = """
log() { :; }
ip() { echo "ip $*" >> "$CALLS"; }
dhcp() { echo "dhcp $*" >> "$CALLS"; }
iface_of_mac() { case "$1" in 52:54:00:00:00:0a) echo eth0;; 52:54:00:00:00:0b) echo eth1;; *) return 1;; esac; }
nics() { echo eth0; echo eth1; }
NIC_WAIT_TICKS=0
"""


def _agent(tmp_path: Path, settings: dict, script: str) -> tuple[str, list[str]]:
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    calls = tmp_path / "calls"
    calls.touch()
    program = (
        f"CONFORMANCE_AGENT_LIB=1 source {AGENT}\n{STUBS}\n"
        f"BOSH={tmp_path} RESOLV={tmp_path}/resolv.conf CALLS={calls}\n{script}\n"
    )
    out = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True).stdout
    return out, calls.read_text().splitlines()


def _net(mac: str, ip: str, **extra) -> dict:
    return {
        "type": "manual",
        "ip": ip,
        "netmask": "255.255.255.0",
        "gateway": ip.rsplit(".", 1)[0] + ".1",
        "dns": ["10.9.9.9"],
        "mac": mac,
        "use_dhcp": False,
        **extra,
    }


@pytest.mark.parametrize(
    ("mask", "prefix"),
    [("255.255.255.0", "24"), ("255.255.240.0", "20"), ("255.255.255.255", "32"), ("0.0.0.0", "0")],
)
def test_prefix_of(tmp_path, mask, prefix):
    out, _ = _agent(tmp_path, {}, f"prefix_of {mask}")

    assert out.strip() == prefix


def test_two_static_networks_by_mac_and_the_default_owner(tmp_path):
    settings = {
        "networks": {
            "a": _net("52:54:00:00:00:0A", "10.0.1.5", default=["dns", "gateway"]),
            "b": _net("52:54:00:00:00:0b", "10.0.2.6", dns=["10.8.8.8"]),
        }
    }

    _, calls = _agent(tmp_path, settings, "configure_network a; configure_network b")

    assert calls == [
        "ip link set eth0 up",
        "ip addr replace 10.0.1.5/24 dev eth0",
        "ip route replace default via 10.0.1.1 dev eth0",
        "ip link set eth1 up",
        "ip addr replace 10.0.2.6/24 dev eth1",
    ], "only network a carries the default route"
    assert (tmp_path / "resolv.conf").read_text() == "nameserver 10.9.9.9\n"


def test_a_single_network_owns_gateway_and_dns_without_defaults(tmp_path):
    _, calls = _agent(
        tmp_path, {"networks": {"only": _net("52:54:00:00:00:0a", "10.0.1.5")}}, "configure_network only"
    )

    assert "ip route replace default via 10.0.1.1 dev eth0" in calls
    assert (tmp_path / "resolv.conf").exists()


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        ({"type": "dynamic", "mac": "52:54:00:00:00:0a"}, "dhcp eth0 gateway dns"),
        ({**_net("52:54:00:00:00:0b", "10.0.2.6"), "use_dhcp": True}, "dhcp eth1 gateway dns"),
    ],
)
def test_dynamic_or_use_dhcp_asks_dhcp(tmp_path, network, expected):
    _, calls = _agent(tmp_path, {"networks": {"n": network}}, "configure_network n")

    assert calls == [expected]


def test_dhcp_network_without_the_default_may_not_set_gateway_or_dns(tmp_path):
    settings = {
        "networks": {
            "s": _net("52:54:00:00:00:0a", "10.0.1.5", default=["dns", "gateway"]),
            "d": {"type": "dynamic", "mac": "52:54:00:00:00:0b"},
        }
    }

    _, calls = _agent(tmp_path, settings, "configure_network d")

    assert calls == ["dhcp eth1  "]


def test_a_vip_network_does_not_count_when_one_manual_network_owns_gateway_and_dns(tmp_path):
    settings = {"networks": {"m": _net("52:54:00:00:00:0a", "10.0.1.5"), "v": {"type": "vip", "ip": "172.24.4.9"}}}

    _, calls = _agent(tmp_path, settings, "configure_network m")

    assert "ip route replace default via 10.0.1.1 dev eth0" in calls
    assert (tmp_path / "resolv.conf").read_text() == "nameserver 10.9.9.9\n"


def test_an_ip_without_a_netmask_is_skipped_not_set_as_slash_0(tmp_path):
    _, calls = _agent(tmp_path, {"networks": {"n": _net("52:54:00:00:00:0a", "10.0.1.5", netmask="")}},
                      "configure_network n")  # fmt: skip

    assert calls == []


def test_a_nic_that_appears_late_is_waited_for(tmp_path):
    # the MAC shows up on the third look (virtio_net loaded by udev after the agent started)
    script = (
        'iface_of_mac() { echo x >> "$BOSH/looks"; [ "$(wc -l < "$BOSH/looks")" -ge 3 ] && echo eth0; }\n'
        'NIC_WAIT_TICKS=8; sleep() { :; }; configure_network a; echo "looks=$(wc -l < "$BOSH/looks")"'
    )
    out, calls = _agent(tmp_path, {"networks": {"a": _net("52:54:00:00:00:0a", "10.0.1.5")}}, script)

    assert calls[:2] == ["ip link set eth0 up", "ip addr replace 10.0.1.5/24 dev eth0"]
    assert out.strip() == "looks=3"


def test_vip_and_unknown_macs_are_left_alone(tmp_path):
    settings = {
        "networks": {"v": {"type": "vip", "ip": "172.24.4.9"}, "x": _net("52:54:00:00:00:ff", "10.0.3.3")}
    }

    _, calls = _agent(tmp_path, settings, "configure_network v; configure_network x")

    assert calls == []


def test_settings_values_are_data_not_shell(tmp_path):
    marker = tmp_path / "pwned"
    evil = f"$(touch {marker})'; touch {marker}; '"
    settings = {"networks": {evil: _net("52:54:00:00:00:0a", "10.0.1.5", dns=[evil])}}

    _agent(tmp_path, settings, f"configure_network {shlex.quote(evil)} || true")

    assert not marker.exists(), "a settings value was executed"
    assert "nameserver $(touch" in (tmp_path / "resolv.conf").read_text(), "the value went through as data"


def _drive(tmp_path: Path, files: dict[str, str]) -> Path:
    copy = tmp_path / "copy"
    for name, text in files.items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_text(text)
    return copy


def _facts(tmp_path: Path, files: dict[str, str], show: str, settings: dict | None = None) -> str:
    copy = _drive(tmp_path, files)
    out, _ = _agent(tmp_path, settings or {}, f'COPY={copy}; settings_src=""; name=""; keys=(); names=()\n'
                                  f'eval "$(settings_facts)"\n{show}')  # fmt: skip
    return out


def test_one_jq_answers_settings_source_name_keys_and_networks(tmp_path):
    settings = {"agent_id": "agent-1", "networks": {"b": _net("52:54:00:00:00:0b", "10.0.2.6"),
                                                    "a": _net("52:54:00:00:00:0a", "10.0.1.5")}}  # fmt: skip
    files = {
        "openstack/latest/user_data": json.dumps(settings),
        "openstack/latest/meta_data.json": json.dumps({"public_keys": {"k1": "ssh-ed25519 AAA one", "k2": ""},
                                                       "hostname": "meta-name"}),  # fmt: skip
    }

    out = _facts(tmp_path, files, 'printf "%s|" "$settings_src" "$name" "${keys[@]}" "${names[@]}"')

    assert out.split("|")[:-1] == ["openstack/latest/user_data", "agent-1", "ssh-ed25519 AAA one", "a", "b"]


def test_network_facts_from_the_one_jq_equal_a_jq_of_their_own(tmp_path):
    settings = {"networks": {"a": _net("52:54:00:00:00:0A", "10.0.1.5", default=["dns", "gateway"]),
                             "d": {"type": "dynamic", "mac": "52:54:00:00:00:0b"}}}  # fmt: skip
    files = {"openstack/latest/user_data": json.dumps(settings)}

    out = _facts(tmp_path, files, 'for n in a d; do network_facts "$n"; done; NETWORK_FACTS=()\n'
                                  'echo ---; for n in a d; do network_facts "$n"; done', settings)  # fmt: skip

    shared, own = out.split("---\n")
    assert shared == own and "mac='52:54:00:00:00:0a'" in shared and "gw_role='gateway'" in shared


def test_ec2_fallbacks_and_a_user_data_that_is_not_json(tmp_path):
    files = {
        "openstack/latest/user_data": "#cloud-config\n",
        "ec2/latest/user-data": json.dumps({"vm": {"name": "vm-from-ec2"}}),
        "ec2/latest/meta-data.json": json.dumps({"public-keys": {"0": {"openssh-key": "ssh-rsa BBB ec2"}}}),
    }

    out = _facts(tmp_path, files, 'printf "%s|" "$settings_src" "$name" "${keys[@]}" "${#names[@]}"')

    assert out.split("|")[:-1] == ["ec2/latest/user-data", "vm-from-ec2", "ssh-rsa BBB ec2", "0"]


def test_drive_values_are_data_not_shell_in_the_one_jq(tmp_path):
    marker = tmp_path / "pwned"
    evil = f"$(touch {marker})'; touch {marker}; '"
    settings = {"agent_id": evil, "networks": {evil: _net("52:54:00:00:00:0a", "10.0.1.5", dns=[evil])}}
    files = {"openstack/latest/user_data": json.dumps(settings),
             "openstack/latest/meta_data.json": json.dumps({"public_keys": {"k": evil}})}  # fmt: skip

    out = _facts(tmp_path, files, 'printf "%s|" "$name" "${keys[@]}" "${names[@]}"; network_facts "${names[0]}"')

    assert not marker.exists(), "a drive value was executed"
    assert out.split("|")[:3] == [evil, evil, evil]
