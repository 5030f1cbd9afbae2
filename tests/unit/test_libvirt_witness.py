"""The libvirt witness against a fake virsh that answers with real Nova domain XML."""

import os
import re
import stat
import subprocess
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

from conformance.cloud import witness as w
from conformance.cloud.libvirt import LibvirtWitness
from conformance.core.errors import ProfileError, RunnerError, WaitFailed, WaitTimeout
from conformance.profile import Timeouts

pytestmark = pytest.mark.unit

VM = "474bb3f5-3c1d-468f-a911-a951a824408f"
OTHER = "eebe2ff1-5ff6-4d0e-b64f-b935f4f95b15"
VOLUME = "6ec50808-b3a4-4a64-8d75-b788507c6e8e"
URI = "qemu:///system"

# `virsh dumpxml` of a Nova instance on the local OpenStack (Nova 26.2.2, qemu TCG, Ceph RBD Cinder)
# with a volume attached, trimmed: <sysinfo>, <os>, <cpu>, controllers, inputs, the balloon, the rng,
# the seclabel and each device's <address> are left out; nothing is changed.
DOMAIN_XML = """\
<domain type='qemu' id='1'>
  <name>instance-00000138</name>
  <uuid>474bb3f5-3c1d-468f-a911-a951a824408f</uuid>
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:package version="26.2.2"/>
      <nova:name>vm-54e05e10-32cd-48fd-bb96-38ce70204042</nova:name>
      <nova:flavor name="cfm.tiny">
        <nova:memory>512</nova:memory>
        <nova:vcpus>1</nova:vcpus>
      </nova:flavor>
    </nova:instance>
  </metadata>
  <memory unit='KiB'>524288</memory>
  <currentMemory unit='KiB'>524288</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='/var/lib/nova/instances/474bb3f5-3c1d-468f-a911-a951a824408f/disk' index='2'/>
      <backingStore type='file' index='3'>
        <format type='raw'/>
        <source file='/var/lib/nova/instances/_base/85d1bc88d18c2d17e4ab2225b04ac3cc696babe2'/>
        <backingStore/>
      </backingStore>
      <target dev='vda' bus='virtio'/>
      <alias name='virtio-disk0'/>
    </disk>
    <disk type='network' device='disk'>
      <driver name='qemu' type='raw' cache='none' discard='unmap'/>
      <source protocol='rbd' name='volumes/volume-6ec50808-b3a4-4a64-8d75-b788507c6e8e' index='4'>
        <host name='127.0.0.1' port='6789'/>
      </source>
      <target dev='vdb' bus='virtio'/>
      <serial>6ec50808-b3a4-4a64-8d75-b788507c6e8e</serial>
      <alias name='virtio-disk1'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw' cache='none'/>
      <source file='/var/lib/nova/instances/474bb3f5-3c1d-468f-a911-a951a824408f/disk.config' index='1'/>
      <backingStore/>
      <target dev='hda' bus='ide'/>
      <readonly/>
      <alias name='ide0-0-0'/>
    </disk>
    <interface type='bridge'>
      <mac address='fa:16:3e:ba:83:87'/>
      <source bridge='brqcc00d4dd-eb'/>
      <target dev='tapf36f51c4-50'/>
      <model type='virtio'/>
      <driver name='qemu'/>
      <mtu size='1450'/>
      <alias name='net0'/>
    </interface>
    <interface type='bridge'>
      <mac address='fa:16:3e:17:4b:c8'/>
      <source bridge='brq34d027f5-4e'/>
      <target dev='tap0ea86326-32'/>
      <model type='virtio'/>
      <driver name='qemu'/>
      <mtu size='1450'/>
      <alias name='net1'/>
    </interface>
    <serial type='pty'>
      <source path='/dev/pts/0'/>
      <log file='/var/lib/nova/instances/474bb3f5-3c1d-468f-a911-a951a824408f/console.log' append='off'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
      <alias name='serial0'/>
    </serial>
    <console type='pty' tty='/dev/pts/0'>
      <source path='/dev/pts/0'/>
      <log file='/var/lib/nova/instances/474bb3f5-3c1d-468f-a911-a951a824408f/console.log' append='off'/>
      <target type='serial' port='0'/>
      <alias name='serial0'/>
    </console>
  </devices>
</domain>
"""
# The same domain before the volume was attached (as captured then: no network disk).
NO_VOLUME_XML = re.sub(r"    <disk type='network'.*?</disk>\n", "", DOMAIN_XML, flags=re.S)
# `virsh domblkinfo <uuid> vdb` of that volume (1 GiB), and `virsh domstate` as virsh prints them.
BLKINFO = "Capacity:       1073741824\nAllocation:     1073741824\nPhysical:       1073741824\n\n"
GONE = "error: failed to get domain '{}'\n"


