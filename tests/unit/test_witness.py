"""The witness seam: plain views, checks made by every witness that sees them, and the record of who made which."""

from types import SimpleNamespace

import pytest

from conformance.cloud import witness
from conformance.cloud.openstack import OpenStackWitness
from conformance.cloud.witness import UNSEEN, CloudChecks, NotWitnessed, Server, Witness, Witnesses
from conformance.core.errors import ProfileError, WaitTimeout
from conformance.profile import Timeouts

pytestmark = pytest.mark.unit


class Hypervisor(Witness):
    """Sees servers, not their flavor."""

    name = "hypervisor"

    def __init__(self, servers):
        super().__init__(Timeouts(poll=0.01, vm_active=0.05))
        self.servers = servers

    def server(self, cid):
        return self.servers.get(cid)


def recorder():
    found = []
    return found, lambda name, value: found.append((name, value))


def test_an_unseen_field_raises_not_witnessed_naming_the_witness_and_the_field():
    server = Server("hypervisor", "s-1", True, "running", vcpus=1)
    assert server.vcpus == 1 and server.seen("vcpus") and not server.seen("flavor")
    with pytest.raises(NotWitnessed) as info:
        _ = server.flavor
    assert str(info.value) == "hypervisor does not see the flavor of a server"
    assert "flavor=UNSEEN" in repr(server)
    with pytest.raises(TypeError, match="no truth value"):
        bool(UNSEEN)


def test_the_base_witness_sees_nothing():
    bare = Witness(Timeouts())
    for ask in (lambda: bare.server("x"), lambda: bare.volume("x"), lambda: bare.image_ids(),
                lambda: bare.nics("x"), lambda: bare.flavor("m1"), lambda: bare.api_versions()):
        with pytest.raises(NotWitnessed):
            ask()


def test_a_check_is_made_by_every_witness_that_sees_it_and_recorded():
    found, record = recorder()
    seeing = Hypervisor({"s-1": Server("hypervisor", "s-1", True, "running")})
    cloud = CloudChecks([seeing, Witness(Timeouts())], record)
    made = []
    for seen in cloud.checks("the server is running"):
        with seen as w:
            made.append(w.name)
            assert w.server("s-1").running
    assert made == ["hypervisor", "witness"]
    assert found == [("witness_check", {"check": "the server is running", "by": ["hypervisor"],
                                        "unseen": {"witness": "servers"}})]


def test_a_check_no_witness_sees_is_recorded_as_not_checked_with_each_reason():
    found, record = recorder()
    cloud = CloudChecks([Hypervisor({})], record)
    for seen in cloud.checks("the server's flavor is m1.small"):
        with seen as w:
            assert w.server("s-1") is None or w.server("s-1").flavor == "m1.small"
    cloud = CloudChecks([Hypervisor({"s-1": Server("hypervisor", "s-1", True, "running")})], record)
    for seen in cloud.checks("the server's flavor is m1.small"):
        with seen as w:
            assert w.server("s-1").flavor == "m1.small"
    assert found[-1] == ("not_checked", "the server's flavor is m1.small: hypervisor does not see the flavor of a server")


def test_without_witnesses_every_check_is_not_checked_and_says_so():
    found, record = recorder()
    for _ in CloudChecks([], record).checks("the volume is 2 GiB"):
        raise AssertionError("no witness: the body never runs")
    assert found[-1] == ("not_checked", "the volume is 2 GiB: the profile names no cloud witness (witnesses)")


def test_a_failed_assertion_is_not_swallowed():
    _, record = recorder()
    cloud = CloudChecks([Hypervisor({"s-1": Server("hypervisor", "s-1", False, "shut off")})], record)
    with pytest.raises(AssertionError):
        for seen in cloud.checks("the server is running"):
            with seen as w:
                assert w.server("s-1").running


def test_a_wait_names_the_witness_the_timeout_and_the_call():
    hypervisor = Hypervisor({"s-1": Server("hypervisor", "s-1", False, "libvirt domstate=paused")})
    with pytest.raises(WaitTimeout) as info:
        hypervisor.wait_for_server_running("s-1", after="create_vm answered OK")
    text = str(info.value)
    assert "hypervisor: server s-1 to be running (timeouts.vm_active) (after create_vm answered OK)" in text
    assert "libvirt domstate=paused" in text


