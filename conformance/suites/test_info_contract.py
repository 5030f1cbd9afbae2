"""The CPI's self-description and the protocol contract every CPI must keep, whatever its cloud."""

import pytest

from conformance.cpi.errors import CpiError

pytestmark = pytest.mark.capability("contract")

KNOWN_FORMATS = {"openstack-raw", "openstack-qcow2", "openstack-light", "aws-raw", "aws-light", "google-raw",
                 "google-light", "azure-vhd", "azure-light", "vsphere-ovf", "warden-tar", "docker-light"}


@pytest.mark.case("0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10")
def test_info_declares_stemcell_formats_and_api_version(cpi, profile):
    """info MUST answer the stemcell formats the CPI takes and, for CPI API v2, api_version >= 2.

    Steps: call info; check stemcell_formats is a non-empty list of strings; check the
    api_version it declares against the profile's cpi.api_version.
    """
    info = cpi.info()
    formats = info["stemcell_formats"]
    assert formats and all(isinstance(f, str) for f in formats), f"info.stemcell_formats: {formats!r}"
    if profile.cpi.api_version >= 2:
        assert isinstance(info.get("api_version"), int) and info["api_version"] >= 2, (
            f"profile cpi.api_version is 2 but info answered api_version={info.get('api_version')!r}"
        )


@pytest.mark.case("5e3f8a2b-1d4c-4b6e-8f0a-2c9d7e6b5a41")
def test_info_formats_match_the_stemcell_in_use(cpi, profile):
    """info MUST list a format this suite can give it: openstack-* for an OpenStack profile.

    Steps: call info; for a profile with a cloud witness (OpenStack), openstack-qcow2 or
    openstack-raw must be among the formats (our test stemcell is qcow2).
    """
    formats = set(cpi.info()["stemcell_formats"])
    if profile.features.cloud_witness:
        assert formats & {"openstack-qcow2", "openstack-raw"}, f"info.stemcell_formats {sorted(formats)}"
    else:
        assert formats & KNOWN_FORMATS or formats, f"info.stemcell_formats {sorted(formats)}"


@pytest.mark.case("c1a9e3d7-6b2f-4e8a-9d05-3f7b1c2e4a66")
def test_unknown_method_is_not_implemented(cpi):
    """A method the CPI does not know MUST be answered with NotImplemented (or InvalidCall
    "Method is not known", which the Director treats alike), in the JSON envelope.

    Steps: call cfm_no_such_method; expect a CPI error of that type, not a broken answer.
    """
    with pytest.raises(CpiError) as info:
        cpi.call("cfm_no_such_method")
    err = info.value
    assert err.short_type == "NotImplemented" or (
        err.short_type == "InvalidCall" and "not known" in err.message.lower()
    ), f"unknown method answered {err.type}: {err.message[:200]}"
