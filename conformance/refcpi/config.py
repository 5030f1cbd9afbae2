"""cpi.json: the official OpenStack CPI's config shape, validated into one frozen Config.

Shape: ``{"cloud": {"plugin": "openstack", "properties": {"openstack": {...}, "agent": {...}}}}``.
The request ``context`` is merged over the ``openstack`` section (minus director_uuid, request_id
and vm), as the official CPI does, so a caller can switch use_dhcp, config_drive,
human_readable_vm_names... per call. Instead of inline credentials, ``"cloud": "<name>"`` names a
clouds.yaml entry (optionally ``"clouds_file": "<path>"``). Every problem is a CloudError naming
the key; messages never quote a value (it could be a secret).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from conformance.refcpi.errors import CloudError

CONTEXT_KEYS_NOT_MERGED = ("director_uuid", "request_id", "vm")
SECRET_KEYS = ("api_key", "password", "token", "application_credential_secret")

# key -> (accepted types, type name for the message)
_OPTIONAL: dict[str, tuple[tuple[type, ...], str]] = {
    "cloud": ((str,), "a string"),
    "clouds_file": ((str,), "a string"),
    "auth_url": ((str,), "a string"),
    "username": ((str,), "a string"),
    "api_key": ((str,), "a string"),
    "project": ((str,), "a string"),
    "tenant": ((str,), "a string"),
    "domain": ((str,), "a string"),
    "user_domain_name": ((str,), "a string"),
    "project_domain_name": ((str,), "a string"),
    "region": ((str,), "a string"),
    "endpoint_type": ((str,), "a string"),
    "default_key_name": ((str,), "a string"),
    "default_volume_type": ((str,), "a string"),
    "default_security_groups": ((list,), "a list of strings"),
    "state_timeout": ((int, float), "a number"),
    "wait_resource_poll_interval": ((int, float), "a number"),
    "stemcell_public_visibility": ((bool,), "a boolean"),
    "boot_from_volume": ((bool,), "a boolean"),
    "use_dhcp": ((bool,), "a boolean"),
    "human_readable_vm_names": ((bool,), "a boolean"),
    "ignore_server_availability_zone": ((bool,), "a boolean"),
    "connection_options": ((dict,), "an object"),
    "boot_volume_cloud_properties": ((dict,), "an object"),
}


@dataclass(frozen=True)
class Config:
    openstack: dict[str, Any]  # the merged, validated openstack section
    agent: dict[str, Any] = field(default_factory=dict)
    stemcell_api_version: int = 1

    def get(self, key: str, default: Any = None) -> Any:
        value = self.openstack.get(key)
        return default if value is None else value

    @property
    def state_timeout(self) -> float:
        return float(self.get("state_timeout", 300))

    @property
    def poll_interval(self) -> float:
        return float(self.get("wait_resource_poll_interval", 5))

    @property
    def use_dhcp(self) -> bool:
        return bool(self.get("use_dhcp", True))

    @property
    def config_drive(self) -> str | None:
        return self.get("config_drive")

    def secrets(self) -> list[str]:
        return [self.openstack[k] for k in SECRET_KEYS if isinstance(self.openstack.get(k), str)]


def _problem(path: str, what: str) -> CloudError:
    return CloudError(f"Invalid OpenStack cloud properties: {path} {what}")


def read_document(path: str) -> dict[str, Any]:
    """Read cpi.json; a missing file or bad JSON is a CloudError, never a traceback."""
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except FileNotFoundError:
        raise CloudError(f"Cannot read CPI config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CloudError(f"Cannot read CPI config {path}: {exc.__class__.__name__}") from None
    except ValueError as exc:
        raise CloudError(
            f"CPI config {path} is not valid JSON (line {getattr(exc, 'lineno', '?')})"
        ) from None
    if not isinstance(doc, dict):
        raise _problem("(top level)", "must be a JSON object")
    return doc


def _section(doc: dict[str, Any], *path: str) -> dict[str, Any]:
    node: Any = doc
    for depth, key in enumerate(path):
        node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return _missing_section(".".join(path[: depth + 1]), node)
    return node


def _missing_section(path: str, node: Any) -> dict[str, Any]:
    raise _problem(path, "must be given as an object" if node is None else "must be an object")


def _check_types(openstack: dict[str, Any]) -> None:
    for key, (types, name) in _OPTIONAL.items():
        value = openstack.get(key)
        if value is None:
            continue
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            raise _problem(f"openstack.{key}", f"must be {name}")
    groups = openstack.get("default_security_groups") or []
    if not all(isinstance(g, str) for g in groups):
        raise _problem("openstack.default_security_groups", "must be a list of strings")
    if openstack.get("config_drive") not in (None, "cdrom", "disk"):
        raise _problem("openstack.config_drive", "must be 'cdrom' or 'disk'")
    for key in ("state_timeout", "wait_resource_poll_interval"):
        if openstack.get(key) is not None and not (math.isfinite(openstack[key]) and openstack[key] > 0):
            raise _problem(f"openstack.{key}", "must be a finite number greater than 0")


def _check_auth(openstack: dict[str, Any]) -> None:
    if openstack.get("cloud"):
        return
    required = ["auth_url", "username", "api_key"]
    required.append("tenant" if "/v2.0" in str(openstack.get("auth_url", "")) else "project")
    for key in required:
        if not openstack.get(key):
            raise _problem(f"openstack.{key}", "is required (or name a clouds.yaml entry in openstack.cloud)")


def load(path: str, context: dict[str, Any] | None = None) -> Config:
    """Read, merge the request context over ``openstack``, validate. Raises CloudError."""
    doc = read_document(path)
    properties = _section(doc, "cloud", "properties")
    openstack = dict(_section(doc, "cloud", "properties", "openstack"))
    context = context or {}
    openstack.update({k: v for k, v in context.items() if k not in CONTEXT_KEYS_NOT_MERGED})
    _check_types(openstack)
    _check_auth(openstack)
    agent = properties.get("agent") or {}
    if not isinstance(agent, dict):
        raise _problem("agent", "must be an object")
    vm = context.get("vm")
    stemcell = vm.get("stemcell") if isinstance(vm, dict) else None
    version = stemcell.get("api_version") if isinstance(stemcell, dict) else None
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise _problem("context.vm.stemcell.api_version", "must be an integer")
    return Config(openstack, agent, version or 1)
