"""What `up` leaves for the suite: clouds.yaml entries, the facts file, the CPI config.

- clouds.yaml (0600): entries `local` (test user) and `local-admin`, merged into an existing file
  without touching other entries.
- ``<state>/localcloud.json``: NON-secret facts (names, CIDRs, paths); the suite, the profile and
  the reference CPI tests read it.
- ``<state>/cpi.json`` (0600): the official OpenStack CPI's config shape, holding the password.
- the release surfaces (surfaces/wiring.py): clouds.yaml entries `local-liberty` (Keystone v2.0),
  `local-mitaka`, `local-newton`, and ``<state>/cpi-<release>.json`` (0600) pointing at them.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from conformance.localcloud.config import (
    ADMIN_CLOUD,
    AVAILABILITY_ZONE,
    DYNAMIC_NETWORK,
    EXTERNAL_NETWORK,
    FLAVORS,
    KEY_NAME,
    KEYSTONE_URL,
    MANUAL_NETWORKS,
    REGION,
    SECURITY_GROUP,
    TEST_CLOUD,
    TEST_PROJECT,
    TEST_USER,
    VOLUME_TYPE,
)  # fmt: skip
from conformance.localcloud.layout import Layout, write_json, write_private
from conformance.localcloud.surfaces import wiring as surfaces


def cloud_entry(user: str, password: str, project: str) -> dict:
    return {
        "auth": {
            "auth_url": KEYSTONE_URL, "username": user, "password": password, "project_name": project,
            "user_domain_name": "Default", "project_domain_name": "Default",
        },
        "region_name": REGION, "interface": "public", "identity_api_version": 3,
    }  # fmt: skip


def merge_clouds_yaml(existing_text: str, entries: dict[str, dict]) -> str:
    """Pure: ``entries`` replace same-named clouds; every other cloud and top-level key stays."""
    data = yaml.safe_load(existing_text) if existing_text.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("clouds.yaml: top level is not a mapping")
    clouds = data.setdefault("clouds", {}) or {}
    data["clouds"] = clouds
    clouds.update(entries)
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=True)


def write_clouds_yaml(path: Path, admin_password: str, test_password: str) -> bool:
    entries = {
        TEST_CLOUD: cloud_entry(TEST_USER, test_password, TEST_PROJECT),
        ADMIN_CLOUD: cloud_entry("admin", admin_password, "admin"),
        **surfaces.cloud_entries(test_password),
    }
    existing = path.read_text() if path.exists() else ""
    return write_private(path, merge_clouds_yaml(existing, entries))


def localcloud_facts(layout: Layout, clouds_yaml: Path) -> dict:
    """The facts file: no password, no token, no key material, only paths and names."""
    return {
        "clouds_yaml": str(clouds_yaml), "cloud": TEST_CLOUD, "admin_cloud": ADMIN_CLOUD,
        "cpi_json": str(layout.cpi_json), "ssh_private_key": str(layout.ssh_private_key),
        "key_name": KEY_NAME, "security_group": SECURITY_GROUP, "availability_zone": AVAILABILITY_ZONE,
        "volume_type": VOLUME_TYPE, "flavors": {key: spec[0] for key, spec in FLAVORS.items()},
        "networks": {
            "manual": [dict(n) for n in MANUAL_NETWORKS],
            "dynamic": dict(DYNAMIC_NETWORK),
            "external": dict(EXTERNAL_NETWORK),
        },
    }  # fmt: skip


def cpi_config(test_password: str) -> dict:
    """The official OpenStack CPI's config (also read by the reference CPI)."""
    openstack = {
        "auth_url": KEYSTONE_URL, "username": TEST_USER, "api_key": test_password,
        "project": TEST_PROJECT, "domain": "Default", "region": REGION, "default_key_name": KEY_NAME,
        "default_security_groups": [SECURITY_GROUP], "default_volume_type": VOLUME_TYPE,
        # 1 s: the local cloud answers in well under a second, and a CPI's waits (create_vm to
        # ACTIVE, attach, detach, volumes) lose half an interval each on average (issue 15)
        "wait_resource_poll_interval": 1, "state_timeout": 600, "config_drive": "cdrom",
        "use_dhcp": False, "boot_from_volume": False, "human_readable_vm_names": False,
    }  # fmt: skip
    agent = {
        "mbus": "nats://127.0.0.1:4222", "ntp": [],
        "blobstore": {"provider": "local", "options": {"blobstore_path": "/var/vcap/micro_bosh/data/cache"}},
    }  # fmt: skip
    return {"cloud": {"plugin": "openstack", "properties": {"openstack": openstack, "agent": agent}}}


def write_all(layout: Layout, clouds_yaml: Path, admin_password: str, test_password: str) -> list[str]:
    changed = []
    if write_clouds_yaml(clouds_yaml, admin_password, test_password):
        changed.append(str(clouds_yaml))
    if write_json(layout.cpi_json, cpi_config(test_password), mode=0o600):
        changed.append("cpi.json")
    for release in surfaces.SURFACES.values():
        config = surfaces.cpi_config(release, cpi_config(test_password))
        if write_json(surfaces.cpi_path(layout.root, release), config, mode=0o600):
            changed.append(surfaces.cpi_path(layout.root, release).name)
    if write_json(layout.facts, localcloud_facts(layout, clouds_yaml), mode=0o644):
        changed.append("localcloud.json")
    return changed