def done(argv, rc=0, out="", err=""):
    return subprocess.CompletedProcess(argv, rc, out.encode(), err.encode())


class FakeVirsh:
    """virsh -c qemu:///system over domains by UUID, each a list of successive states (a dict, or
    None: gone). Each dumpxml of a domain shows its next state (the last one stays); other commands
    answer from the state the last dumpxml showed."""

    def __init__(self, domains=None):
        self.queue = {uuid: list(states) for uuid, states in (domains or {}).items()}
        self.current = {uuid: states[0] for uuid, states in self.queue.items()}
        self.calls = []

    def __call__(self, argv, *, env, timeout):
        assert argv[:3] == ["virsh", "-c", URI] and env["LC_ALL"] == "C" and timeout == 30
        self.calls.append(argv[3:])
        command, *args = argv[3:]
        if command == "list":
            return done(argv, out="".join(f"{u}\n" for u, d in self.current.items() if d) + "\n")
        if command == "dumpxml" and args[0] in self.queue:
            queue = self.queue[args[0]]
            self.current[args[0]] = queue.pop(0) if len(queue) > 1 else queue[0]
        dom = self.current.get(args[0])
        if dom is None:
            return done(argv, 1, err=GONE.format(args[0]))
        if command == "dumpxml":
            return done(argv, out=dom["xml"])
        if command == "domstate":
            return done(argv, out=dom["state"] + "\n\n")
        if command == "domblkinfo" and args[1] == "vdb":
            return done(argv, out=BLKINFO)
        raise AssertionError(f"unexpected virsh call {argv}")


def profile(**timeouts):
    return SimpleNamespace(source="p.yml", timeouts=Timeouts(poll=0.01, **timeouts))


def witness(virsh=None, options=None, **kwargs):
    return LibvirtWitness(profile(**kwargs.pop("timeouts", {})), options or {}, run=virsh or FakeVirsh(), **kwargs)


def dom(xml=DOMAIN_XML, state="running"):
    return {"xml": xml, "state": state}


# -- servers ---------------------------------------------------------------------------------------
def test_a_running_domain_is_a_running_server_with_its_vcpus_and_memory():
    virsh = FakeVirsh({VM: [dom()]})
    server = witness(virsh).server(VM)
    assert (server.witness, server.id, server.running) == ("libvirt", VM, True)
    assert (server.state, server.vcpus, server.memory_mib) == ("libvirt domstate=running", 1, 512)
    assert virsh.calls == [["dumpxml", VM], ["domstate", VM]]
    for unseen in ("flavor", "availability_zone", "metadata"):  # Nova's metadata in the XML is not read
        with pytest.raises(w.NotWitnessed):
            getattr(server, unseen)


@pytest.mark.parametrize("state", ["shut off", "paused"])
def test_a_domain_not_running_is_a_server_not_running(state):
    server = witness(FakeVirsh({VM: [dom(state=state)]})).server(VM)
    assert not server.running and server.state == f"libvirt domstate={state}"


def test_a_missing_domain_is_no_server_and_the_base_waits_work():
    virsh = FakeVirsh({VM: [dom(), dom(state="shut off"), None]})
    wit = witness(virsh)
    assert wit.wait_for_server_running(VM).running
    wit.wait_for_server_gone(VM, after="delete_vm answered OK")
    assert wit.server(VM) is None and wit.server(OTHER) is None


def test_domain_not_found_in_older_virsh_words_is_no_server():
    def run(argv, *, env, timeout):
        return done(argv, 1, err=f"error: failed to get domain '{VM}'\nerror: Domain not found: no domain "
                                 f"with matching uuid '{VM}'\n")

    assert witness(run).server(VM) is None


def test_a_domain_only_named_like_the_cid_is_not_the_vm():
    virsh = FakeVirsh({VM: [dom(DOMAIN_XML.replace(f"<uuid>{VM}", f"<uuid>{OTHER}"))]})
    assert witness(virsh).server(VM) is None


def test_a_cid_that_is_no_uuid_is_not_witnessed_and_never_reaches_virsh():
    virsh = FakeVirsh()
    with pytest.raises(w.NotWitnessed, match="not a UUID"):
        witness(virsh).server("1")
    assert virsh.calls == []


