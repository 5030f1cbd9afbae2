"""The reference CPI as the Director runs it: the real executable, JSON on stdin, no cloud.

Every answer must be exactly one JSON envelope on stdout, whatever went wrong, and no configured
secret may appear on stdout or stderr.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conformance.cpi.protocol import parse_response

pytestmark = pytest.mark.component

SECRET = "Sup3r-S3cret-Passw0rd"
CONTEXT = {"director_uuid": "d-1", "request_id": "cpi-1"}


def cpi_command() -> list[str]:
    beside = Path(sys.executable).parent / "conformance-openstack-cpi"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("conformance-openstack-cpi")
    return [found] if found else [sys.executable, "-m", "conformance.refcpi.main"]


def write_config(tmp_path, auth_url="http://127.0.0.1:9/v3", **extra) -> str:
    openstack = {
        "auth_url": auth_url,
        "username": "admin",
        "api_key": SECRET,
        "project": "demo",
        "domain": "Default",
        "state_timeout": 5,
        "wait_resource_poll_interval": 1,
        **extra,
    }
    path = tmp_path / "cpi.json"
    path.write_text(json.dumps({"cloud": {"plugin": "openstack", "properties": {"openstack": openstack}}}))
    return str(path)


def run_cpi(config_path, stdin, *extra_args):
    """Run once with the Director's near-empty environment; return (response, stdout, stderr)."""
    env = {"PATH": os.environ["PATH"], "TMPDIR": os.environ.get("TMPDIR", "/tmp")}
    proc = subprocess.run(
        [*cpi_command(), *([config_path] if config_path else []), *extra_args],
        input=stdin if isinstance(stdin, bytes) else stdin.encode(),
        capture_output=True,
        env=env,
        timeout=60,
    )
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert SECRET not in out and SECRET not in err, "a configured secret leaked"
    return parse_response(out), out, err


def request(method, *arguments, api_version=None, context=CONTEXT):
    doc = {"method": method, "arguments": list(arguments), "context": context}
    if api_version is not None:
        doc["api_version"] = api_version
    return json.dumps(doc)


def test_info_answers_v2_and_the_stemcell_formats_quickly(tmp_path):
    config = write_config(tmp_path)
    durations = []
    for _ in range(5):
        started = time.monotonic()
        response, _out, _err = run_cpi(config, request("info"))
        durations.append(time.monotonic() - started)
    assert response.error is None
    assert response.result == {
        "api_version": 2,
        "stemcell_formats": ["openstack-raw", "openstack-qcow2", "openstack-light"],
    }
    print(
        f"\ninfo latency over 5 runs: median {statistics.median(durations) * 1000:.0f} ms, max {max(durations) * 1000:.0f} ms"
    )


@pytest.mark.parametrize(
    ("stdin", "error_type", "message"),
    [
        ("not json", "InvalidCall", "not JSON"),
        (json.dumps({"method": "info", "arguments": []}), "InvalidCall", "director_uuid"),
        (
            json.dumps(
                {"method": "info", "arguments": [], "context": {"director_uuid": "d"}, "api_version": "2"}
            ),
            "InvalidCall",
            "api_version",
        ),
        (request("make_coffee"), "Bosh::Clouds::NotImplemented", "Method is not known"),
        (request("update_disk", "d", 2048, {}), "Bosh::Clouds::NotImplemented", "update_disk"),
        (request("has_vm"), "InvalidCall", "wrong number of arguments"),
        (request("create_vm", "a", "b"), "InvalidCall", "given 2, expected 6"),
    ],
)
def test_bad_requests_get_typed_errors(tmp_path, stdin, error_type, message):
    response, out, _err = run_cpi(write_config(tmp_path), stdin)
    assert response.error is not None and response.error.type == error_type
    assert message in response.error.message and out.count("\n") == 1


def test_config_problems_are_cloud_errors_naming_the_key(tmp_path):
    response, _out, _err = run_cpi(str(tmp_path / "absent.json"), request("has_vm", "x"))
    assert (response.error.type, "no such file" in response.error.message) == (
        "Bosh::Clouds::CloudError",
        True,
    )
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    response, _out, _err = run_cpi(str(bad), request("has_vm", "x"))
    assert "not valid JSON" in response.error.message
    response, _out, _err = run_cpi(write_config(tmp_path, state_timeout="soon"), request("has_vm", "x"))
    assert "openstack.state_timeout must be a number" in response.error.message
    response, _out, _err = run_cpi(None, request("info"))
    assert "usage:" in response.error.message


def test_several_manual_networks_with_dhcp_are_refused_before_any_api_call(tmp_path):
    nets = {
        "a": {"type": "manual", "ip": "10.0.1.10", "cloud_properties": {"net_id": "n-a"}},
        "b": {"type": "manual", "ip": "10.0.2.10", "cloud_properties": {"net_id": "n-b"}},
    }
    stdin = request("create_vm", "agent", "stemcell", {"instance_type": "m1"}, nets, [], {}, api_version=2)
    response, _out, _err = run_cpi(write_config(tmp_path, use_dhcp=True, config_drive="cdrom"), stdin)
    assert response.error.type == "Bosh::Clouds::CloudError"
    assert (
        "Multiple manual networks can only be used with 'openstack.use_dhcp=false'" in response.error.message
    )


class _LeakyKeystone(http.server.BaseHTTPRequestHandler):
    """Answers every auth with 401 and echoes the password it got (as careless services do)."""

    def do_POST(self):  # noqa: N802 (http.server naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        password = (
            body.get("auth", {}).get("identity", {}).get("password", {}).get("user", {}).get("password")
        )
        payload = json.dumps(
            {
                "error": {
                    "code": 401,
                    "title": "Unauthorized",
                    "message": f"wrong password {password} for admin",
                }
            }
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):  # noqa: N802 (version discovery: not found, keystoneauth then uses the URL)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        return


@pytest.fixture
def leaky_keystone():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LeakyKeystone)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v3"
    server.shutdown()
    server.server_close()


def test_a_keystone_error_that_echoes_the_password_is_scrubbed(tmp_path, leaky_keystone):
    response, out, err = run_cpi(write_config(tmp_path, auth_url=leaky_keystone), request("has_vm", "x"))
    assert response.error is not None and response.error.type == "Bosh::Clouds::CloudError"
    assert "<redacted>" in out and "Unauthorized" in response.error.message
    assert SECRET not in out + err  # also asserted in run_cpi for every call
