"""Fixtures that reach the cloud and the guest: ``cloud`` (the witnesses' checks), ``lab``,
``stemcell``, ``boot_vm``, ``create_disk``, ``ssh``. Plain module-level fixtures on top of conformance.run.session's (``run``,
``profile``, ``cpi``, ``cleanup``, ...); plugin.pytest_configure registers this module as the plugin
"conformance-lab" only when ``--profile`` is given."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest

from conformance.cloud import witness
from conformance.cloud.witness import CloudChecks, Witnesses
from conformance.core.errors import ProfileError
from conformance.run import stemcells
from conformance.run.lab import IpPool, Lab


@pytest.fixture(scope="session")
def conn(profile):
    """An openstacksdk connection for what the suite provisions itself (floating IPs), when the
    profile has a clouds.yaml entry; None otherwise. Never handed to a suite."""
    if not profile.cloud_api:
        return None
    from conformance.cloud import openstack

    return openstack.connect(profile.cloud, profile.region)


@pytest.fixture(scope="session")
def witnesses(run) -> Witnesses:
    """The profile's cloud witnesses (conformance.cloud.witness), built once; maybe none."""
    try:
        return Witnesses(witness.build(run.profile, on_progress=None))
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture
def cloud(witnesses, record_property) -> CloudChecks:
    """The cloud's side of a test's checks: ``for seen in cloud.checks("..."): with seen as w: ...``.
    Never skips: with no witness (or one that does not see a thing) the check is recorded as not made."""
    return CloudChecks(witnesses.all, record_property)


@pytest.fixture(scope="session")
def net_ids(conn, profile) -> dict[str, str]:
    """Network ids by BOSH network name, as a Director's cloud config gives them: net_id, or the
    profile's net_name looked up through the cloud API (the clouds.yaml entry), whatever the witnesses."""
    ids = {}
    refs = [*profile.networks.manual, *([profile.networks.dynamic] if profile.networks.dynamic else [])]
    for ref in refs:
        if ref.net_id:
            ids[ref.name] = ref.net_id
        elif conn is None:
            raise pytest.UsageError(f"{profile.source}: network {ref.name!r} has net_name but no cloud to resolve it")
        else:
            from conformance.cloud import provision

            ids[ref.name] = provision.network_id(conn, ref.net_name)
    return ids


@pytest.fixture(scope="session")
def lab(cpi, conn, witnesses, names, net_ids, static_ips, run) -> Lab:
    slices = _without_held_addresses(witnesses, static_ips, net_ids, run)
    return Lab(profile=run.profile, cpi=cpi, witnesses=witnesses, conn=conn, names=names, net_ids=net_ids,
               pool=IpPool(slices), run_id=run.run_id)


def _without_held_addresses(witnesses: Witnesses, slices: dict[str, list], net_ids: dict[str, str],
                            run) -> dict[str, list]:
    """This worker's static IPs minus those something in the cloud already holds (a witness that
    sees ports tells): a leftover of a killed run (or another user of the subnet) must not turn
    every create_vm of this run into a Conflict, a failure of the CPI for the wrong reason. Each
    address left out is said, with what holds it."""
    free = {}
    for network, ips in slices.items():
        held = witnesses.first(lambda w, n=network, i=ips: w.addresses_held(net_ids[n], [str(ip) for ip in i]), {})
        free[network] = [ip for ip in ips if str(ip) not in held]
        for ip in ips:
            if str(ip) in held:
                run.say(f"static IP {ip} of manual network {network!r} is held by {held[str(ip)]}, not by this run: "
                        f"not used (leftovers of killed runs: `conformance cleanup --older-than 1h`)")
    return free


@pytest.fixture(scope="session")
def stemcell_manifest(run) -> dict:
    """The stemcell's stemcell.MF, read without uploading (the Director checks it against the
    CPI's info before it uploads: jobs/update_stemcell.rb)."""
    from conformance.stemcell.tarball import read_manifest

    return read_manifest(stemcells.tarball_path(run.profile))


@pytest.fixture(scope="session")
def stemcell(cpi, lab, run) -> stemcells.Stemcell:
    """The run's heavy stemcell, uploaded once through the CPI and shared by the workers."""
    profile = run.profile
    manifest, image = stemcells.extracted_image(stemcells.tarball_path(profile))

    def upload() -> str:
        cid = cpi.create_stemcell(image, manifest.get("cloud_properties") or {},
                                  timeout=profile.timeouts.stemcell_upload)
        run.ledger.record("created", "image", cid, cleanup="delete_stemcell")
        return cid

    def delete(cid: str) -> None:
        cpi.delete_stemcell(cid)
        lab.witnesses.each(lambda w: w.wait_for_image_gone(cid.split()[0], after="delete_stemcell answered OK"))
        run.ledger.record("deleted", "image", cid)

    shared = stemcells.SharedStemcell(run.report_dir, run.worker, upload, delete)
    try:
        cid = shared.acquire()
        lab.remember_stemcell(cid, manifest)
        yield stemcells.Stemcell(cid, manifest, image)
        shared.release()
    finally:
        shutil.rmtree(Path(image).parent, ignore_errors=True)  # the extracted image (about 92 MiB)


@pytest.fixture(scope="session")
def ssh_public_key(profile) -> str:
    """The public half of the profile's SSH key ("ssh-rsa AAAA..."), to find it in metadata."""
    import paramiko

    key = paramiko.PKey.from_path(profile.path(profile.ssh.private_key))
    return f"{key.get_name()} {key.get_base64()}"


@pytest.fixture(scope="session")
def session_cleanup(run):
    stack = run.new_stack()
    yield stack
    stack.run()


@pytest.fixture(scope="session")
def shared_vm(lab, stemcell, session_cleanup, profile):
    """One VM for the tests that do not change it: as many manual NICs as the profile has (up to
    two, multi_nic permitting), the first one default, and a floating IP when SSH goes that way."""
    manual = min(2, len(profile.networks.manual)) if profile.features.multi_nic else 1
    return lab.boot_vm(session_cleanup, stemcell.cid, manual=manual)


@pytest.fixture(scope="session")
def peer_vm(lab, stemcell, session_cleanup):
    """A second VM on the first manual network: for VM-to-VM traffic and moving disks."""
    return lab.boot_vm(session_cleanup, stemcell.cid, manual=1)


@pytest.fixture
def boot_vm(lab, stemcell, cleanup):
    """``boot_vm(manual=1, dynamic=False, vip=None, context=None, cloud_properties=None)``: a VM the
    test can SSH into (lab.boot_vm: create_vm and set_vm_metadata through the CPI, then running for
    every witness); each is deleted, and proven gone with its NICs, at teardown."""
    return functools.partial(lab.boot_vm, cleanup, stemcell.cid)


@pytest.fixture
def create_disk(lab, cleanup):
    """Create persistent disks through the CPI; each is deleted, and proven gone, at teardown."""
    return functools.partial(lab.create_disk, cleanup)


@pytest.fixture(scope="session")
def ssh(lab):
    """``with ssh(vm) as guest:`` an SSH session into the VM (timeouts.ssh_ready)."""
    return lab.ssh
