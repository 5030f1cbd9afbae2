"""Microversions as the old Nova and Cinder read them, and their refusal of a version too new.

Nova (nova/api/openstack/wsgi.py ``Request.set_api_version_request``): Liberty and Mitaka read only
``X-OpenStack-Nova-API-Version``; Newton (2.27) reads ``OpenStack-API-Version: compute X`` first and
the legacy header after it (microversion_parse.get_version). A version outside [2.1, max] raises
InvalidGlobalAPIVersion, answered 406 by ``Fault``: ``{"computeFault": {"code": 406, "message":
"Version 2.13 is not supported by the API. Minimum is 2.1 and maximum is 2.12."}}`` with the
requested version echoed in the version header(s) and ``Vary``.

Cinder (cinder/api/openstack/wsgi.py at 8.0.0 and 9.0.0): only on /v3, ``OpenStack-API-Version``
split at commas, the part naming ``volume``; out of [3.0, max] is the same 406 ``computeFault``
with ``OpenStack-API-Version: volume X`` and ``Vary: OpenStack-API-Version``. On /v1 and /v2 the
header is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from conformance.localcloud.surfaces.answer import Answer, fault
from conformance.localcloud.surfaces.release_apis import SurfaceRelease

NOVA_LEGACY = "X-OpenStack-Nova-API-Version"
STANDARD = "OpenStack-API-Version"
NOVA_MIN, CINDER_MIN = "2.1", "3.0"
NEWTON_NOVA_STANDARD_HEADER = (2, 27)  # the first Nova that reads OpenStack-API-Version
_VERSION = re.compile(r"^([1-9]\d*)\.(0|[1-9]\d*)$")


def parse(text: str) -> tuple[int, int] | None:
    m = _VERSION.match(text.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def _text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _service_part(value: str | None, service: str) -> str | None:
    """``compute 2.30, volume 3.1`` -> the version for ``service`` (None when absent)."""
    for part in (value or "").split(","):
        words = part.split()
        if len(words) == 2 and words[0].lower() == service:
            return words[1]
    return None


def reads_standard_header(release: SurfaceRelease) -> bool:
    return parse(release.nova_max) >= NEWTON_NOVA_STANDARD_HEADER


def nova_requested(release: SurfaceRelease, headers: Mapping[str, str]) -> str | None:
    """The version string the release's Nova would have read from ``headers``."""
    if reads_standard_header(release):
        found = _service_part(_header(headers, STANDARD), "compute")
        if found is not None:
            return found
    return _header(headers, NOVA_LEGACY)


def nova_refusal(release: SurfaceRelease, headers: Mapping[str, str]) -> Answer | None:
    asked = nova_requested(release, headers)
    version = parse(asked) if asked and asked != "latest" else None
    if version is None or parse(NOVA_MIN) <= version <= parse(release.nova_max):
        return None  # no header, latest, in range, or malformed (today's Nova answers 400 as the old did)
    echo = {NOVA_LEGACY: _text(version), "Vary": NOVA_LEGACY}
    if reads_standard_header(release):
        echo = {STANDARD: f"compute {_text(version)}", **echo, "Vary": f"{STANDARD}, {NOVA_LEGACY}"}
    return fault(406, "computeFault", _unsupported(version, NOVA_MIN, release.nova_max), **echo)


def nova_forward_headers(release: SurfaceRelease, headers: Mapping[str, str]) -> dict[str, str]:
    """What today's Nova must be asked so that it serves what the release served: the version the
    release read (``latest`` pinned to the release's maximum) in both headers, or neither."""
    out = {k: v for k, v in headers.items() if k.lower() not in (STANDARD.lower(), NOVA_LEGACY.lower())}
    asked = nova_requested(release, headers)
    if asked is not None:
        asked = release.nova_max if asked == "latest" else asked
        out[NOVA_LEGACY], out[STANDARD] = asked, f"compute {asked}"
    return out


def nova_answer_headers(release: SurfaceRelease, headers: Mapping[str, str]) -> dict[str, str]:
    """Liberty and Mitaka never answered ``OpenStack-API-Version``; drop it and its Vary."""
    if reads_standard_header(release):
        return dict(headers)
    out = {k: v for k, v in headers.items() if k.lower() != STANDARD.lower()}
    for key in [k for k in out if k.lower() == "vary"]:
        kept = [v.strip() for v in out[key].split(",") if v.strip().lower() != STANDARD.lower()]
        out[key] = ", ".join(kept) if kept else NOVA_LEGACY
    return out


def cinder_refusal(release: SurfaceRelease, headers: Mapping[str, str]) -> Answer | None:
    """For a /v3 request (the caller has already refused /v3 where the release had none)."""
    asked = _service_part(_header(headers, STANDARD), "volume")
    version = parse(asked) if asked and asked != "latest" else None
    if version is None or release.cinder_max is None or parse(CINDER_MIN) <= version <= parse(release.cinder_max):
        return None
    return fault(406, "computeFault", _unsupported(version, CINDER_MIN, release.cinder_max),
                 **{STANDARD: f"volume {_text(version)}", "Vary": STANDARD})  # fmt: skip


def cinder_forward_headers(release: SurfaceRelease, headers: Mapping[str, str], *, v2: bool) -> dict[str, str]:
    """/v2 is today's /v3 at 3.0 (the header ignored, as the release ignored it on /v2); on /v3
    ``latest`` is the release's maximum."""
    out = {k: v for k, v in headers.items() if k.lower() != STANDARD.lower()}
    asked = None if v2 else _service_part(_header(headers, STANDARD), "volume")
    if v2:
        out[STANDARD] = f"volume {CINDER_MIN}"
    elif asked is not None:
        out[STANDARD] = f"volume {release.cinder_max if asked == 'latest' else asked}"
    return out


def _unsupported(version: tuple[int, int], minimum: str, maximum: str) -> str:
    return f"Version {_text(version)} is not supported by the API. Minimum is {minimum} and maximum is {maximum}."
