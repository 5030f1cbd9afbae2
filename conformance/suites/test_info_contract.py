"""The CPI's self-description and the protocol contract every CPI must keep, whatever its cloud."""

import pytest

from conformance.cpi import director
from conformance.cpi.errors import CpiError
from conformance.run import expect

pytestmark = pytest.mark.capability("contract")


@pytest.mark.case("0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10")
def test_info_declares_stemcell_formats_and_api_version(cpi, profile, record_property):
    """info MUST answer the stemcell formats the CPI takes and, for CPI API v2, an integer
    api_version >= 2 (bosh.io CPI API v2 info: stemcell_formats, api_version; Director:
    cloud_factory.rb#get refuses a CPI whose info has no api_version).

    Steps: call info; check stemcell_formats is a non-empty list of strings; check the
    api_version it declares against the profile's cpi.api_version.
    """
    info = cpi.send(director.info())
    formats = info["stemcell_formats"]
    assert formats and all(isinstance(f, str) for f in formats), f"info.stemcell_formats: {formats!r}"
    if expect.applies(record_property, profile.cpi.api_version >= 2, "info answers an api_version >= 2", "the profile speaks CPI API v1 (cpi.api_version)"):
        version = info.get("api_version")
        assert isinstance(version, int) and not isinstance(version, bool) and version >= 2, (
            f"profile cpi.api_version is 2 but info answered api_version={version!r}"
        )


@pytest.mark.case("5e3f8a2b-1d4c-4b6e-8f0a-2c9d7e6b5a41")
def test_info_formats_match_the_stemcell_in_use(cpi, stemcell_manifest):
    """info's stemcell_formats MUST include a format of the stemcell the suite uploads, when its
    manifest names formats (Director: jobs/update_stemcell.rb uploads a stemcell only to a CPI
    whose info lists one of the manifest's stemcell_formats, else StemcellNotSupported).

    Steps: call info; compare its stemcell_formats with stemcell.MF's stemcell_formats.
    """
    offered = set(stemcell_manifest.get("stemcell_formats") or [])
    if not offered:
        pytest.skip("the stemcell's manifest names no stemcell_formats: the Director uploads it to any CPI")
    formats = set(cpi.send(director.info())["stemcell_formats"])
    assert formats & offered, f"info.stemcell_formats {sorted(formats)} vs stemcell.MF {sorted(offered)}"


@pytest.mark.case("c1a9e3d7-6b2f-4e8a-9d05-3f7b1c2e4a66")
def test_unknown_method_is_not_implemented(cpi):
    """A method the CPI does not know MUST be answered, in the JSON envelope, with an error the
    Director takes for NotImplemented (external_cpi.rb#handle_method_not_implemented:
    Bosh::Clouds::NotImplemented, InvalidCall "Method is not known, got...", or CloudError
    "Invalid Method:...").

    Steps: call cfm_no_such_method (a request the contract allows: the Director relies on this
    answer to call newer methods on older CPIs); expect a CPI error of that kind, not a broken answer.
    """
    with pytest.raises(CpiError) as info:
        cpi.send(director.Call("cfm_no_such_method"))
    err = info.value
    assert (err.short_type == "NotImplemented"
            or (err.short_type == "InvalidCall" and err.message.startswith("Method is not known, got"))
            or (err.short_type == "CloudError" and err.message.startswith("Invalid Method:"))), (
        f"unknown method answered {err.type}: {err.message[:200]}")
