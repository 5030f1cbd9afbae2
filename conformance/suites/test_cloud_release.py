"""The cloud is at least the OpenStack release the profile names.

A profile's ``release`` decides what the suite expects of the cloud (network_data.json on the
config drive, Cinder v3, ...). openstacksdk negotiates each call's microversion with the cloud,
so the witness never asks more than the cloud offers; what can still go wrong is a profile that
names a newer release than the cloud is, and then skips and expectations are wrong. This test
measures the cloud's API maximums (version discovery) and holds them against the release table.
"""

import pytest

pytestmark = pytest.mark.capability("cloud_release")


def _parsed(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@pytest.mark.case("e233a3d1-b53a-4626-8075-0a2ae21011b7")
def test_cloud_offers_the_apis_of_the_profile_release(cloud, profile):
    """The cloud's Nova and Cinder MUST offer at least the microversions of the profile's release
    (the suite's own premise, not the CPI contract: the profile's ``release`` decides what the
    suite expects of the cloud; the maximum per release as OpenStack states it: Nova's "REST API
    Version History", docs.openstack.org/nova/latest/reference/api-microversion-history.html,
    Liberty 2.12, Mitaka 2.25, Newton 2.38, Zed 2.93; Cinder's, docs.openstack.org/cinder/latest/
    contributor/api_microversion_history.html, none in Liberty, Mitaka 3.0, Newton 3.15, Zed 3.70;
    the table is conformance/profile/releases.py).

    Steps: ask Nova and Cinder for their version documents; compare their max microversions
    with the release table (conformance/profile/releases.py) for the profile's ``release``.
    """
    release = profile.release_info
    wanted = {"compute": release.nova_max_microversion}
    if release.cinder_max_microversion:  # Liberty: Cinder v2 only, nothing to compare
        wanted["block-storage"] = release.cinder_max_microversion
    for seen in cloud.checks(f"the cloud offers the API microversions of release {release.name}"):
        with seen as w:
            services = w.api_versions()
            for service, needed in wanted.items():
                found = services[service]
                assert "error" not in found, f"{service}: version discovery failed: {found['error']}"
                have = found["max_microversion"]
                assert have, f"{service}: the cloud offers no microversions; release {release.name} offers {needed}"
                assert _parsed(have) >= _parsed(needed), (
                    f"profile release: {release.name} offers {service} microversion {needed}, the cloud only {have}: "
                    f"the cloud is older than the profile says (fix `release` in the profile)"
                )
