"""Profiles: every bad input stops with one message naming the file and the key path."""

import copy
from pathlib import Path

import pytest
import yaml

from conformance.core.errors import ProfileError
from conformance.profile import load_profile, redacted

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).parents[2] / "profiles" / "example.yml"
BASE = yaml.safe_load(EXAMPLE.read_text())


def write(tmp_path, doc, name="x.yml") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def variant(**changes):
    doc = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        target, *keys = doc, *dotted.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        target[int(last) if last.isdigit() else last] = value
    return doc


def problem(tmp_path, doc) -> str:
    path = write(tmp_path, doc)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(info.value).startswith(f"{path}: ")
    return str(info.value)[len(f"{path}: "):]


def test_example_profile_is_valid():
    profile = load_profile(EXAMPLE)
    assert profile.name == "example" and len(profile.networks.manual) == 2
    assert profile.timeouts.vm_active == 600 and profile.release_info.nova_max_microversion == "2.93"


@pytest.mark.parametrize(
    "doc, expected",
    [
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("name: [unclosed\n", "invalid YAML (line 2"),
        ("- a\n- b\n", "expected a mapping at top level, got a list"),
        ("just text", "expected a mapping at top level, got a string"),
    ],
)
def test_unusable_files(tmp_path, doc, expected):
    assert expected in problem(tmp_path, doc)


def test_missing_file(tmp_path):
    with pytest.raises(ProfileError, match="cannot read: No such file"):
        load_profile(tmp_path / "absent.yml")


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"colour": "blue"}, "colour: unknown key"),
        ({"networks__manual__0__colour": "blue"}, "networks.manual[0].colour: unknown key"),
        ({"timeouts__vm_active": "soon"}, "timeouts.vm_active: Input should be a valid number"),
        ({"timeouts__poll": -1}, "timeouts.poll: Input should be greater than or equal to 0.01"),
        ({"cpi__api_version": 3}, "cpi.api_version: Input should be 1 or 2"),
        ({"release": "grizzly"}, "release: Input should be 'liberty'"),
        ({"cpi__command": []}, "cpi.command: List should have at least 1 item"),
        ({"networks__manual__1__cidr": "10.10.2.0/33"}, "networks.manual[1].cidr: "),
        ({"features__config_drive": ["floppy"]}, "features.config_drive[0]: Input should be 'cdrom' or 'disk'"),
    ],
)
def test_schema_errors_name_the_key_path(tmp_path, changes, expected):
    assert expected in problem(tmp_path, variant(**changes))


def test_missing_required_key(tmp_path):
    doc = variant()
    del doc["ssh"]
    assert problem(tmp_path, doc) == "ssh: required key is missing"


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"networks__manual__1__static_ips": ["10.9.0.5"]},
         "networks.manual[1].static_ips[0]: 10.9.0.5 is outside 10.10.2.0/24"),
        ({"networks__manual__0__static_ips": ["10.10.1.20-10.10.1.40", "10.10.1.30-10.10.1.50"]},
         "networks.manual[0].static_ips[1]: 10.10.1.30-10.10.1.50 overlaps static_ips[0] (10.10.1.20-10.10.1.40)"),
        ({"networks__manual__0__static_ips": ["10.10.1.20-10.10.1.21"]},
         "networks.manual[0].static_ips: only 2 address(es): the suite needs at least 4 per xdist worker"),
        ({"networks__manual__0__static_ips": ["10.10.1.40-10.10.1.20"]},
         "networks.manual[0].static_ips[0]: 10.10.1.40-10.10.1.20: the range ends before it starts"),
        ({"networks__manual__0__static_ips": ["10.10.1.1-10.10.1.9"]},
         "networks.manual[0].static_ips[0]: 10.10.1.1-10.10.1.9 includes 10.10.1.1, the gateway of 10.10.1.0/24"),
        ({"networks__manual__0__static_ips": ["banana"]},
         "networks.manual[0].static_ips[0]: 'banana' is not an IPv4 address"),
        ({"networks__manual__0__gateway": "10.10.9.1"}, "networks.manual[0].gateway: 10.10.9.1 is outside 10.10.1.0/24"),
        ({"networks__manual__1__cidr": "10.10.1.0/24", "networks__manual__1__gateway": "10.10.1.1",
          "networks__manual__1__static_ips": ["10.10.1.100-10.10.1.110"]},
         "networks.manual[1].cidr: 10.10.1.0/24 overlaps networks.manual[0].cidr (10.10.1.0/24)"),
        ({"networks__manual__1__net_id": "abc"}, "networks.manual[1]: give exactly one of net_id or net_name"),
        ({"disks__resize_to_mib": 512}, "disks.resize_to_mib: must be larger than disks.size_mib (1024)"),
        ({"known_failures": {"not-a-uuid": "http://bug"}}, "known_failures.not-a-uuid: keys must be test case ids"),
        ({"networks__vip__addresses": ["1.2.3"]}, "networks.vip.addresses[0]: '1.2.3' is not an IPv4 address"),
    ],
)
def test_address_and_range_errors(tmp_path, changes, expected):
    assert problem(tmp_path, variant(**changes)).startswith(expected)


