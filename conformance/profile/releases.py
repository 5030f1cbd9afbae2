"""What each OpenStack release offers, so that a profile for an old cloud is held to its limits.

Figures from the release notes (see ../shared/notes/cpi-protocol.md). ``None`` means "not offered".
openstacksdk negotiates every call's microversion with the cloud, so the witness never asks
for more than the cloud offers. The suite skips what a release lacks (naming the release in the
skip reason), and suites/test_cloud_release.py checks that the cloud offers at least the
maximums below for the profile's release.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Release:
    name: str
    nova_max_microversion: str
    cinder_max_microversion: str | None  # None: Cinder v3 not offered (v2 only)
    network_data_json: bool              # config drive carries openstack/latest/network_data.json
    attached_volume_extend: bool         # Cinder 3.42 + Nova 2.51 (Pike)

    def allows(self, feature: str) -> bool:
        return bool(getattr(self, feature))


RELEASES: dict[str, Release] = {
    r.name: r
    for r in (
        Release("liberty", "2.12", None, True, False),
        Release("mitaka", "2.25", "3.0", True, False),
        Release("newton", "2.38", "3.15", True, False),
        Release("ocata", "2.42", "3.27", True, False),
        Release("pike", "2.53", "3.43", True, True),
        Release("queens", "2.60", "3.50", True, True),
        Release("rocky", "2.65", "3.55", True, True),
        Release("stein", "2.72", "3.59", True, True),
        Release("train", "2.79", "3.60", True, True),
        Release("ussuri", "2.87", "3.60", True, True),
        Release("victoria", "2.87", "3.62", True, True),
        Release("wallaby", "2.88", "3.64", True, True),
        Release("xena", "2.90", "3.66", True, True),
        Release("yoga", "2.90", "3.68", True, True),
        Release("zed", "2.93", "3.70", True, True),
        Release("antelope", "2.95", "3.70", True, True),
        Release("bobcat", "2.95", "3.70", True, True),
        Release("caracal", "2.96", "3.71", True, True),
        Release("dalmatian", "2.96", "3.71", True, True),
        Release("epoxy", "2.100", "3.71", True, True),
    )
}