@pytest.mark.parametrize(("memory", "mib"), [
    ("<memory unit='KiB'>524288</memory>", 512), ("<memory>524288</memory>", 512),
    ("<memory unit='MiB'>512</memory>", 512), ("<memory unit='M'>512</memory>", 512),
    ("<memory unit='GiB'>2</memory>", 2048), ("<memory unit='G'>2</memory>", 2048),
    ("<memory unit='b'>536870912</memory>", 512), ("<memory unit='bytes'>536870912</memory>", 512),
    ("<memory unit='KB'>1048576</memory>", 1000), ("<memory unit='MB'>1</memory>", 1e6 / 2**20),
])
def test_memory_in_any_libvirt_unit_is_mib(memory, mib):
    xml = DOMAIN_XML.replace("<memory unit='KiB'>524288</memory>", memory)
    assert witness(FakeVirsh({VM: [dom(xml)]})).server(VM).memory_mib == mib


# -- NICs --------------------------------------------------------------------------------------------
def test_nics_are_the_interfaces_by_mac_and_host_device():
    nics = witness(FakeVirsh({VM: [dom(DOMAIN_XML.replace("fa:16:3e:ba:83:87", "FA:16:3E:BA:83:87"))]})).nics(VM)
    assert [(n.witness, n.mac, n.port_id) for n in nics] == [
        ("libvirt", "fa:16:3e:ba:83:87", "tapf36f51c4-50"), ("libvirt", "fa:16:3e:17:4b:c8", "tap0ea86326-32")]
    for unseen in ("ips", "network_id"):
        with pytest.raises(w.NotWitnessed):
            getattr(nics[0], unseen)


def test_a_missing_domain_has_no_nics():
    assert witness(FakeVirsh()).nics(VM) == []


def test_nics_gone_waits_for_the_host_devices_to_leave():
    left = {"tapf36f51c4-50": 3, "tap0ea86326-32": 1}   # polls each device still shows

    def exists(dev):
        left[dev] -= 1
        return left[dev] >= 0

    wit = witness(FakeVirsh({VM: [dom()]}), dev_exists=exists)
    wit.wait_for_nics_gone(wit.nics(VM))
    assert left == {"tapf36f51c4-50": -1, "tap0ea86326-32": -3}   # four polls: both devices each time


def test_nics_gone_times_out_naming_the_timeout_and_the_call():
    wit = witness(FakeVirsh({VM: [dom()]}), dev_exists=lambda dev: dev == "tap0ea86326-32",
                  timeouts={"port_release": 0.05})
    with pytest.raises(WaitTimeout) as caught:
        wit.wait_for_nics_gone(wit.nics(VM), after="delete_vm answered OK")
    assert "timeouts.port_release" in str(caught.value) and "delete_vm answered OK" in str(caught.value)
    assert "still on the host: ['tap0ea86326-32']" in str(caught.value)


def test_nics_gone_on_a_remote_hypervisor_is_not_witnessed():
    virsh = FakeVirsh({VM: [dom()]})
    remote = LibvirtWitness(profile(), {"uri": "qemu+ssh://compute1/system"},
                            run=lambda argv, **kw: virsh(["virsh", "-c", URI, *argv[3:]], **kw),
                            dev_exists=lambda dev: pytest.fail("a remote host's devices are not on this one"))
    nics = remote.nics(VM)
    with pytest.raises(w.NotWitnessed, match="remote hypervisor"):
        remote.wait_for_nics_gone(nics)


def test_the_real_host_check_reads_sys_class_net():
    wit = witness()
    assert wit._dev_exists("lo") == os.path.exists("/sys/class/net/lo")
    assert not wit._dev_exists("tap-not-there-0") and not wit._dev_exists("../lo")


# -- volumes -----------------------------------------------------------------------------------------
def test_an_attached_volume_is_the_disk_with_its_serial_and_its_size():
    virsh = FakeVirsh({OTHER: [dom(NO_VOLUME_XML.replace(VM, OTHER))], VM: [dom()]})
    volume = witness(virsh).volume(VOLUME)
    assert (volume.witness, volume.id, volume.size_gib, volume.available) == ("libvirt", VOLUME, 1, False)
    assert volume.attached_to == frozenset({VM}) and volume.state == f"attached to domain {VM} as vdb"
    assert ["domblkinfo", VM, "vdb"] in virsh.calls
    with pytest.raises(w.NotWitnessed):
        assert volume.metadata is None  # never reached: reading it raises


def test_a_cloudstack_serial_is_the_volume_id_without_hyphens_cut_to_20():
    xml = DOMAIN_XML.replace(f"<serial>{VOLUME}</serial>", "<serial>6ec50808b3a44a648d75</serial>")
    virsh = FakeVirsh({VM: [dom(xml), dom(xml), dom(NO_VOLUME_XML)]})
    wit = witness(virsh)
    assert wit.volume(VOLUME).attached_to == frozenset({VM})
    with pytest.raises(w.NotWitnessed):
        wit.volume("7ec50808-b3a4-4a64-8d75-b788507c6e8e")
    wit.wait_for_volume_detached(VOLUME, VM)


