"""The surfaces in the local cloud: one daemon per release, the `up` step that starts them, the
`status` rows that check them, and their clouds.yaml entries and CPI configs.

The gateways run with the interpreter that runs `conformance`, each in its own session like every
other daemon, as the user that runs `up` (root): that interpreter may live where no service user
can read it (a pyenv under /root). They listen on loopback only and hold no secret (a password only
passes through to Keystone; nothing of a request's body or headers is logged).
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

from conformance.localcloud.config import REGION, TEST_PROJECT, TEST_USER
from conformance.localcloud.daemons import Daemon
from conformance.localcloud.surfaces import SURFACE_HEADER
from conformance.localcloud.surfaces.release_apis import SURFACES, SurfaceRelease

HEALTH_TIMEOUT = 10.0  # one GET of a gateway's root document
# Liberty's deployments typically authenticated with Keystone v2.0; Mitaka and Newton with v3
V2_AUTH = {"liberty": True, "mitaka": False, "newton": False}


def root(release: SurfaceRelease) -> str:
    return f"http://127.0.0.1:{release.port}"


def cloud_name(release: SurfaceRelease) -> str:
    return f"local-{release.name}"


# the gateway's code: newer than a gateway's pid file means `up` restarts it
SOURCES = tuple(sorted(str(p) for p in Path(__file__).parent.glob("*.py")))


def daemon(release: SurfaceRelease, python: str = sys.executable) -> Daemon:
    argv = (python, "-m", "conformance.localcloud.surfaces", "--release", release.name, "--port", str(release.port))
    return Daemon(f"surface-{release.name}", argv, port=release.port, watch=SOURCES)


DAEMONS: tuple[Daemon, ...] = tuple(daemon(r) for r in SURFACES.values())


def health(release: SurfaceRelease, timeout: float = HEALTH_TIMEOUT) -> str:
    """GET / of the gateway: its label header and document must name the release."""
    with urllib.request.urlopen(root(release) + "/", timeout=timeout) as answer:
        label, doc = answer.headers.get(SURFACE_HEADER), json.load(answer)
    if label != release.label or doc.get("surface", {}).get("release") != release.name:
        raise RuntimeError(f"{root(release)}/ answered {SURFACE_HEADER}={label!r}, not {release.label!r}")
    return f"{SURFACE_HEADER}: {label}"


def step_surfaces(ctx) -> str:
    """`up` step: start (or restart, when its code changed) each gateway, wait for its port, check it."""
    notes = ctx.ensure_all(DAEMONS)
    checks = [health(r) for r in SURFACES.values()]
    return ", ".join(notes) or f"running ({len(checks)} surfaces answer)"


def status_rows(timed) -> list:
    """`status` rows: one health check per surface (``timed`` is status.timed)."""
    return [timed(f"surface {r.name}", lambda r=r: health(r)) for r in SURFACES.values()]


def cloud_entries(password: str) -> dict[str, dict]:
    """clouds.yaml: ``local-liberty`` (Keystone v2.0), ``local-mitaka``, ``local-newton`` (v3)."""
    return {cloud_name(r): cloud_entry(r, password) for r in SURFACES.values()}


def cloud_entry(release: SurfaceRelease, password: str) -> dict:
    identity = f"{root(release)}/identity"
    if V2_AUTH[release.name]:
        auth = {"auth_url": f"{identity}/v2.0", "username": TEST_USER, "password": password,
                "project_name": TEST_PROJECT}  # fmt: skip
        return {"auth_type": "v2password", "auth": auth, "region_name": REGION, "interface": "public",
                "identity_api_version": "2.0"}  # fmt: skip
    auth = {"auth_url": f"{identity}/v3", "username": TEST_USER, "password": password, "project_name": TEST_PROJECT,
            "user_domain_name": "Default", "project_domain_name": "Default"}  # fmt: skip
    return {"auth": auth, "region_name": REGION, "interface": "public", "identity_api_version": 3}


def cpi_path(state_root: Path, release: SurfaceRelease) -> Path:
    return state_root / f"cpi-{release.name}.json"


def cpi_config(release: SurfaceRelease, base: dict) -> dict:
    """The local cloud's CPI config with the surface's Keystone (v2.0: tenant instead of project
    and domain, as the official CPI's Liberty-era configs had)."""
    config = json.loads(json.dumps(base))
    openstack = config["cloud"]["properties"]["openstack"]
    if V2_AUTH[release.name]:
        openstack["auth_url"] = f"{root(release)}/identity/v2.0"
        openstack["tenant"] = openstack.pop("project")
        openstack.pop("domain", None)
    else:
        openstack["auth_url"] = f"{root(release)}/identity/v3"
    return config
