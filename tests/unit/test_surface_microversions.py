"""The release surfaces' microversion rules: what Liberty, Mitaka and Newton read, served and refused."""

from __future__ import annotations

import pytest

from conformance.localcloud.surfaces import microversions as mv
from conformance.localcloud.surfaces.release_apis import SURFACES
from conformance.profile.releases import RELEASES

pytestmark = pytest.mark.unit

LIBERTY, MITAKA, NEWTON = SURFACES["liberty"], SURFACES["mitaka"], SURFACES["newton"]


def test_figures_are_the_tagged_sources_maximums():
    """nova 12.0.0/13.0.0/14.0.0 and cinder 7.0.0/8.0.0/9.0.0 _MAX_API_VERSION."""
    assert {r.name: (r.nova_max, r.cinder_max) for r in SURFACES.values()} == {
        "liberty": ("2.12", None), "mitaka": ("2.25", "3.0"), "newton": ("2.38", "3.15"),
    }  # fmt: skip
    assert all(SURFACES[n].nova_max == RELEASES[n].nova_max_microversion for n in SURFACES), "one table"
    assert not any(r.attached_extend for r in SURFACES.values()), "attached extend is Pike's"


def test_nova_above_liberty_maximum_is_refused_as_liberty_refused_it():
    answer = mv.nova_refusal(LIBERTY, {"X-OpenStack-Nova-API-Version": "2.13", "OpenStack-API-Version": "compute 2.13"})
    assert answer.status == 406
    assert answer.body == {"computeFault": {"code": 406, "message":
                           "Version 2.13 is not supported by the API. Minimum is 2.1 and maximum is 2.12."}}  # fmt: skip
    assert answer.headers == {"X-OpenStack-Nova-API-Version": "2.13", "Vary": "X-OpenStack-Nova-API-Version"}


def test_newton_refusal_echoes_both_headers():
    answer = mv.nova_refusal(NEWTON, {"OpenStack-API-Version": "compute 2.39"})
    assert answer.status == 406
    assert answer.body["computeFault"]["message"].endswith("Minimum is 2.1 and maximum is 2.38.")
    assert answer.headers["OpenStack-API-Version"] == "compute 2.39"
    assert answer.headers["X-OpenStack-Nova-API-Version"] == "2.39"


@pytest.mark.parametrize("headers", [{}, {"X-OpenStack-Nova-API-Version": "2.12"},
                                     {"X-OpenStack-Nova-API-Version": "latest"},
                                     {"X-OpenStack-Nova-API-Version": "2.1"}])  # fmt: skip
def test_nova_in_range_latest_or_none_is_served(headers):
    assert mv.nova_refusal(LIBERTY, headers) is None


def test_liberty_and_mitaka_ignore_the_standard_header():
    """Before 2.27 Nova read only X-OpenStack-Nova-API-Version: a client sending only the new header
    got 2.1, so the gateway must not ask today's Nova for the version in it."""
    headers = {"OpenStack-API-Version": "compute 2.60", "X-Auth-Token": "t"}
    assert mv.nova_refusal(MITAKA, headers) is None
    assert mv.nova_forward_headers(MITAKA, headers) == {"X-Auth-Token": "t"}
    assert mv.nova_refusal(NEWTON, headers).status == 406


def test_latest_is_pinned_to_the_release_maximum_in_both_headers():
    out = mv.nova_forward_headers(LIBERTY, {"X-OpenStack-Nova-API-Version": "latest"})
    assert out == {"X-OpenStack-Nova-API-Version": "2.12", "OpenStack-API-Version": "compute 2.12"}


def test_liberty_answers_lose_the_standard_header_newton_keeps_it():
    answer = {"OpenStack-API-Version": "compute 2.12", "X-OpenStack-Nova-API-Version": "2.12",
              "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version"}  # fmt: skip
    assert mv.nova_answer_headers(LIBERTY, answer) == {
        "X-OpenStack-Nova-API-Version": "2.12", "Vary": "X-OpenStack-Nova-API-Version"}
    assert mv.nova_answer_headers(NEWTON, answer) == answer


def test_cinder_above_newton_maximum_is_refused_as_newton_refused_it():
    answer = mv.cinder_refusal(NEWTON, {"OpenStack-API-Version": "volume 3.16"})
    assert (answer.status, answer.body) == (406, {"computeFault": {"code": 406, "message":
        "Version 3.16 is not supported by the API. Minimum is 3.0 and maximum is 3.15."}})  # fmt: skip
    assert answer.headers == {"OpenStack-API-Version": "volume 3.16", "Vary": "OpenStack-API-Version"}
    assert mv.cinder_refusal(MITAKA, {"OpenStack-API-Version": "volume 3.1"}).status == 406
    assert mv.cinder_refusal(MITAKA, {"OpenStack-API-Version": "volume 3.0"}) is None
    assert mv.cinder_refusal(NEWTON, {"OpenStack-API-Version": "compute 2.99, volume 3.15"}) is None


def test_cinder_v2_is_v3_at_3_0_whatever_the_client_asked():
    out = mv.cinder_forward_headers(NEWTON, {"OpenStack-API-Version": "volume 3.60", "X-Auth-Token": "t"}, v2=True)
    assert out == {"X-Auth-Token": "t", "OpenStack-API-Version": "volume 3.0"}
    out = mv.cinder_forward_headers(NEWTON, {"OpenStack-API-Version": "volume latest"}, v2=False)
    assert out == {"OpenStack-API-Version": "volume 3.15"}