def test_a_volume_attached_to_no_domain_is_not_witnessed():
    wit = witness(FakeVirsh({VM: [dom(NO_VOLUME_XML)]}))
    with pytest.raises(w.NotWitnessed, match="a volume attached to no VM"):
        wit.volume(VOLUME)
    with pytest.raises(w.NotWitnessed):  # so the base's waits on a free volume stay unseen
        wit.wait_for_volume_gone(VOLUME)
    with pytest.raises(w.NotWitnessed):
        wit.wait_for_volume_available(VOLUME)


def test_wait_attached_until_the_domain_has_the_disk():
    virsh = FakeVirsh({VM: [dom(NO_VOLUME_XML), dom(NO_VOLUME_XML), dom()]})
    volume = witness(virsh).wait_for_volume_attached(VOLUME, VM, after="attach_disk answered None")
    assert volume.attached_to == frozenset({VM}) and volume.size_gib == 1


def test_wait_attached_stops_when_the_domain_is_gone():
    wit = witness(FakeVirsh({VM: [dom(NO_VOLUME_XML), None]}))
    with pytest.raises(WaitFailed, match=f"domain {VM} is gone"):
        wit.wait_for_volume_attached(VOLUME, VM)


def test_wait_attached_times_out_naming_disk_attach_and_what_it_saw():
    wit = witness(FakeVirsh({VM: [dom(NO_VOLUME_XML)]}), timeouts={"disk_attach": 0.05})
    with pytest.raises(WaitTimeout) as caught:
        wit.wait_for_volume_attached(VOLUME, VM, after="attach_disk answered None")
    message = str(caught.value)
    assert "timeouts.disk_attach" in message and "attach_disk answered None" in message
    assert "disks by serial: none" in message


@pytest.mark.parametrize("then", [dom(NO_VOLUME_XML), None])
def test_wait_detached_until_the_disk_or_the_domain_is_gone(then):
    virsh = FakeVirsh({VM: [dom(), dom(), then]})
    assert witness(virsh).wait_for_volume_detached(VOLUME, VM, after="detach_disk answered OK") is None
    assert virsh.calls.count(["dumpxml", VM]) == 3


def test_wait_detached_times_out_naming_disk_detach():
    wit = witness(FakeVirsh({VM: [dom()]}), timeouts={"disk_detach": 0.05})
    with pytest.raises(WaitTimeout, match=r"timeouts\.disk_detach.*vdb=6ec50808"):
        wit.wait_for_volume_detached(VOLUME, VM)


# -- console -----------------------------------------------------------------------------------------
def test_console_is_the_tail_of_the_domains_log_file(tmp_path):
    log = tmp_path / "console.log"
    log.write_text("".join(f"line {i}\n" for i in range(500)))
    xml = DOMAIN_XML.replace(f"/var/lib/nova/instances/{VM}/console.log", str(log))
    out = witness(FakeVirsh({VM: [dom(xml)]})).console_output(VM)
    assert out.splitlines() == [f"line {i}" for i in range(300, 500)]


def test_console_of_a_serial_of_type_file(tmp_path):
    log = tmp_path / "serial.log"
    log.write_text("login:\n")
    xml = re.sub(r"<serial type='pty'>.*?</console>", f"<serial type='file'><source path='{log}'/></serial>",
                 DOMAIN_XML, flags=re.S)
    assert witness(FakeVirsh({VM: [dom(xml)]})).console_output(VM) == "login:"


def test_console_without_a_readable_log_file_is_not_witnessed(tmp_path):
    xml = DOMAIN_XML.replace(f"/var/lib/nova/instances/{VM}/console.log", str(tmp_path / "absent.log"))
    with pytest.raises(w.NotWitnessed, match="without a console log file"):
        witness(FakeVirsh({VM: [dom(xml)]})).console_output(VM)
    no_log = re.sub(r"\s*<log file=[^>]*/>", "", DOMAIN_XML)
    with pytest.raises(w.NotWitnessed, match="without a console log file$"):
        witness(FakeVirsh({VM: [dom(no_log)]})).console_output(VM)


