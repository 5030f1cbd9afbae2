"""Keystone of the release surfaces: v2.0 tokens through v3, the release's catalog, link rewriting."""

from __future__ import annotations

import pytest

from conformance.localcloud.surfaces import SURFACE_HEADER, identity
from conformance.localcloud.surfaces.answer import Answer
from conformance.localcloud.surfaces.release_apis import SURFACES
from conformance.localcloud.surfaces.rewrite import UPSTREAM, UrlMap

pytestmark = pytest.mark.unit

ROOT = "http://127.0.0.1:15101"
URLS = UrlMap.build(ROOT, UPSTREAM)
PID = "0123456789abcdef0123456789abcdef"


def _service(kind, name, url):
    endpoints = [{"id": f"{kind}-{i}", "interface": i, "region": "RegionOne", "region_id": "RegionOne", "url": url}
                 for i in ("public", "internal", "admin")]  # fmt: skip
    return {"id": f"svc-{kind}", "type": kind, "name": name, "endpoints": endpoints}


ZED_CATALOG = [
    _service("identity", "keystone", "http://127.0.0.1:5000/v3"),
    _service("compute", "nova", "http://127.0.0.1:8774/v2.1"),
    _service("volumev3", "cinder", f"http://127.0.0.1:8776/v3/{PID}"),
    _service("block-storage", "cinder", f"http://127.0.0.1:8776/v3/{PID}"),
    _service("network", "neutron", "http://127.0.0.1:9696"),
    _service("image", "glance", "http://127.0.0.1:9292"),
    _service("placement", "placement", "http://127.0.0.1:8778"),
]
V3_TOKEN = {"token": {
    "expires_at": "2026-12-02T10:00:00.000000Z", "issued_at": "2026-12-02T09:00:00.000000Z", "audit_ids": ["a1"],
    "user": {"id": "u1", "name": "cfm-conformance", "domain": {"id": "default", "name": "Default"}},
    "project": {"id": PID, "name": "cfm-conformance", "domain": {"id": "default", "name": "Default"}},
    "roles": [{"id": "r1", "name": "member"}], "catalog": ZED_CATALOG,
}}  # fmt: skip


def test_v2_password_request_becomes_a_v3_password_auth_scoped_to_the_tenant():
    v2 = {"auth": {"passwordCredentials": {"username": "u", "password": "p"}, "tenantName": "proj"}}
    assert identity.v2_auth_to_v3(v2) == {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"name": "u", "domain": {"id": "default"},
                                                                    "password": "p"}}},
        "scope": {"project": {"name": "proj", "domain": {"id": "default"}}},
    }}  # fmt: skip
    by_id = identity.v2_auth_to_v3({"auth": {"token": {"id": "tok"}, "tenantId": PID}})
    assert by_id["auth"] == {"identity": {"methods": ["token"], "token": {"id": "tok"}},
                             "scope": {"project": {"id": PID}}}  # fmt: skip


@pytest.mark.parametrize("body", [None, {}, {"auth": {}}, {"auth": {"tenantName": "x"}}])
def test_malformed_v2_request_is_a_keystone_400(body):
    answer = identity.v2_auth_to_v3(body)
    assert isinstance(answer, Answer) and answer.status == 400 and answer.body["error"]["code"] == 400