def test_each_and_first_skip_witnesses_that_do_not_see_it():
    seeing = Hypervisor({"s-1": Server("hypervisor", "s-1", True, "running")})
    both = Witnesses([Witness(Timeouts()), seeing])
    assert both.first(lambda w: w.server("s-1").id) == "s-1"
    seen = both.each(lambda w: w.server("s-1").id)
    assert dict(seen) == {"hypervisor": "s-1"}
    with pytest.raises(NotWitnessed):
        seen.of(Witness(Timeouts()))
    assert Witnesses([]).first(lambda w: w.server("s-1"), "none") == "none"


def test_nic_helpers_read_addresses_or_raise_not_witnessed():
    nics = [witness.Nic("os", "fa:16:3e:00:00:01", ips=frozenset({"10.0.0.5"}), network_id="n-1", port_id="p-1")]
    assert witness.macs_by_ip(nics) == {"10.0.0.5": "fa:16:3e:00:00:01"}
    assert witness.ips_by_network(nics) == {"n-1": {"10.0.0.5"}}
    with pytest.raises(NotWitnessed):
        witness.macs_by_ip([witness.Nic("libvirt", "fa:16:3e:00:00:01", port_id="tap1")])


def test_build_names_the_witness_that_is_not_installed():
    profile = SimpleNamespace(source="p.yml", witness_options={"cloudstack": {}}, timeouts=Timeouts())
    with pytest.raises(ProfileError, match="no witness named 'cloudstack' is installed .*openstack"):
        witness.build(profile, available={"openstack": OpenStackWitness})
    profile = SimpleNamespace(source="p.yml", witness_options={"hyper": {"x": 1}}, timeouts=Timeouts())

    class Hyper(Witness):
        name = "hyper"

        def __init__(self, profile, options):
            super().__init__(profile.timeouts)
            self.options = options

    (built,) = witness.build(profile, available={"hyper": Hyper})
    assert built.options == {"x": 1}


def test_the_openstack_witness_takes_no_options():
    profile = SimpleNamespace(source="p.yml", cloud="c", region=None, timeouts=Timeouts())
    with pytest.raises(ProfileError, match="takes no options"):
        OpenStackWitness(profile, {"uri": "x"})


def test_openstack_views_are_plain_values():
    server = SimpleNamespace(id="s-1", status="ACTIVE", task_state=None, fault=None, name="vm-x",
                             flavor={"original_name": "m1.small"}, availability_zone="nova", metadata={"a": "b"})
    port = SimpleNamespace(id="p-1", mac_address="FA:16:3E:00:00:01", network_id="n-1",
                           fixed_ips=[{"ip_address": "10.0.0.5"}])
    conn = SimpleNamespace(compute=SimpleNamespace(get_server=lambda cid: server),
                           network=SimpleNamespace(ports=lambda device_id: [port]))
    cloud = OpenStackWitness.over(conn, Timeouts())
    seen = cloud.server("s-1")
    assert (seen.running, seen.flavor, seen.availability_zone, seen.metadata, seen.name) == (
        True, "m1.small", "nova", {"a": "b"}, "vm-x")
    with pytest.raises(NotWitnessed):
        _ = seen.vcpus
    (nic,) = cloud.nics("s-1")
    assert (nic.mac, nic.ips, nic.network_id, nic.port_id) == ("fa:16:3e:00:00:01", {"10.0.0.5"}, "n-1", "p-1")


def test_a_built_witness_counts_its_calls_as_cloud_time():
    from conformance.core import waiting

    profile = SimpleNamespace(source="p.yml", witness_options={"hyper": {}}, timeouts=Timeouts())

    class Hyper(Witness):
        name = "hyper"

        def __init__(self, profile, options):
            super().__init__(profile.timeouts)

        def server(self, cid):
            return None

    (built,) = witness.build(profile, available={"hyper": Hyper})
    counted = []
    previous = waiting.account_waits_to(lambda kind, seconds: counted.append(kind))
    try:
        assert built.server("vm-1") is None
        assert built.name == "hyper"  # attributes pass through, uncounted
        built.on_progress = print
        assert built.on_progress is print
    finally:
        waiting.account_waits_to(previous)
    assert counted == ["cloud"]