# -- what it never sees -------------------------------------------------------------------------------
@pytest.mark.parametrize("ask", [
    lambda wit: wit.image(VM), lambda wit: wit.snapshot(VM), lambda wit: wit.floating_ip("10.0.0.1"),
    lambda wit: wit.flavor("m1.small"), lambda wit: wit.image_ids(),
])
def test_what_libvirt_cannot_see_is_not_witnessed(ask):
    virsh = FakeVirsh({VM: [dom()]})
    with pytest.raises(w.NotWitnessed):
        ask(witness(virsh))
    assert virsh.calls == []


# -- the runner's problems are runner errors, never verdicts -----------------------------------------
def test_virsh_missing_is_a_runner_error():
    def run(argv, **kw):
        raise FileNotFoundError(2, "No such file or directory", argv[0])

    with pytest.raises(RunnerError) as caught:
        witness(run).server(VM)
    assert caught.value.detail == ("virsh is not installed (Debian: apt-get install libvirt-clients): "
                                   "needed by the libvirt witness (profile witnesses.libvirt)")


def test_virsh_missing_through_the_real_subprocess_is_a_runner_error(tmp_path):
    wit = LibvirtWitness(profile(), {"virsh": str(tmp_path / "virsh")})
    with pytest.raises(RunnerError, match="is not installed"):
        wit.nics(VM)


def test_a_virsh_that_hangs_is_a_runner_error_naming_the_command_and_the_timeout(tmp_path):
    def run(argv, *, env, timeout):
        raise subprocess.TimeoutExpired(argv, timeout)

    with pytest.raises(RunnerError, match=rf"`virsh -c {URI} dumpxml {VM}` did not answer within 30s "
                                          r"\(witnesses.libvirt command_timeout\)"):
        witness(run).server(VM)
    slow = tmp_path / "virsh"
    slow.write_text("#!/bin/sh\nexec sleep 10\n")
    slow.chmod(slow.stat().st_mode | stat.S_IXUSR)
    wit = LibvirtWitness(profile(), {"virsh": str(slow), "command_timeout": 0.2})
    with pytest.raises(RunnerError, match="did not answer within 0.2s"):
        wit.server(VM)


def test_any_other_virsh_failure_is_a_runner_error_with_its_stderr_bounded():
    said = "error: failed to connect to the hypervisor\nerror: Failed to connect socket: " + "x" * 2000

    with pytest.raises(RunnerError) as caught:
        witness(lambda argv, **kw: done(argv, 1, err=said)).server(VM)
    assert "exited 1: error: failed to connect to the hypervisor" in str(caught.value)
    assert len(str(caught.value)) < 700


def test_huge_or_broken_virsh_output_is_a_runner_error():
    with pytest.raises(RunnerError, match="more than 4194304"):
        witness(lambda argv, **kw: done(argv, out="<domain>" + " " * 5 * 2**20 + "</domain>")).server(VM)
    with pytest.raises(RunnerError, match="does not parse"):
        witness(lambda argv, **kw: done(argv, out="<domain><uuid>")).server(VM)


def test_the_real_subprocess_passes_lc_all_c_and_no_shell(tmp_path):
    fake = tmp_path / "virsh"
    fake.write_text(f'#!/bin/sh\necho "$LC_ALL $*" > {tmp_path}/argv\n'
                    'echo "error: failed to get domain" >&2\nexit 1\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    wit = LibvirtWitness(profile(), {"virsh": str(fake), "uri": "qemu:///session"})
    assert wit.server(VM) is None
    assert (tmp_path / "argv").read_text() == f"C -c qemu:///session dumpxml {VM}\n"


# -- options -------------------------------------------------------------------------------------------
def test_options_default_to_the_local_system_hypervisor():
    wit = LibvirtWitness(profile(), {})
    assert (wit.uri, wit.virsh, wit.command_timeout, wit.local) == (URI, "virsh", 30, True)
    assert wit.timeouts.poll == 0.01 and wit.name == "libvirt"


@pytest.mark.parametrize(("options", "path", "problem"), [
    ({"url": URI}, "witnesses.libvirt", "unknown option(s) ['url']"),
    ({"command_timeout": 0}, "witnesses.libvirt.command_timeout", "positive"),
    ({"command_timeout": "30"}, "witnesses.libvirt.command_timeout", "positive"),
    ({"uri": ""}, "witnesses.libvirt.uri", "non-empty string"),
])
def test_bad_options_are_profile_errors(options, path, problem):
    with pytest.raises(ProfileError) as caught:
        LibvirtWitness(profile(), options)
    assert (caught.value.file, caught.value.path) == ("p.yml", path) and problem in caught.value.problem


def test_the_entry_point_names_this_class():
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    entry = pyproject["project"]["entry-points"][w.ENTRY_POINTS]["libvirt"]
    assert entry == "conformance.cloud.libvirt:LibvirtWitness"