def test_v2_bad_password_is_keystone_v2_401():
    assert identity.v2_refusal(401).body == {"error": {
        "code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}


def test_v2_token_request_is_answered_with_a_v2_access_document_and_catalog():
    catalog = identity.surface_catalog(SURFACES["liberty"], URLS.json(ZED_CATALOG), URLS, ROOT)
    access = identity.v2_access("the-token-id", V3_TOKEN, catalog)["access"]
    assert access["token"]["id"] == "the-token-id" and access["token"]["expires"] == "2026-12-02T10:00:00.000000Z"
    assert access["token"]["tenant"] == {"id": PID, "name": "cfm-conformance", "enabled": True, "description": None}
    assert access["user"] == {"id": "u1", "name": "cfm-conformance", "username": "cfm-conformance",
                              "roles": [{"name": "member"}], "roles_links": []}  # fmt: skip
    by_type = {s["type"]: s for s in access["serviceCatalog"]}
    assert by_type["volumev2"]["endpoints"] == [{
        "id": by_type["volumev2"]["endpoints"][0]["id"], "region": "RegionOne",
        "publicURL": f"{ROOT}/volume/v2/{PID}", "internalURL": f"{ROOT}/volume/v2/{PID}",
        "adminURL": f"{ROOT}/volume/v2/{PID}",
    }]  # fmt: skip
    assert by_type["identity"]["endpoints"][0]["publicURL"] == f"{ROOT}/identity/v2.0"
    assert by_type["compute"]["endpoints"][0]["publicURL"] == f"{ROOT}/compute/v2.1"
    assert all(s["endpoints_links"] == [] for s in access["serviceCatalog"])


def test_liberty_catalog_has_no_volumev3_and_no_block_storage_or_placement():
    catalog = identity.surface_catalog(SURFACES["liberty"], URLS.json(ZED_CATALOG), URLS, ROOT)
    assert sorted(s["type"] for s in catalog) == ["compute", "identity", "image", "network", "volumev2"]


@pytest.mark.parametrize(("release", "types"), [
    ("mitaka", ["compute", "identity", "image", "network", "volumev2", "volumev3"]),
    ("newton", ["compute", "identity", "image", "network", "placement", "volumev2", "volumev3"]),
])  # fmt: skip
def test_mitaka_and_newton_catalogs_offer_volumev2_beside_volumev3(release, types):
    catalog = identity.surface_catalog(SURFACES[release], URLS.json(ZED_CATALOG), URLS, ROOT)
    assert sorted(s["type"] for s in catalog) == types
    assert not any("127.0.0.1:8776" in ep["url"] for s in catalog for ep in s["endpoints"]), "no way to the real Cinder"


def test_links_are_rewritten_to_the_surface_at_url_boundaries_only():
    doc = {"server": {"links": [{"rel": "self", "href": "http://127.0.0.1:8774/v2.1/servers/x"}],
                      "next": "http://127.0.0.1:9292/v2/images?marker=m", "other": "http://127.0.0.1:87745/x",
                      "name": "http://127.0.0.1:8774 is not a link"}}  # fmt: skip
    out = URLS.json(doc)["server"]
    assert out["links"][0]["href"] == f"{ROOT}/compute/v2.1/servers/x"
    assert out["next"] == f"{ROOT}/image/v2/images?marker=m"
    assert out["other"] == "http://127.0.0.1:87745/x"
    assert URLS.url("http://127.0.0.1:5000") == f"{ROOT}/identity"


def test_cinder_v2_answers_link_back_to_v2():
    v2 = URLS.with_pairs(("http://127.0.0.1:8776/v3/", f"{ROOT}/volume/v2/"))
    assert v2.url(f"http://127.0.0.1:8776/v3/{PID}/volumes/v1") == f"{ROOT}/volume/v2/{PID}/volumes/v1"
    assert v2.url("http://127.0.0.1:8776/") == f"{ROOT}/volume/"


def test_surface_header_name_matches_the_cloud_side_reader():
    from conformance.cloud import surface

    assert surface.HEADER == SURFACE_HEADER


def test_fingerprint_reads_the_label_from_the_endpoint_header():
    from conformance.cloud import surface

    class Session:
        def get_endpoint(self, service_type):
            return "http://127.0.0.1:15101/identity/v2.0"

        def get(self, url, **kwargs):
            return type("R", (), {"headers": {SURFACE_HEADER: "liberty over zed"}})()

    label = surface.surface(type("Conn", (), {"session": Session()})())
    assert label["description"] == "an emulated Liberty API surface over OpenStack Zed"
    assert (label["release"], label["over"]) == ("liberty", "zed")
    assert surface.parse_label(None) is None, "a real cloud has no label"
