"""The shape each method's result must have, by API version. Void methods are not judged by their
result (the official CPI answers null, true, or odd strings): only by "no error"."""

from __future__ import annotations

from typing import Any


def _cid(method: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{method} result must be a non-empty string cid, got {value!r:.100}")
    return value


def _create_vm(value: Any, api_version: int):
    """v1: "cid"; v2: ["cid", {networks}]. A v2 CPI asked in v1 answers the cid alone."""
    if isinstance(value, str) and value:
        return value, None
    if (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and value[0]
            and isinstance(value[1], dict)):
        return value[0], value[1]
    raise ValueError(f"create_vm result must be a vm cid or [cid, networks], got {value!r:.100}")


def _bool(method: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{method} result must be a boolean, got {value!r:.100}")
    return value


def _info(value: Any) -> dict:
    if not isinstance(value, dict) or not isinstance(value.get("stemcell_formats"), list):
        raise ValueError(f"info result must be an object with a stemcell_formats list, got {value!r:.100}")
    return value


def _attach_disk(value: Any) -> Any:
    if value is None or isinstance(value, str | dict):
        return value
    raise ValueError(f"attach_disk result must be null, a device path or a hint object, got {value!r:.100}")


def _list_of_cids(method: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{method} result must be a list of disk cids, got {value!r:.100}")
    return value


def _dict(method: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{method} result must be an object, got {value!r:.100}")
    return value


def check_result(method: str, value: Any, api_version: int) -> Any:
    """Return the result in the shape callers use; raise ValueError naming a wrong shape."""
    if method == "create_vm":
        return _create_vm(value, api_version)
    if method in ("create_stemcell", "create_disk", "snapshot_disk"):
        return _cid(method, value)
    if method in ("has_vm", "has_disk"):
        return _bool(method, value)
    if method == "info":
        return _info(value)
    if method == "attach_disk":
        return _attach_disk(value)
    if method == "get_disks":
        return _list_of_cids(method, value)
    if method == "calculate_vm_cloud_properties":
        return _dict(method, value)
    return value
