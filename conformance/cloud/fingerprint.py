"""The cloud's fingerprint for reports: API versions and microversion ranges per service, region."""

from __future__ import annotations

from typing import Any

from conformance.cloud.surface import surface

SERVICES = {"identity": "identity", "compute": "compute", "block-storage": "block_storage",
            "network": "network", "image": "image"}


def _version(value) -> str | None:
    if not value:
        return None
    return ".".join(str(part) for part in value) if isinstance(value, tuple | list) else str(value)


def fingerprint(conn) -> dict[str, Any]:
    """What each service says about itself (version discovery; one GET per service)."""
    services: dict[str, Any] = {}
    for name, attr in SERVICES.items():
        try:
            data = getattr(conn, attr).get_endpoint_data()
            services[name] = {"api_version": _version(data.api_version),
                              "min_microversion": _version(data.min_microversion),
                              "max_microversion": _version(data.max_microversion)}
        except Exception as exc:  # a service the cloud lacks is a fact for the report, not a crash
            services[name] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    return {"region": conn.config.region_name, "services": services, "surface": surface(conn)}
