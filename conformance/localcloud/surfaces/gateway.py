"""The gateway: an aiohttp server and client in one process, a reverse proxy that carries out the
plans of ``routes`` for one release.

aiohttp because one well-kept library gives both halves (server and a pooled client), streams
bodies both ways (a stemcell image through Glance is hundreds of MB) and needs no second framework;
the rules stay pure functions over plain dicts, so this module only moves bytes. Every answer, the
gateway's own and the forwarded, carries ``X-Cfm-Surface: <release> over zed`` (``on_response_prepare``
runs for streamed answers too). No request body, token or password is logged: the access log has
the method, path, status and size only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web

from conformance.localcloud.surfaces import SURFACE_HEADER, documents, identity, routes
from conformance.localcloud.surfaces.answer import Answer
from conformance.localcloud.surfaces.microversions import STANDARD, nova_answer_headers
from conformance.localcloud.surfaces.release_apis import SurfaceRelease
from conformance.localcloud.surfaces.rewrite import UrlMap
from conformance.localcloud.surfaces.rewrite import headers as rewrite_headers

LOG = logging.getLogger("conformance.surfaces")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding"}  # fmt: skip
SMALL_BODY = 1024 * 1024  # read whole (and sent with a length) up to this; larger bodies stream
JSON_EDIT_LIMIT = 16 * 1024 * 1024  # a JSON answer larger than this streams unedited
UPSTREAM_CONNECT_TIMEOUT = 10.0
UPSTREAM_READ_TIMEOUT = 300.0  # one read from a real service (an image upload's answer, a slow create)
ACCESS_LOG = '%a "%r" %s %b %Tfs'


class Gateway:
    def __init__(self, release: SurfaceRelease, root: str, upstream: dict[str, str]):
        self.release, self.root, self.upstream = release, root.rstrip("/"), dict(upstream)
        self.url_map = UrlMap.build(self.root, self.upstream)
        self.v2_map = self.url_map.with_pairs((f"{self.upstream['volume']}/v3/", f"{self.root}/volume/v2/"))
        self.session: ClientSession | None = None
        self.edits: dict[str, Callable[[dict], dict]] = {
            routes.NOVA_VERSIONS: lambda d: documents.with_max_version(d, release.nova_max),
            routes.CINDER_V3_VERSIONS: lambda d: documents.with_max_version(d, release.cinder_max),
            routes.KEYSTONE_V3: lambda d: documents.keystone_v3_document(release, d),
            routes.GLANCE_VERSIONS: lambda d: documents.glance_versions(release, d),
            routes.NEUTRON_EXTENSIONS: lambda d: documents.neutron_extensions(release, d),
            routes.CATALOG: self._catalog_edit,
        }

    def app(self) -> web.Application:
        app = web.Application(client_max_size=SMALL_BODY * 64)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_startup.append(self._open)
        app.on_cleanup.append(self._close)
        app.on_response_prepare.append(self._label)
        return app

    async def _open(self, _app) -> None:
        timeout = ClientTimeout(total=None, sock_connect=UPSTREAM_CONNECT_TIMEOUT, sock_read=UPSTREAM_READ_TIMEOUT)
        self.session = ClientSession(timeout=timeout, auto_decompress=False, connector=TCPConnector(limit=32))

    async def _close(self, _app) -> None:
        if self.session:
            await self.session.close()

    async def _label(self, _request, response: web.StreamResponse) -> None:
        response.headers[SURFACE_HEADER] = self.release.label

    async def handle(self, request: web.Request) -> web.StreamResponse:
        plan = routes.plan(self.release, request.method, request.path, request.headers, self.root)
        if plan.answer is not None:
            return respond(plan.answer)
        try:
            if plan.handler == routes.V2_TOKENS:
                return await self._v2_tokens(request)
            body = await self._small_body(request)
            if plan.handler == routes.EXTEND_CHECK and body is not None:
                refusal = await self._extend_refusal(plan, request, body)
                if refusal:
                    return respond(refusal)
            return await self._forward(request, plan, body)
        except (ClientError, TimeoutError) as exc:
            return respond(Answer(502, {"error": {"code": 502, "title": "Bad Gateway",
                                                  "message": f"{plan.service}: {type(exc).__name__}"}}))  # fmt: skip

    async def _small_body(self, request: web.Request) -> bytes | None:
        if not request.body_exists:
            return b""
        if request.content_length is None or request.content_length <= SMALL_BODY:
            return await request.read()
        return None  # streamed with its Content-Length

    async def _forward(self, request: web.Request, plan: routes.Plan, body: bytes | None) -> web.StreamResponse:
        url = self.upstream[plan.service] + plan.path + (f"?{request.query_string}" if request.query_string else "")
        headers = {k: v for k, v in plan.headers.items() if k.lower() not in HOP_BY_HOP}
        data = body or None  # no body, no Content-Type: aiohttp would call b"" octet-stream (Nova: 415)
        if body is None:
            headers["Content-Length"], data = str(request.content_length), request.content
        assert self.session is not None
        async with self.session.request(request.method, url, headers=headers, data=data, allow_redirects=False) as up:
            url_map = self.v2_map if plan.v2_volume else self.url_map
            out = rewrite_headers(url_map, {k: v for k, v in up.headers.items() if k.lower() not in HOP_BY_HOP})
            out = self._release_headers(plan, out)
            if _is_json(up) and (up.content_length or 0) <= JSON_EDIT_LIMIT and "content-encoding" not in up.headers:
                raw = await up.read()
                return web.Response(status=up.status, body=self._edit_json(plan, url_map, raw), headers=out)
            response = web.StreamResponse(status=up.status, headers=out)
            if up.content_length is not None:
                response.content_length = up.content_length
            await response.prepare(request)
            async for chunk in up.content.iter_chunked(64 * 1024):
                await response.write(chunk)
            await response.write_eof()
            return response

    def _release_headers(self, plan: routes.Plan, out: dict[str, str]) -> dict[str, str]:
        if plan.nova:
            return nova_answer_headers(self.release, out)
        if plan.v2_volume:  # /v2 answered no microversion
            return {k: v for k, v in out.items() if k.lower() not in (STANDARD.lower(), "vary")}
        return out

    def _edit_json(self, plan: routes.Plan, url_map: UrlMap, raw: bytes) -> bytes:
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            return raw
        if doc is None:
            return raw
        doc = url_map.json(doc)
        if plan.body_edit and isinstance(doc, dict):
            doc = self.edits[plan.body_edit](doc)
        return json.dumps(doc).encode()

    def _catalog_edit(self, doc: dict) -> dict:
        if isinstance(doc.get("token"), dict) and "catalog" in doc["token"]:
            catalog = identity.surface_catalog(self.release, doc["token"]["catalog"], self.url_map, self.root)
            return {**doc, "token": {**doc["token"], "catalog": catalog}}
        if isinstance(doc.get("catalog"), list):
            return {**doc, "catalog": identity.surface_catalog(self.release, doc["catalog"], self.url_map, self.root)}
        return doc

    async def _v2_tokens(self, request: web.Request) -> web.StreamResponse:
        try:
            asked = json.loads(await request.read())
        except ValueError:
            asked = None
        v3 = identity.v2_auth_to_v3(asked)
        if isinstance(v3, Answer):
            return respond(v3)
        assert self.session is not None
        async with self.session.post(f"{self.upstream['identity']}/v3/auth/tokens", json=v3) as up:
            if up.status != 201:
                return respond(identity.v2_refusal(up.status))
            token_id, doc = up.headers.get("X-Subject-Token", ""), await up.json()
        doc = self.url_map.json(doc)
        catalog = identity.surface_catalog(self.release, doc["token"].get("catalog", []), self.url_map, self.root)
        return respond(Answer(200, identity.v2_access(token_id, doc, catalog)))

    async def _extend_refusal(self, plan: routes.Plan, request: web.Request, body: bytes) -> Answer | None:
        try:
            action = json.loads(body)
        except ValueError:
            return None
        if not routes.is_extend(action):
            return None
        volume_path = routes.volume_path_of_action(plan.path)
        auth = {k: v for k, v in plan.headers.items() if k.lower() in ("x-auth-token", STANDARD.lower())}
        assert self.session is not None
        async with self.session.get(self.upstream["volume"] + volume_path, headers=auth) as up:
            if up.status != 200:
                return None  # let the real service answer the action (404, 401, ...)
            volume = (await up.json()).get("volume", {})
        return routes.extend_refusal(self.release, volume.get("id", volume_path.rsplit("/", 1)[-1]), volume.get("status"))


def respond(answer: Answer) -> web.Response:
    body, content_type = answer.payload()
    response = web.Response(status=answer.status, body=body, headers=answer.headers)
    response.content_type = content_type.split(";")[0]
    if "charset" in content_type:
        response.charset = "UTF-8"
    return response


def _is_json(up) -> bool:
    kind = up.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")
