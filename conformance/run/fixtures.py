"""Fixtures that reach the cloud and the guest: ``cloud``, ``lab``, ``stemcell``, ``create_vm``,
``create_disk``, ``ssh``. Plain module-level fixtures on top of conformance.run.session's (``run``,
``profile``, ``cpi``, ``cleanup``, ...); plugin.pytest_configure registers this module as the plugin
"conformance-lab" only when ``--profile`` is given."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest

from conformance.run import stemcells
from conformance.run.lab import IpPool, Lab


@pytest.fixture(scope="session")
def conn(profile):
    if not profile.witnessed:
        return None
    from conformance.cloud import inspector

    return inspector.connect(profile.cloud, profile.region)


@pytest.fixture(scope="session")
def cloud(conn, profile):
    """The cloud witness (openstacksdk, read only)."""
    if conn is None:
        pytest.skip("profile: features.cloud_witness is false (or cloud is null): no cloud witness")
    from conformance.cloud.inspector import CloudInspector

    return CloudInspector(conn, interval=profile.timeouts.poll)


@pytest.fixture(scope="session")
def net_ids(conn, profile) -> dict[str, str]:
    """Network ids by BOSH network name; net_name entries resolved through the cloud API."""
    ids = {}
    refs = [*profile.networks.manual, *([profile.networks.dynamic] if profile.networks.dynamic else [])]
    for ref in refs:
        if ref.net_id:
            ids[ref.name] = ref.net_id
        elif conn is None:
            raise pytest.UsageError(f"{profile.source}: network {ref.name!r} has net_name but no cloud to resolve it")
        else:
            ids[ref.name] = conn.network.find_network(ref.net_name, ignore_missing=False).id
    return ids


@pytest.fixture(scope="session")
def lab(cpi, conn, names, net_ids, static_ips, run) -> Lab:
    cloud = None
    if conn is not None:
        from conformance.cloud.inspector import CloudInspector

        cloud = CloudInspector(conn, interval=run.profile.timeouts.poll)
    slices = _without_held_addresses(conn, static_ips, net_ids, run) if conn is not None else static_ips
    return Lab(profile=run.profile, cpi=cpi, cloud=cloud, conn=conn, names=names, net_ids=net_ids,
               pool=IpPool(slices), run_id=run.run_id)


def _without_held_addresses(conn, slices: dict[str, list], net_ids: dict[str, str], run) -> dict[str, list]:
    """This worker's static IPs minus those a port in the project already holds: a leftover of a
    killed run (or another user of the subnet) must not turn every create_vm of this run into a
    Conflict, a failure of the CPI for the wrong reason. Each address left out is said, with its port."""
    free = {}
    for network, ips in slices.items():
        held = {fixed["ip_address"]: port for port in conn.network.ports(network_id=net_ids[network])
                for fixed in port.fixed_ips or []}
        free[network] = [ip for ip in ips if str(ip) not in held]
        for ip in ips:
            port = held.get(str(ip))
            if port is not None:
                run.say(f"static IP {ip} of manual network {network!r} is held by port {port.id} "
                        f"({port.name or 'unnamed'}, device {port.device_id or 'none'}, created {port.created_at}), "
                        f"not by this run: not used (leftovers of killed runs: `conformance cleanup --older-than 1h`)")
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
        if lab.cloud:
            lab.cloud.wait_for_image_gone(cid.split()[0], timeout=profile.timeouts.vm_delete)
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
def create_vm(lab, stemcell, cleanup):
    """Boot VMs through the CPI; each is deleted, and proven gone with its ports, at teardown."""
    return functools.partial(lab.boot_vm, cleanup, stemcell.cid)


@pytest.fixture
def create_disk(lab, cleanup):
    """Create persistent disks through the CPI; each is deleted, and proven gone, at teardown."""
    return functools.partial(lab.create_disk, cleanup)


@pytest.fixture(scope="session")
def ssh(lab):
    """``with ssh(vm) as guest:`` an SSH session into the VM (timeouts.ssh_ready)."""
    return lab.ssh
