"""Where a request to the surface goes: one plan per request, decided from its method, path and
headers alone (pure), then carried out by the gateway.

A plan either answers at once (a refusal, a document the release built itself) or forwards to the
real service with a path, headers and the body edits of that path. Paths are the gateway's:
``/<service>/<rest>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from conformance.localcloud.surfaces import documents, microversions
from conformance.localcloud.surfaces.answer import NOT_FOUND, Answer, keystone_error
from conformance.localcloud.surfaces.release_apis import NEUTRON_COLLECTIONS, SurfaceRelease

# what the gateway does to a forwarded answer's JSON body, by name (gateway.BODY_EDITS)
NOVA_VERSIONS, CINDER_V3_VERSIONS, KEYSTONE_V3, GLANCE_VERSIONS = "nova-versions", "cinder-v3", "keystone-v3", "glance"
NEUTRON_EXTENSIONS, CATALOG = "neutron-extensions", "catalog"
# special handlers (need more than one upstream call)
V2_TOKENS, EXTEND_CHECK = "v2-tokens", "extend-check"


@dataclass(frozen=True)
class Plan:
    service: str = ""
    path: str = ""                    # upstream path (with query string added by the gateway)
    headers: dict[str, str] = field(default_factory=dict)
    answer: Answer | None = None      # answered by the gateway; nothing forwarded
    body_edit: str | None = None
    handler: str | None = None
    v2_volume: bool = False           # a Cinder v2 path: upstream /v3/ links map back to /volume/v2/
    nova: bool = False                # Nova's answer headers are the release's


_VOLUME_ACTION = re.compile(r"^/v[23]/[^/]+/volumes/[^/]+/action$")


def plan(release: SurfaceRelease, method: str, path: str, headers: Mapping[str, str], root: str) -> Plan:
    service, _, rest = path.lstrip("/").partition("/")
    rest = "/" + rest
    headers = dict(headers)
    route = {"identity": _identity, "compute": _compute, "volume": _volume, "network": _network,
             "image": _image, "placement": _placement}.get(service)  # fmt: skip
    if route is None:
        if path in ("", "/"):
            return Plan(answer=Answer(200, documents.surface_root(release, root)))
        return Plan(answer=NOT_FOUND)
    return route(release, method, rest, headers, root)


def _identity(release, method, rest, headers, root) -> Plan:
    base = f"{root}/identity"
    bare = rest.rstrip("/")
    if bare == "" and method == "GET":
        return Plan(answer=Answer(300, documents.keystone_versions(release, base)))
    if bare == "/v2.0" and method == "GET":
        return Plan(answer=Answer(200, {"version": documents.keystone_v2_entry(release, base)}))
    if bare == "/v2.0/tokens" and method == "POST":
        return Plan("identity", "/v3/auth/tokens", headers, handler=V2_TOKENS)
    if bare.startswith("/v2.0"):
        return Plan(answer=keystone_error(404, "Not Found", "The resource could not be found."))
    if bare == "/v3" and method == "GET":
        return Plan("identity", rest, headers, body_edit=KEYSTONE_V3)
    if bare in ("/v3/auth/tokens", "/v3/auth/catalog"):
        return Plan("identity", rest, headers, body_edit=CATALOG)
    return Plan("identity", rest, headers)


def _compute(release, method, rest, headers, root) -> Plan:
    bare = rest.rstrip("/")
    if bare in ("", "/v2", "/v2.1") and method == "GET":
        return Plan("compute", rest, microversions.nova_forward_headers(release, headers), body_edit=NOVA_VERSIONS,
                    nova=True)  # fmt: skip
    refusal = microversions.nova_refusal(release, headers)
    if refusal:
        return Plan(answer=refusal)
    return Plan("compute", rest, microversions.nova_forward_headers(release, headers), nova=True)


def _volume(release, method, rest, headers, root) -> Plan:
    base = f"{root}/volume"
    bare = rest.rstrip("/")
    if bare == "" and method == "GET":
        return Plan(answer=Answer(300, documents.cinder_root(release, base)))
    if bare == "/v2" and method == "GET":
        return Plan(answer=Answer(200, documents.cinder_v2_version(release, base)))
    handler = EXTEND_CHECK if method == "POST" and _VOLUME_ACTION.match(bare) and not release.attached_extend else None
    if rest.startswith("/v2/"):
        upstream = "/v3/" + rest[len("/v2/"):]
        return Plan("volume", upstream, microversions.cinder_forward_headers(release, headers, v2=True),
                    handler=handler, v2_volume=True)  # fmt: skip
    if bare == "/v3" or rest.startswith("/v3/"):
        if release.cinder_max is None:
            return Plan(answer=NOT_FOUND)
        refusal = microversions.cinder_refusal(release, headers)
        if refusal:
            return Plan(answer=refusal)
        edit = CINDER_V3_VERSIONS if bare == "/v3" and method == "GET" else None
        return Plan("volume", rest, microversions.cinder_forward_headers(release, headers, v2=False),
                    body_edit=edit, handler=handler)  # fmt: skip
    return Plan(answer=NOT_FOUND)  # /v1: today's Cinder has none to serve it with


def _network(release, method, rest, headers, root) -> Plan:
    bare = rest.rstrip("/")
    parts = bare.split("/")
    if bare == "/v2.0/extensions" or bare == "/v2.0/extensions.json":
        return Plan("network", rest, headers, body_edit=NEUTRON_EXTENSIONS)
    if len(parts) == 4 and parts[2] == "extensions" and parts[3].removesuffix(".json") not in release.neutron_extensions:
        return Plan(answer=Answer(404, {"NeutronError": {
            "type": "HTTPNotFound", "detail": "",
            "message": f"Extension with alias {parts[3].removesuffix('.json')} does not exist"}}))  # fmt: skip
    if len(parts) >= 3 and parts[1] == "v2.0":
        alias = NEUTRON_COLLECTIONS.get(parts[2].removesuffix(".json"))
        if alias and alias not in release.neutron_extensions:
            return Plan(answer=NOT_FOUND)
    return Plan("network", rest, headers)


def _image(release, method, rest, headers, root) -> Plan:
    bare = rest.rstrip("/")
    if bare in ("", "/versions") and method == "GET":
        return Plan("image", rest, headers, body_edit=GLANCE_VERSIONS)
    return Plan("image", rest, headers)


def _placement(release, method, rest, headers, root) -> Plan:
    if "placement" not in release.service_types:
        return Plan(answer=NOT_FOUND)
    return Plan("placement", rest, headers)


def is_extend(body: object) -> bool:
    return isinstance(body, dict) and "os-extend" in body


def extend_refusal(release: SurfaceRelease, volume_id: str, status: str | None) -> Answer | None:
    """Before Pike a volume is extended only when available (cinder/volume/api.py ``extend``; the
    in-use extend is Cinder 3.42 with Nova 2.51): 400 badRequest, with Liberty's and Mitaka's
    message naming the status and Newton's (conditional_update) not."""
    if release.attached_extend or status == "available" or status is None:
        return None
    if release.name == "newton":
        reason = f"Volume {volume_id} status must be available to extend."
    else:
        reason = f"Volume {volume_id} status must be available to extend, but current status is: {status}."
    return Answer(400, {"badRequest": {"code": 400, "message": f"Invalid volume: {reason}"}})


def volume_path_of_action(upstream_path: str) -> str:
    """/v3/<project>/volumes/<id>/action -> /v3/<project>/volumes/<id>"""
    return upstream_path.rstrip("/").removesuffix("/action")
