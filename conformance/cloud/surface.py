"""What an endpoint says it really is: an emulated release API surface, or the cloud itself.

The local cloud's release gateways (conformance/localcloud/surfaces, docs/surfaces.md) answer every
request with ``X-Cfm-Surface: <release> over <underlying>`` (e.g. ``liberty over zed``). A report
must say so: results from such an endpoint are "an emulated Liberty API surface over OpenStack Zed",
not "Liberty". This reads it from the endpoint itself (one GET of the identity endpoint), so no
profile or clouds.yaml entry can claim otherwise.
"""

from __future__ import annotations

from typing import Any

HEADER = "X-Cfm-Surface"


def parse_label(value: str | None) -> dict[str, Any] | None:
    """``"liberty over zed"`` -> {"emulated": True, "release": "liberty", "over": "zed", ...}."""
    if not value:
        return None
    release, sep, over = value.strip().partition(" over ")
    if not sep or not release or not over:
        return {"emulated": True, "label": value.strip(), "release": None, "over": None, "description": value.strip()}
    return {"emulated": True, "label": value.strip(), "release": release, "over": over,
            "description": f"an emulated {release.capitalize()} API surface over OpenStack {over.capitalize()}"}  # fmt: skip


def surface(conn) -> dict[str, Any] | None:
    """The surface label of ``conn``'s cloud (an openstacksdk Connection), or None for a real cloud
    (or when the identity endpoint cannot be asked: the fingerprint records what it saw)."""
    try:
        response = conn.session.get(conn.session.get_endpoint(service_type="identity"), authenticated=False,
                                    raise_exc=False)  # fmt: skip
    except Exception:  # a fingerprint never fails a run; None means "no label seen"
        return None
    return parse_label(response.headers.get(HEADER))
