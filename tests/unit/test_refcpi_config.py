"""cpi.json validation and the context merge of the reference CPI (config.load)."""

from __future__ import annotations

import json

import pytest

from conformance.refcpi import config
from conformance.refcpi.errors import CloudError

pytestmark = pytest.mark.unit

OPENSTACK = {
    "auth_url": "http://127.0.0.1:9/v3",
    "username": "admin",
    "api_key": "pw-123456",
    "project": "demo",
    "domain": "Default",
    "default_key_name": "k",
    "state_timeout": 60,
}


def write(tmp_path, openstack=None, **properties):
    doc = {
        "cloud": {
            "plugin": "openstack",
            "properties": {"openstack": openstack or dict(OPENSTACK), **properties},
        }
    }
    path = tmp_path / "cpi.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_valid_config_with_defaults(tmp_path):
    cfg = config.load(write(tmp_path, agent={"mbus": "nats://x"}))
    assert (cfg.state_timeout, cfg.poll_interval, cfg.use_dhcp, cfg.config_drive) == (60.0, 5.0, True, None)
    assert cfg.agent == {"mbus": "nats://x"} and cfg.secrets() == ["pw-123456"]


def test_context_is_merged_over_openstack_except_director_fields(tmp_path):
    context = {
        "director_uuid": "d",
        "request_id": "r",
        "vm": {"stemcell": {"api_version": 2}},
        "use_dhcp": False,
        "config_drive": "cdrom",
    }
    cfg = config.load(write(tmp_path), context)
    assert (cfg.use_dhcp, cfg.config_drive, cfg.stemcell_api_version) == (False, "cdrom", 2)
    assert "director_uuid" not in cfg.openstack and "vm" not in cfg.openstack


def test_a_clouds_yaml_name_replaces_inline_auth(tmp_path):
    cfg = config.load(write(tmp_path, {"cloud": "local", "default_key_name": "k"}))
    assert cfg.get("cloud") == "local" and cfg.secrets() == []


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"auth_url": None}, "openstack.auth_url"),
        ({"api_key": None}, "openstack.api_key"),
        ({"project": None}, "openstack.project"),
        ({"state_timeout": "60"}, "openstack.state_timeout"),
        ({"state_timeout": True}, "openstack.state_timeout"),
        ({"wait_resource_poll_interval": 0}, "openstack.wait_resource_poll_interval"),
        ({"state_timeout": float("nan")}, "openstack.state_timeout"),  # json.loads takes NaN
        ({"state_timeout": float("inf")}, "openstack.state_timeout"),
        ({"use_dhcp": "yes"}, "openstack.use_dhcp"),
        ({"config_drive": "usb"}, "openstack.config_drive"),
        ({"default_security_groups": "default"}, "openstack.default_security_groups"),
        ({"default_security_groups": [1]}, "openstack.default_security_groups"),
        ({"connection_options": []}, "openstack.connection_options"),
    ],
)
def test_each_bad_key_is_a_cloud_error_naming_it(tmp_path, change, key):
    openstack = {k: v for k, v in ({**OPENSTACK, **change}).items() if v is not None}
    with pytest.raises(CloudError, match=key.replace(".", r"\.")) as caught:
        config.load(write(tmp_path, openstack))
    assert "pw-123456" not in caught.value.message


@pytest.mark.parametrize("context", [{"vm": {"stemcell": {"api_version": "two"}}}, {"vm": {"stemcell": {"api_version": True}}}])
def test_a_bad_stemcell_api_version_in_the_context_names_it(tmp_path, context):
    with pytest.raises(CloudError, match=r"context\.vm\.stemcell\.api_version"):
        config.load(write(tmp_path), context)


@pytest.mark.parametrize("context", [{"vm": "x"}, {"vm": {"stemcell": "x"}}, {"vm": {"stemcell": None}}])
def test_a_context_without_a_stemcell_object_means_api_version_1(tmp_path, context):
    assert config.load(write(tmp_path), context).stemcell_api_version == 1


def test_missing_sections_and_files(tmp_path):
    with pytest.raises(CloudError, match="no such file"):
        config.load(str(tmp_path / "absent.json"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CloudError, match="not valid JSON"):
        config.load(str(tmp_path / "bad.json"))
    (tmp_path / "empty.json").write_text('{"cloud": {"properties": {}}}')
    with pytest.raises(CloudError, match="cloud.properties.openstack must be given"):
        config.load(str(tmp_path / "empty.json"))
    with pytest.raises(CloudError, match="agent must be an object"):
        config.load(write(tmp_path, agent=[1]))
