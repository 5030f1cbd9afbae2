"""Release surface routing: version documents, Cinder v2 paths, extend before Pike, Neutron extensions."""

from __future__ import annotations

import pytest

from conformance.localcloud.surfaces import documents, routes
from conformance.localcloud.surfaces.release_apis import SURFACES

pytestmark = pytest.mark.unit

ROOT = "http://127.0.0.1:15101"
LIBERTY, MITAKA, NEWTON = SURFACES["liberty"], SURFACES["mitaka"], SURFACES["newton"]
PID = "0123456789abcdef0123456789abcdef"


def _plan(release, method, path, headers=None):
    return routes.plan(release, method, path, headers or {}, ROOT)


def test_cinder_v2_path_is_todays_v3_at_3_0():
    p = _plan(NEWTON, "GET", f"/volume/v2/{PID}/volumes/detail", {"X-Auth-Token": "t"})
    assert (p.service, p.path, p.v2_volume) == ("volume", f"/v3/{PID}/volumes/detail", True)
    assert p.headers == {"X-Auth-Token": "t", "OpenStack-API-Version": "volume 3.0"}


def test_liberty_has_no_cinder_v3_and_nobody_has_v1():
    assert _plan(LIBERTY, "GET", f"/volume/v3/{PID}/volumes").answer.status == 404
    assert _plan(NEWTON, "GET", f"/volume/v1/{PID}/volumes").answer.status == 404
    assert _plan(LIBERTY, "GET", f"/volume/v2/{PID}/volumes").path == f"/v3/{PID}/volumes"


def test_cinder_v3_too_new_is_refused_before_forwarding():
    p = _plan(MITAKA, "GET", f"/volume/v3/{PID}/volumes", {"OpenStack-API-Version": "volume 3.42"})
    assert p.answer.status == 406 and p.service == ""


def test_cinder_root_document_is_the_releases():
    doc = documents.cinder_root(LIBERTY, f"{ROOT}/volume")
    assert [(v["id"], v["status"]) for v in doc["versions"]] == [("v2.0", "CURRENT")]
    doc = documents.cinder_root(NEWTON, f"{ROOT}/volume")
    v3 = doc["versions"][-1]
    assert (v3["id"], v3["version"], v3["min_version"]) == ("v3.0", "3.15", "3.0")
    assert {"rel": "self", "href": f"{ROOT}/volume/v3/"} in v3["links"]
    assert _plan(LIBERTY, "GET", "/volume/").answer.status == 300


def test_nova_version_documents_carry_the_release_maximum():
    zed = {"versions": [{"id": "v2.0", "version": "", "min_version": ""},
                        {"id": "v2.1", "version": "2.93", "min_version": "2.1"}]}  # fmt: skip
    assert [v["version"] for v in documents.with_max_version(zed, "2.12")["versions"]] == ["", "2.12"]
    single = documents.with_max_version({"version": {"id": "v2.1", "version": "2.93"}}, "2.25")
    assert single["version"]["version"] == "2.25"
    assert _plan(LIBERTY, "GET", "/compute/v2.1/").body_edit == routes.NOVA_VERSIONS


def test_nova_too_new_is_refused_and_in_range_is_forwarded():
    refused = _plan(LIBERTY, "GET", "/compute/v2.1/servers", {"X-OpenStack-Nova-API-Version": "2.13"})
    assert refused.answer.status == 406
    served = _plan(LIBERTY, "GET", "/compute/v2.1/servers", {"X-OpenStack-Nova-API-Version": "2.12"})
    assert (served.service, served.path, served.answer) == ("compute", "/v2.1/servers", None)


def test_keystone_documents_are_the_releases():
    doc = documents.keystone_versions(LIBERTY, f"{ROOT}/identity")["versions"]["values"]
    assert [(v["id"], v["status"]) for v in doc] == [("v3.4", "stable"), ("v2.0", "stable")]
    newton = documents.keystone_versions(NEWTON, f"{ROOT}/identity")["versions"]["values"]
    assert [(v["id"], v["status"]) for v in newton] == [("v3.7", "stable"), ("v2.0", "deprecated")]
    assert _plan(MITAKA, "POST", "/identity/v2.0/tokens").handler == routes.V2_TOKENS
    assert _plan(MITAKA, "GET", "/identity/v2.0/tenants").answer.status == 404
    assert _plan(MITAKA, "POST", "/identity/v3/auth/tokens").body_edit == routes.CATALOG


def test_glance_versions_are_cut_at_the_release():
    zed = {"versions": [{"id": f"v2.{n}", "status": "SUPPORTED"} for n in range(17)]}
    out = documents.glance_versions(NEWTON, zed)["versions"]
    assert [(v["id"], v["status"]) for v in out][-2:] == [("v2.3", "SUPPORTED"), ("v2.4", "CURRENT")]
    assert len(out) == 5


def test_neutron_extensions_the_release_lacked_are_removed():
    zed = {"extensions": [{"alias": a} for a in ("router", "trunk", "tag", "standard-attr-tag", "qos")]}
    assert [e["alias"] for e in documents.neutron_extensions(LIBERTY, zed)["extensions"]] == ["router", "qos"]
    assert [e["alias"] for e in documents.neutron_extensions(NEWTON, zed)["extensions"]] == ["router", "trunk", "tag", "qos"]
    assert _plan(MITAKA, "GET", "/network/v2.0/extensions/trunk").answer.status == 404
    assert _plan(MITAKA, "GET", "/network/v2.0/trunks").answer.status == 404
    assert _plan(NEWTON, "GET", "/network/v2.0/trunks").service == "network"
    assert _plan(LIBERTY, "GET", "/placement/resource_providers").answer.status == 404


def test_attached_extend_is_refused_before_pike_with_the_releases_message():
    p = _plan(MITAKA, "POST", f"/volume/v2/{PID}/volumes/vol-1/action")
    assert p.handler == routes.EXTEND_CHECK and routes.volume_path_of_action(p.path) == f"/v3/{PID}/volumes/vol-1"
    assert routes.is_extend({"os-extend": {"new_size": 2}}) and not routes.is_extend({"os-detach": {}})
    refused = routes.extend_refusal(MITAKA, "vol-1", "in-use")
    assert (refused.status, refused.body) == (400, {"badRequest": {"code": 400, "message":
        "Invalid volume: Volume vol-1 status must be available to extend, but current status is: in-use."}})  # fmt: skip
    assert routes.extend_refusal(NEWTON, "vol-1", "in-use").body["badRequest"]["message"] == (
        "Invalid volume: Volume vol-1 status must be available to extend.")
    assert routes.extend_refusal(LIBERTY, "vol-1", "available") is None


def test_surface_root_document_labels_the_endpoint():
    doc = _plan(LIBERTY, "GET", "/").answer.body["surface"]
    assert doc["label"] == "liberty over zed"
    assert doc["description"] == "an emulated Liberty API surface over OpenStack Zed"
