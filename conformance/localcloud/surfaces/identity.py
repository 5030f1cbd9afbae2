"""Keystone of the release: its catalog's service types, and v2.0 tokens served through today's v3.

v2.0 (removed in Queens) is translated: ``POST /v2.0/tokens`` with passwordCredentials (or a token)
and tenantName/tenantId becomes a v3 password (or token) auth scoped to that project in the default
domain; the v3 answer becomes the v2.0 access document as keystone 8.0.0-10.0.0 built it from a v3
token (keystone/token/providers/common.py ``V2TokenDataHelper.v3_to_v2_token`` and
``format_catalog``): token {id, expires, issued_at, audit_ids, tenant}, user {id, name, username,
roles, roles_links}, serviceCatalog [{name, type, endpoints [{id, region, publicURL, internalURL,
adminURL}], endpoints_links}], metadata {is_admin: 0, roles: []}.
"""

from __future__ import annotations

import hashlib

from conformance.localcloud.surfaces.answer import Answer, keystone_error
from conformance.localcloud.surfaces.release_apis import SurfaceRelease
from conformance.localcloud.surfaces.rewrite import UrlMap

DEFAULT_DOMAIN = {"id": "default"}
INTERFACE_KEYS = {"public": "publicURL", "internal": "internalURL", "admin": "adminURL"}


def v2_auth_to_v3(body: object) -> dict | Answer:
    """A v2.0 token request as a v3 one; a body keystone v2.0 refused is refused the same way."""
    auth = body.get("auth") if isinstance(body, dict) else None
    if not isinstance(auth, dict):
        return keystone_error(400, "Bad Request", "Expecting to find auth in request body. The server could not "
                              "comply with the request since it is either malformed or otherwise incorrect. "
                              "The client is assumed to be in error.")  # fmt: skip
    if isinstance(auth.get("passwordCredentials"), dict):
        creds = auth["passwordCredentials"]
        user = {"name": creds.get("username"), "domain": DEFAULT_DOMAIN} if "username" in creds else {"id": creds.get("userId")}
        identity = {"methods": ["password"], "password": {"user": {**user, "password": creds.get("password")}}}
    elif isinstance(auth.get("token"), dict):
        identity = {"methods": ["token"], "token": {"id": auth["token"].get("id")}}
    else:
        return keystone_error(400, "Bad Request", "Expecting to find passwordCredentials or token in auth.")
    v3: dict = {"auth": {"identity": identity}}
    if auth.get("tenantId"):
        v3["auth"]["scope"] = {"project": {"id": auth["tenantId"]}}
    elif auth.get("tenantName"):
        v3["auth"]["scope"] = {"project": {"name": auth["tenantName"], "domain": DEFAULT_DOMAIN}}
    return v3


def v2_refusal(status: int) -> Answer:
    """Keystone v2.0's answer when the v3 auth behind it failed."""
    if status == 401:
        return keystone_error(401, "Unauthorized", "The request you have made requires authentication.")
    if status == 404:
        return keystone_error(401, "Unauthorized", "The request you have made requires authentication.")
    return keystone_error(status, "Error", f"the token request failed with HTTP {status}")


def v2_access(token_id: str, v3_body: dict, catalog: list[dict]) -> dict:
    """The v2.0 access document for a v3 token (``catalog``: the surface's v3 catalog)."""
    token = v3_body["token"]
    v2_token = {"id": token_id, "expires": token.get("expires_at"), "issued_at": token.get("issued_at"),
                "audit_ids": token.get("audit_ids", [])}  # fmt: skip
    project = token.get("project")
    if project:
        v2_token["tenant"] = {"id": project["id"], "name": project["name"], "enabled": True, "description": None}
    user = token["user"]
    roles = [{"name": r["name"]} for r in token.get("roles", [])]
    return {"access": {
        "token": v2_token,
        "user": {"id": user["id"], "name": user["name"], "username": user["name"], "roles": roles,
                 "roles_links": []},
        "serviceCatalog": v2_catalog(catalog) if project else [],
        "metadata": {"is_admin": 0, "roles": []},
    }}  # fmt: skip


def v2_catalog(catalog: list[dict]) -> list[dict]:
    """v3 catalog -> v2.0: one endpoint entry per region carrying each interface's URL."""
    services = []
    for service in catalog:
        by_region: dict[str, dict] = {}
        for ep in service.get("endpoints", []):
            region = ep.get("region_id") or ep.get("region")
            entry = by_region.setdefault(region, {"id": ep.get("id"), "region": region})
            if ep.get("interface") in INTERFACE_KEYS:
                entry[INTERFACE_KEYS[ep["interface"]]] = ep["url"]
        services.append({"name": service.get("name"), "type": service["type"],
                         "endpoints": list(by_region.values()), "endpoints_links": []})  # fmt: skip
    return services


def surface_catalog(release: SurfaceRelease, catalog: list[dict], url_map: UrlMap, surface_root: str) -> list[dict]:
    """Today's v3 catalog as the release's: its service types only (no block-storage; no volumev3
    in Liberty; no placement before Newton), volumev2 beside volumev3, every URL the surface's."""
    out = []
    for service in catalog:
        kind = service.get("type")
        if kind == "identity":
            out.append(_mapped(service, lambda _url: f"{surface_root}/identity{release.identity_path}"))
        elif kind == "volumev3":
            volume = _mapped(service, url_map.url)
            if "volumev2" in release.service_types:
                out.append(_as_volumev2(volume))
            if "volumev3" in release.service_types:
                out.append(volume)
        elif kind in release.service_types:
            out.append(_mapped(service, url_map.url))
    return out


def _mapped(service: dict, url) -> dict:
    endpoints = [{**ep, "url": url(ep["url"])} for ep in service.get("endpoints", [])]
    return {**service, "endpoints": endpoints}


def _as_volumev2(service: dict) -> dict:
    endpoints = [{**ep, "id": _derived_id(ep.get("id", ""), "volumev2"), "url": ep["url"].replace("/volume/v3", "/volume/v2", 1)}
                 for ep in service["endpoints"]]  # fmt: skip
    return {**service, "type": "volumev2", "name": "cinderv2", "id": _derived_id(service.get("id", ""), "volumev2"),
            "endpoints": endpoints}  # fmt: skip


def _derived_id(base: str, salt: str) -> str:
    return hashlib.sha256(f"{base}:{salt}".encode()).hexdigest()[:32]
