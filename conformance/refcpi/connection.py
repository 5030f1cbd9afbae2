"""One openstacksdk Connection per CPI call, built from the config; SDK errors made CPI errors.

openstack is imported here, lazily, so that ``info`` and config errors answer without paying for
it. Inline credentials never touch clouds.yaml or OS_* variables (the Director runs us with an
almost empty environment: behave the same with a full one). ``"cloud": "<name>"`` reads
clouds.yaml (the standard places, or ``clouds_file``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

from conformance.refcpi.config import Config
from conformance.refcpi.errors import CloudError, CpiFailure
from conformance.refcpi.logs import Scrubber

LOG = logging.getLogger("conformance.refcpi.connection")
INTERFACES = {"publicURL": "public", "internalURL": "internal", "adminURL": "admin"}
SECRET_AUTH_KEYS = ("password", "token", "application_credential_secret")
# keystoneauth retries a ConnectTimeout, and it maps a read timeout to one: a retried POST whose
# first reply was lost creates a second server/port/volume. So no transport retries: the waits
# retry their GETs (transient errors), and the Director retries a call answered ok_to_retry.
CONNECT_RETRIES = 0
DEFAULT_API_TIMEOUT = 60.0  # seconds per HTTP request, unless connection_options say otherwise


def _auth_url(url: str) -> str:
    """The official CPI accepts (and appends) /auth/tokens or /tokens; keystoneauth wants the base."""
    for suffix in ("/auth/tokens", "/tokens"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


def _tls_options(config: Config, cacert_path: str | None) -> dict[str, Any]:
    options = config.get("connection_options", {})
    tls: dict[str, Any] = {}
    ca = options.get("ca_cert")
    if isinstance(ca, str) and "BEGIN CERTIFICATE" in ca:
        fd, path = tempfile.mkstemp(prefix="refcpi-ca-", suffix=".pem")  # unique: calls run in parallel
        with os.fdopen(fd, "w") as handle:
            handle.write(ca)
        tls["cacert"] = path
    elif isinstance(ca, str) and ca:
        tls["cacert"] = ca
    elif cacert_path:
        tls["cacert"] = cacert_path
    if options.get("ssl_verify_peer") is False:
        tls["verify"] = False
    timeouts = [
        options[k] for k in ("connect_timeout", "read_timeout") if isinstance(options.get(k), int | float)
    ]
    # every request is bounded, so no wait can outlive state_timeout by more than one request
    tls["api_timeout"] = max(timeouts) if timeouts else min(DEFAULT_API_TIMEOUT, config.state_timeout)
    return tls


def _inline_auth(config: Config) -> dict[str, Any]:
    domain = config.get("domain")
    auth = {
        "auth_url": _auth_url(config.get("auth_url")),
        "username": config.get("username"),
        "password": config.get("api_key"),
        "project_name": config.get("project") or config.get("tenant"),
    }
    user_domain = config.get("user_domain_name", domain)
    project_domain = config.get("project_domain_name", domain)
    if user_domain:
        auth["user_domain_name"] = user_domain
    if project_domain:
        auth["project_domain_name"] = project_domain
    return auth


def connect(config: Config, scrubber: Scrubber, cacert_path: str | None = None) -> Any:
    """A Connection for this call; every secret it holds is handed to the scrubber first."""
    import openstack
    import openstack.config

    extra = _tls_options(config, cacert_path)
    extra["connect_retries"] = CONNECT_RETRIES
    region = config.get("region")
    interface = INTERFACES.get(config.get("endpoint_type", ""), config.get("endpoint_type"))
    if interface:
        extra["interface"] = interface
    if config.get("cloud"):
        files = [config.get("clouds_file")] if config.get("clouds_file") else None
        loader = openstack.config.OpenStackConfig(config_files=files, load_envvars=False)
        region_cfg = loader.get_one(cloud=config.get("cloud"), region_name=region, **extra)
        conn = openstack.connection.Connection(config=region_cfg)
    else:
        conn = openstack.connect(
            load_yaml_config=False,
            load_envvars=False,
            auth_type="password",
            auth=_inline_auth(config),
            region_name=region,
            **extra,
        )
    for key in SECRET_AUTH_KEYS:
        scrubber.add(conn.config.auth.get(key))
    return conn


def remember_token(conn: Any, scrubber: Scrubber) -> None:
    """Add the session's token (if one was fetched) to the secrets; never triggers authentication."""
    try:
        ref = getattr(conn.session.auth, "auth_ref", None)
        if ref is not None:
            scrubber.add(ref.auth_token)
    except Exception as exc:  # best effort: scrubbing of known values still applies
        LOG.debug("could not read the session token for scrubbing: %s", type(exc).__name__)


_TRANSIENT = (
    "ConnectFailure",
    "ConnectTimeout",
    "ServiceUnavailable",
    "GatewayTimeout",
    "RetriableConnectionFailure",
)


def is_transient(exc: BaseException) -> bool:
    """A connection failure or a 502/503/504: worth another try (services restart, uwsgi resets)."""
    module = type(exc).__module__ or ""
    if not module.startswith(("openstack", "keystoneauth1")):
        return False
    return type(exc).__name__ in _TRANSIENT or getattr(exc, "status_code", None) in (502, 503, 504)


def translate(exc: BaseException) -> CpiFailure | None:
    """An openstacksdk / keystoneauth exception as a CloudError (the official CPI's with_openstack)."""
    module = type(exc).__module__ or ""
    if not module.startswith(("openstack", "keystoneauth1")):
        return None
    name = type(exc).__name__
    retry = is_transient(exc)
    prefix = "Unable to connect to OpenStack" if module.startswith("keystoneauth1") else "OpenStack API error"
    return CloudError(f"{prefix}: {name}: {exc}", ok_to_retry=retry)
