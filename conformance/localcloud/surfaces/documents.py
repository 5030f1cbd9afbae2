"""The release's version documents and extension lists (sources in release_apis).

Nova's and Cinder's v3 documents come from today's service with ``version`` (the maximum
microversion) set to the release's; Keystone's and Cinder's unversioned roots are built as the
release built them (today's list other versions); Glance's list is cut at the release's v2.<n>;
Neutron's extension list keeps only the aliases the release had.
"""

from __future__ import annotations

from conformance.localcloud.surfaces import SURFACE_HEADER
from conformance.localcloud.surfaces.release_apis import UNDERLYING, SurfaceRelease

DOCS = {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}
CINDER_MEDIA = [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=1"}]


def with_max_version(doc: dict, maximum: str | None) -> dict:
    """Nova's / and /v2.1, Cinder's /v3: the microversioned entry's ``version`` is the release's."""

    def fix(entry: dict) -> dict:
        return {**entry, "version": maximum} if entry.get("version") and maximum else entry

    if isinstance(doc.get("version"), dict):
        return {**doc, "version": fix(doc["version"])}
    if isinstance(doc.get("versions"), list):
        return {**doc, "versions": [fix(e) for e in doc["versions"] if isinstance(e, dict)]}
    return doc


def cinder_root(release: SurfaceRelease, volume_root: str) -> dict:
    """GET /volume/: cinder/api/versions.py ``_KNOWN_VERSIONS`` of the release (views/versions.py
    appends a self link to each)."""
    versions = []
    for v in release.cinder_versions:
        major = v.id.split(".")[0]
        microversioned = v.id == "v3.0"
        versions.append({
            "id": v.id, "status": v.status, "updated": v.updated,
            "version": release.cinder_max if microversioned else "", "min_version": "3.0" if microversioned else "",
            "links": [DOCS, {"rel": "self", "href": f"{volume_root}/{major}/"}], "media-types": CINDER_MEDIA,
        })  # fmt: skip
    return {"versions": versions}


def cinder_v2_version(release: SurfaceRelease, volume_root: str) -> dict:
    """GET /volume/v2/: the v2.0 entry alone (the VersionsController's index at 2.0)."""
    return {"versions": [v for v in cinder_root(release, volume_root)["versions"] if v["id"] == "v2.0"]}


def keystone_versions(release: SurfaceRelease, identity_root: str) -> dict:
    """GET /identity/: 300 Multiple Choices with v3.x and v2.0 (keystone version controllers)."""
    return {"versions": {"values": [keystone_v3_entry(release, identity_root), keystone_v2_entry(release, identity_root)]}}


def keystone_v3_entry(release: SurfaceRelease, identity_root: str) -> dict:
    ident, updated = release.keystone_v3
    return {"id": ident, "status": "stable", "updated": updated,
            "links": [{"rel": "self", "href": f"{identity_root}/v3/"}],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]}  # fmt: skip


def keystone_v2_entry(release: SurfaceRelease, identity_root: str) -> dict:
    status, updated = release.keystone_v2
    return {"id": "v2.0", "status": status, "updated": updated,
            "links": [{"rel": "self", "href": f"{identity_root}/v2.0/"}, DOCS],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v2.0+json"}]}  # fmt: skip


def keystone_v3_document(release: SurfaceRelease, doc: dict) -> dict:
    """Today's GET /v3 with the release's id and date."""
    if not isinstance(doc.get("version"), dict):
        return doc
    ident, updated = release.keystone_v3
    return {**doc, "version": {**doc["version"], "id": ident, "updated": updated}}


def glance_versions(release: SurfaceRelease, doc: dict) -> dict:
    """Today's Glance list cut at v2.<n>, the newest left CURRENT and the rest SUPPORTED."""
    kept = []
    for entry in doc.get("versions", []):
        major, _, minor = str(entry.get("id", "")).lstrip("v").partition(".")
        if major == "2" and minor.isdigit() and int(minor) <= release.glance_max_minor:
            current = int(minor) == release.glance_max_minor
            kept.append({**entry, "status": "CURRENT" if current else "SUPPORTED"})
    return {**doc, "versions": kept}


def neutron_extensions(release: SurfaceRelease, doc: dict) -> dict:
    """GET /v2.0/extensions without the extensions the release did not have."""
    extensions = [e for e in doc.get("extensions", []) if e.get("alias") in release.neutron_extensions]
    return {**doc, "extensions": extensions}


def surface_root(release: SurfaceRelease, root: str) -> dict:
    """GET / on the gateway: what this endpoint is, measured from the endpoint itself."""
    return {"surface": {
        "release": release.name, "over": UNDERLYING, "label": release.label, "emulated": True, "header": SURFACE_HEADER,
        "description": f"an emulated {release.name.capitalize()} API surface over OpenStack {UNDERLYING.capitalize()}",
        "max_microversions": {"compute": release.nova_max, "volume": release.cinder_max},
        "services": {s: f"{root}/{s}" for s in ("identity", *release.service_types)},
    }}  # fmt: skip