def test_env_references_resolve_and_secret_values_are_remembered(tmp_path):
    key = write(tmp_path, "KEY", "id_rsa")
    doc = variant(cloud=None, ssh__private_key=str(key), cpi__env={"OS_PASSWORD": "${PW}", "NOTE": "${NOTE}"})
    doc["cpi"]["config"] = None
    doc["cpi"]["command"] = ["my-cpi"]
    profile = load_profile(write(tmp_path, doc), resolve=True, environ={"PW": "hunter2-long", "NOTE": "plain"})
    assert profile.cpi.env == {"OS_PASSWORD": "hunter2-long", "NOTE": "plain"}
    assert profile.secrets == {"hunter2-long"}
    assert "hunter2-long" not in str(redacted(profile))


def test_missing_env_variable_names_the_key(tmp_path):
    doc = variant(cpi__env={"OS_PASSWORD": "${NOT_SET_ANYWHERE}"})
    with pytest.raises(ProfileError, match=r"cpi.env.OS_PASSWORD: environment variable \$\{NOT_SET_ANYWHERE\} is not set"):
        load_profile(write(tmp_path, doc), resolve=True, environ={}, clouds=lambda: {"mycloud": {}})


def test_missing_clouds_yaml_entry(tmp_path):
    with pytest.raises(ProfileError, match=r"cloud: no entry 'mycloud' in clouds.yaml \(entries found: other"):
        load_profile(write(tmp_path, variant()), resolve=True, environ={}, clouds=lambda: {"other": {}})


def test_cpi_config_env_references_and_secrets(tmp_path):
    key = write(tmp_path, "KEY", "id_rsa")
    cfg = write(tmp_path, '{"cloud": {"properties": {"openstack": {"api_key": "${OS_PW}", "username": "u"}}}}', "cpi.json")
    doc = variant(ssh__private_key=str(key), cpi__config=str(cfg))
    clouds = lambda: {"mycloud": {"auth": {"password": "cloud-pass-1"}}}  # noqa: E731
    profile = load_profile(write(tmp_path, doc), resolve=True, environ={"OS_PW": "from-env-pw"}, clouds=clouds)
    assert profile.cpi_config_doc["cloud"]["properties"]["openstack"]["api_key"] == "from-env-pw"
    assert profile.secrets == {"from-env-pw", "cloud-pass-1"}
    with pytest.raises(ProfileError, match=r"cpi.config: .*cpi.json: cloud.properties.openstack.api_key: environment variable"):
        load_profile(write(tmp_path, doc), resolve=True, environ={}, clouds=clouds)


def test_missing_ssh_key_is_reported_on_resolve(tmp_path):
    doc = variant(cpi__config=None, cpi__command=["cpi"], ssh__private_key=str(tmp_path / "nokey"))
    with pytest.raises(ProfileError, match="ssh.private_key: .*nokey: no readable file there"):
        load_profile(write(tmp_path, doc), resolve=True, environ={}, clouds=lambda: {"mycloud": {}})


def test_witnesses_default_to_openstack_with_a_cloud_and_none_without(tmp_path):
    assert list(load_profile(write(tmp_path, variant())).witness_options) == ["openstack"]
    no_witness = load_profile(write(tmp_path, variant(features={"cloud_witness": False}), "n.yml"))
    assert no_witness.witness_options == {} and not no_witness.witnessed and no_witness.cloud_api
    both = load_profile(write(tmp_path, variant(witnesses={"libvirt": {"uri": "qemu:///system"}, "openstack": None}),
                              "b.yml"))
    assert both.witness_options == {"libvirt": {"uri": "qemu:///system"}, "openstack": {}}
    assert load_profile(write(tmp_path, variant(witnesses={}), "e.yml")).witness_options == {}


def test_witnesses_and_cloud_witness_false_conflict(tmp_path):
    text = problem(tmp_path, variant(witnesses={"libvirt": {}}, features={"cloud_witness": False}))
    assert "witnesses" in text and "features.cloud_witness is false" in text


def test_the_openstack_witness_needs_a_cloud(tmp_path):
    assert "witnesses.openstack" in problem(tmp_path, variant(cloud=None, witnesses={"openstack": {}}))


def test_with_witnesses_replaces_the_profile_s_keeping_their_options(tmp_path):
    profile = load_profile(write(tmp_path, variant(witnesses={"libvirt": {"uri": "qemu+ssh://h/system"}})))
    assert profile.with_witnesses("libvirt,openstack").witness_options == {
        "libvirt": {"uri": "qemu+ssh://h/system"}, "openstack": {}}
    assert profile.with_witnesses("none").witness_options == {}
    assert profile.with_witnesses("none").source == profile.source
    with pytest.raises(ProfileError, match="name one or more witnesses"):
        profile.with_witnesses(" , ")
    without_cloud = load_profile(write(tmp_path, variant(cloud=None), "n.yml"))
    with pytest.raises(ProfileError, match="clouds.yaml entry"):
        without_cloud.with_witnesses("openstack")
