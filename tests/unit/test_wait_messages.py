"""A wait that follows a CPI call names that call, and what the cloud still showed."""

from types import SimpleNamespace

import pytest
from fakes import FakeClock

from conformance.cloud.openstack import OpenStackWitness, describe_volume
from conformance.core.errors import WaitFailed, WaitTimeout
from conformance.core.waiting import wait_for
from conformance.profile import Timeouts

pytestmark = pytest.mark.unit


def test_after_names_the_call_in_the_timeout():
    clock = FakeClock()
    with pytest.raises(WaitTimeout) as info:
        wait_for(lambda: "in-use", ready=lambda s: s == "available", describe=lambda s: f"status={s}", timeout=4,
                 interval=2, what="volume v-1 to be available", after="detach_disk from VM s-1 answered OK",
                 clock=clock, sleep=clock.sleep)
    assert str(info.value).startswith("timed out after 4s waiting for volume v-1 to be available "
                                      "(after detach_disk from VM s-1 answered OK); last observed")


def test_after_names_the_call_in_a_failure_state():
    with pytest.raises(WaitFailed, match=r"\(after resize_disk answered OK\) after .*status=error_extending"):
        wait_for(lambda: "error_extending", ready=lambda s: s == "available", failed=lambda s: f"status={s}",
                 timeout=5, interval=1, what="volume v-1 to be available", after="resize_disk answered OK")


def test_a_volume_is_described_with_the_servers_it_is_attached_to():
    volume = SimpleNamespace(status="in-use", size=1, attachments=[{"server_id": "s-1", "device": "/dev/vdb"}])
    assert describe_volume(volume) == "status=in-use size=1GiB attached to servers ['s-1']"
    assert describe_volume(SimpleNamespace(status="available", size=2, attachments=[])) == (
        "status=available size=2GiB attached to no server")
    assert describe_volume(None) == "gone"


def test_a_witness_wait_names_the_cpi_call_the_timeout_and_what_cinder_still_shows():
    volume = SimpleNamespace(id="v-1", status="in-use", size=1, attachments=[{"server_id": "s-1"}], metadata={})
    conn = SimpleNamespace(block_storage=SimpleNamespace(get_volume=lambda cid: volume))
    cloud = OpenStackWitness.over(conn, Timeouts(poll=0.01, disk_detach=0.03))
    with pytest.raises(WaitTimeout) as info:
        cloud.wait_for_volume_detached("v-1", "s-1", after="detach_disk from VM s-1 answered OK")
    text = str(info.value)
    assert ("openstack: Cinder volume v-1 to be available after leaving server s-1 (timeouts.disk_detach) "
            "(after detach_disk from VM s-1 answered OK)") in text
    assert "attached to servers ['s-1']" in text


def test_waits_report_progress_after_a_while_and_count_their_seconds_once():
    from conformance.core import waiting

    clock = FakeClock()
    said, counted = [], []
    states = iter(["building"] * 20 + ["active"])
    previous = waiting.report_progress_to(said.append), waiting.account_waits_to(lambda k, s: counted.append((k, s)))
    try:
        def probe():
            # a wait inside the probe (as SSH connects inside a reboot wait) counts once, as the outer one
            waiting.wait_for(lambda: True, timeout=5, interval=1, what="inner", clock=clock, sleep=clock.sleep,
                             kind="guest")
            return next(states)

        assert waiting.wait_for(probe, ready=lambda s: s == "active", describe=lambda s: f"status={s}", timeout=100,
                                interval=2, what="server s-1 to be active", clock=clock, sleep=clock.sleep,
                                kind="cloud") == "active"
    finally:
        waiting.report_progress_to(previous[0])
        waiting.account_waits_to(previous[1])
    assert said[0] == "waiting for server s-1 to be active: status=building (6s of 100s)"
    assert len(said) == 2 and said[1].endswith("(36s of 100s)"), said
    assert counted == [("cloud", 40.0)]
