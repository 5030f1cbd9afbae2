"""Fixtures for the cloud tier: the local real OpenStack that `conformance local-cloud up` built.

``localcloud_facts`` reads ``<state>/localcloud.json`` and checks `local-cloud status`; when the
cloud is not there the tier is SKIPPED ("local cloud not up (conformance local-cloud up)"), or it
FAILS when CONFORMANCE_CLOUD_TIER=require (CI, where the cloud is part of the job).
Each test module marks itself ``pytestmark = pytest.mark.cloud``.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

NOT_UP = "local cloud not up (conformance local-cloud up)"


def state_dir() -> Path:
    from conformance.localcloud.layout import DEFAULT_STATE_DIR

    return Path(os.environ.get("CONFORMANCE_LOCALCLOUD_STATE", DEFAULT_STATE_DIR))


def unavailable(reason: str):
    """Skip, or fail when the cloud tier is required."""
    if os.environ.get("CONFORMANCE_CLOUD_TIER") == "require":
        pytest.fail(f"{NOT_UP}: {reason}", pytrace=False)
    pytest.skip(f"{NOT_UP}: {reason}")


def status_failures(layout) -> list[str]:
    from conformance.localcloud import status

    rows = status.collect(layout)
    return [f"{r.name}: {r.detail}" for r in rows if not r.ok]


@pytest.fixture(scope="session")
def localcloud_layout():
    from conformance.localcloud.layout import Layout

    return Layout(state_dir())


@pytest.fixture(scope="session")
def localcloud_facts(localcloud_layout) -> dict:
    """The facts file as a dict (names, CIDRs, paths; no secrets), once the cloud answers."""
    if not localcloud_layout.facts.exists():
        unavailable(f"no {localcloud_layout.facts}")
    failing = status_failures(localcloud_layout)
    if failing:
        unavailable("status: " + "; ".join(failing[:5]))
    return json.loads(localcloud_layout.facts.read_text())


def connect(facts: dict, cloud: str):
    import openstack

    os.environ.setdefault("OS_CLIENT_CONFIG_FILE", facts["clouds_yaml"])
    return openstack.connect(cloud=cloud)


@pytest.fixture(scope="session")
def os_conn(localcloud_facts):
    """openstacksdk as the test user (role member) of project cfm-conformance."""
    return connect(localcloud_facts, localcloud_facts["cloud"])


@pytest.fixture(scope="session")
def os_admin(localcloud_facts):
    """openstacksdk as the cloud admin: for checks a BOSH director could not make."""
    return connect(localcloud_facts, localcloud_facts["admin_cloud"])


def status_report(layout) -> str:
    """The `status` table as text (for failure messages)."""
    from conformance.localcloud import status

    out = io.StringIO()
    status.run(layout, out=out)
    return out.getvalue()
