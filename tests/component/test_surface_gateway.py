"""The real gateway process (python -m conformance.localcloud.surfaces) in front of a small fake
upstream (an aiohttp server standing in for Keystone, Nova, Cinder, Neutron and Glance), end to end."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading

import pytest
import requests
from aiohttp import web

from conformance.core.waiting import wait_for

pytestmark = pytest.mark.component

GATEWAY_START_TIMEOUT = 30.0  # the gateway process imports aiohttp and listens
HTTP_TIMEOUT = 10.0
PID = "0123456789abcdef0123456789abcdef"
SERVICES = {"identity": "keystone", "compute": "nova", "volume": "cinder", "network": "neutron",
            "image": "glance", "placement": "placement"}  # fmt: skip


class FakeUpstream:
    """One aiohttp server; each service under its own path prefix (/nova, /cinder, ...). Records
    every request it got as (method, path, headers, body length)."""

    def __init__(self):
        self.seen: list[tuple[str, str, dict, int]] = []
        self.loop = asyncio.new_event_loop()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.volume_status = "in-use"

    def url(self, service: str) -> str:
        return f"{self.base}/{SERVICES[service]}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append((request.method, request.path, dict(request.headers), len(body)))
        path, u = request.path, self.url
        if path == "/keystone/v3/auth/tokens" and request.method == "POST":
            auth = json.loads(body)["auth"]["identity"]["password"]["user"]
            if auth["password"] != "right":
                return web.json_response({"error": {"code": 401}}, status=401)
            return web.json_response(token_body(self), status=201, headers={"X-Subject-Token": "tok-1"})
        if path == "/nova/v2.1/":
            return web.json_response({"version": {"id": "v2.1", "version": "2.93", "min_version": "2.1",
                                                  "links": [{"rel": "self", "href": u("compute") + "/v2.1/"}]}})
        if path == "/nova/v2.1/servers" and request.method == "POST":
            return web.json_response({"server": {"id": "s1"}}, status=202,
                                     headers={"Location": u("compute") + "/v2.1/servers/s1",
                                              "OpenStack-API-Version": "compute 2.12",
                                              "X-OpenStack-Nova-API-Version": "2.12"})  # fmt: skip
        if path.startswith("/nova/"):
            return web.json_response({"servers": [], "servers_links": [{"rel": "next", "href": u("compute") + "/v2.1/servers?marker=m"}]})
        if path == f"/cinder/v3/{PID}/volumes/v1":
            return web.json_response({"volume": {"id": "v1", "status": self.volume_status}})
        if path == f"/cinder/v3/{PID}/volumes/v1/action":
            return web.Response(status=202)
        if path.startswith("/cinder/"):
            return web.json_response({"volumes": [], "volumes_links": [
                {"rel": "next", "href": u("volume") + f"/v3/{PID}/volumes/detail?marker=m"}]})
        if path == "/neutron/v2.0/extensions":
            return web.json_response({"extensions": [{"alias": a} for a in ("router", "trunk", "standard-attr-tag")]})
        if path.startswith("/glance/"):
            return web.json_response({"received": len(body)}, status=204 if request.method == "PUT" else 200)
        return web.json_response({"fake": "no route"}, status=404)

    def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self.runner = runner
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=HTTP_TIMEOUT)
        self.loop.call_soon_threadsafe(self.loop.stop)


def token_body(fake: FakeUpstream) -> dict:
    def service(kind, url):
        return {"id": kind, "type": kind, "name": kind, "endpoints": [
            {"id": f"{kind}-p", "interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": url}]}

    u = fake.url
    catalog = [service("identity", u("identity") + "/v3"), service("compute", u("compute") + "/v2.1"),
               service("volumev3", u("volume") + f"/v3/{PID}"), service("block-storage", u("volume") + f"/v3/{PID}"),
               service("network", u("network")), service("image", u("image"))]  # fmt: skip
    return {"token": {"expires_at": "2026-12-02T10:00:00Z", "issued_at": "2026-12-02T09:00:00Z", "audit_ids": ["a"],
                      "user": {"id": "u1", "name": "cfm"}, "roles": [{"id": "r", "name": "member"}],
                      "project": {"id": PID, "name": "cfm", "domain": {"id": "default"}}, "catalog": catalog}}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def fake():
    upstream = FakeUpstream()
    upstream.start()
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def gateway(fake):
    port = free_port()
    argv = [sys.executable, "-m", "conformance.localcloud.surfaces", "--release", "liberty", "--port", str(port)]
    argv += [f"--upstream={svc}={fake.url(svc)}" for svc in SERVICES]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    root = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(root), failed=lambda _: proc.poll() is not None and f"exited {proc.returncode}",
                 timeout=GATEWAY_START_TIMEOUT, interval=0.2, what=f"the liberty gateway to answer on {root}")  # fmt: skip
        yield root
    finally:
        proc.terminate()
        log = proc.communicate(timeout=HTTP_TIMEOUT)[0].decode(errors="replace")
        assert "right" not in log, "no password in the gateway's log"


def _answers(root: str) -> bool:
    try:
        return requests.get(root + "/", timeout=1).ok
    except requests.ConnectionError:
        return False


def get(url, **kw):
    return requests.get(url, timeout=HTTP_TIMEOUT, **kw)


def test_every_answer_is_labelled(gateway):
    root_doc = get(gateway + "/")
    assert root_doc.headers["X-Cfm-Surface"] == "liberty over zed"
    assert root_doc.json()["surface"]["description"] == "an emulated Liberty API surface over OpenStack Zed"
    assert get(gateway + "/compute/v2.1/servers").headers["X-Cfm-Surface"] == "liberty over zed"
    assert get(gateway + "/nowhere").headers["X-Cfm-Surface"] == "liberty over zed"


def test_v2_token_request_gets_a_v2_access_document_pointing_at_the_gateway(gateway):
    body = {"auth": {"passwordCredentials": {"username": "cfm", "password": "right"}, "tenantName": "cfm"}}
    access = requests.post(gateway + "/identity/v2.0/tokens", json=body, timeout=HTTP_TIMEOUT).json()["access"]
    assert access["token"]["id"] == "tok-1" and access["token"]["tenant"]["id"] == PID
    urls = {s["type"]: s["endpoints"][0]["publicURL"] for s in access["serviceCatalog"]}
    assert urls == {"identity": f"{gateway}/identity/v2.0", "compute": f"{gateway}/compute/v2.1",
                    "volumev2": f"{gateway}/volume/v2/{PID}", "network": f"{gateway}/network",
                    "image": f"{gateway}/image"}  # fmt: skip
    wrong = requests.post(gateway + "/identity/v2.0/tokens", json={"auth": {**body["auth"], "passwordCredentials":
                          {"username": "cfm", "password": "wrong"}}}, timeout=HTTP_TIMEOUT)  # fmt: skip
    assert (wrong.status_code, wrong.json()["error"]["title"]) == (401, "Unauthorized")


def test_nova_version_document_and_links_are_the_releases(gateway):
    doc = get(gateway + "/compute/v2.1/").json()["version"]
    assert doc["version"] == "2.12"
    assert doc["links"][0]["href"] == f"{gateway}/compute/v2.1/"


def test_too_new_nova_microversion_is_refused_in_range_goes_through(fake, gateway):
    refused = get(gateway + "/compute/v2.1/servers", headers={"X-OpenStack-Nova-API-Version": "2.13"})
    assert refused.status_code == 406
    assert refused.json()["computeFault"]["message"] == (
        "Version 2.13 is not supported by the API. Minimum is 2.1 and maximum is 2.12.")
    made = requests.post(gateway + "/compute/v2.1/servers", json={"server": {}}, timeout=HTTP_TIMEOUT,
                         headers={"X-OpenStack-Nova-API-Version": "2.12"})  # fmt: skip
    assert made.headers["Location"] == f"{gateway}/compute/v2.1/servers/s1"
    assert "OpenStack-API-Version" not in made.headers, "Liberty never answered the standard header"
    assert fake.seen[-1][2]["OpenStack-API-Version"] == "compute 2.12"
    page = get(gateway + "/compute/v2.1/servers").json()
    assert "Content-Type" not in fake.seen[-1][2], "a GET without a body has no Content-Type (Nova: 415)"
    assert page["servers_links"][0]["href"] == f"{gateway}/compute/v2.1/servers?marker=m"


def test_cinder_v2_paths_reach_v3_at_3_0_and_link_back_to_v2(fake, gateway):
    page = get(gateway + f"/volume/v2/{PID}/volumes/detail", headers={"OpenStack-API-Version": "volume 3.60"})
    method, path, headers, _ = fake.seen[-1]
    assert (method, path, headers["OpenStack-API-Version"]) == ("GET", f"/cinder/v3/{PID}/volumes/detail", "volume 3.0")
    assert page.json()["volumes_links"][0]["href"] == f"{gateway}/volume/v2/{PID}/volumes/detail?marker=m"
    assert get(gateway + f"/volume/v3/{PID}/volumes").status_code == 404, "Liberty had no Cinder v3"


def test_attached_extend_is_refused_and_detached_extend_goes_through(fake, gateway):
    action = f"{gateway}/volume/v2/{PID}/volumes/v1/action"
    fake.volume_status = "in-use"
    refused = requests.post(action, json={"os-extend": {"new_size": 2}}, timeout=HTTP_TIMEOUT)
    assert refused.status_code == 400
    assert "status must be available to extend, but current status is: in-use" in refused.json()["badRequest"]["message"]
    assert not any(p.endswith("/action") for _, p, _, _ in fake.seen), "never reached the real Cinder"
    fake.volume_status = "available"
    assert requests.post(action, json={"os-extend": {"new_size": 2}}, timeout=HTTP_TIMEOUT).status_code == 202


def test_neutron_extensions_the_release_lacked_are_gone(gateway):
    aliases = [e["alias"] for e in get(gateway + "/network/v2.0/extensions").json()["extensions"]]
    assert aliases == ["router"]
    assert get(gateway + "/network/v2.0/trunks").status_code == 404


def test_large_bodies_stream_through_whole(fake, gateway):
    data = b"x" * (3 * 1024 * 1024 + 7)
    answer = requests.put(gateway + "/image/v2/images/i1/file", data=data, timeout=HTTP_TIMEOUT,
                          headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert answer.status_code == 204
    assert fake.seen[-1][:2] == ("PUT", "/glance/v2/images/i1/file") and fake.seen[-1][3] == len(data)
