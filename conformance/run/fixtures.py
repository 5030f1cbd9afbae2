"""Fixtures that reach the cloud and the guest: ``cloud`` (the witnesses' checks), ``lab``,
``stemcell``, ``boot_vm``, ``create_disk``, ``ssh``. Plain module-level fixtures on top of conformance.run.session's (``run``,
``profile``, ``cpi``, ``cleanup``, ...); plugin.pytest_configure registers this module as the plugin
"conformance-lab" only when ``--profile`` is given."""

from __future__ import annotations

import functools
import itertools
import shutil
import threading
import time
from pathlib import Path

import pytest

from conformance.cloud import witness
from conformance.cloud.witness import CloudChecks, Witnesses
from conformance.core import waiting
from conformance.core.errors import ProfileError
from conformance.core.jsonl import JsonlFile
from conformance.report import allure_steps
from conformance.run import stemcells
from conformance.run.lab import IpPool, Lab


@pytest.fixture(scope="session")
def conn(profile):
    """An openstacksdk connection for what the suite provisions itself (floating IPs), when the
    profile has a clouds.yaml entry; None otherwise. Never handed to a suite."""
    if not profile.cloud_api:
        return None
    return _connect(profile)


@pytest.fixture(scope="session")
def witnesses(run) -> Witnesses:
    """The profile's cloud witnesses (conformance.cloud.witness), built once; maybe none."""
    try:
        with waiting.spent("cloud"):  # a witness may log in to the cloud as it is built
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

            with waiting.spent("cloud"):
                ids[ref.name] = provision.network_id(conn, ref.net_name)
    return ids


@pytest.fixture(scope="session")
def lab(cpi, conn, witnesses, names, net_ids, static_ips, run) -> Lab:
    slices = _without_held_addresses(witnesses, static_ips, net_ids, run)
    boots = JsonlFile(run.report_dir / BOOTS_FILE)

    def on_boot(vm) -> None:
        """One line per VM of the run: its boot's phases, for the benchmark (scripts/bench-suite)."""
        b = vm.boot
        boots.append({"cid": vm.cid, "worker": run.worker, "via": "floating_ip" if vm.floating_ip else "fixed",
                      "ahead": threading.current_thread() is not threading.main_thread(),
                      "to_running": round(b["running"] - b["create"], 3) if "running" in b else None,
                      "to_ssh": round(b["ssh"] - b["create"], 3), "started_at": b["create"]})

    return Lab(profile=run.profile, cpi=cpi, witnesses=witnesses, conn=conn, names=names, net_ids=net_ids,
               pool=IpPool(slices), run_id=run.run_id, on_boot=on_boot)


#: The run folder's record of every VM's boot to its first SSH session (scripts/bench-suite reads it).
BOOTS_FILE = "boots.jsonl"


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


def session_vm_spec(name: str, profile) -> dict:
    """lab.boot_vm's keywords for a session VM: ``shared_vm`` has as many manual NICs as the profile
    has (up to two, multi_nic permitting), the first one default; ``peer_vm`` is on the first manual
    network. Both get a floating IP when SSH goes that way."""
    if name == "shared_vm":
        return {"manual": min(2, len(profile.networks.manual)) if profile.features.multi_nic else 1}
    return {"manual": 1}


class Preparing:
    """This worker's VMs prepared ahead: started once, by the first test that uses the stemcell."""

    def __init__(self):
        self.preparer = None
        self.tried = False


@pytest.fixture(scope="session")
def prepared_vms() -> Preparing:
    """The VMs this worker's tests will boot, prepared ahead (conformance.run.prepare) up to its
    share of the profile's ``vm.prepare_ahead``. Preparing starts with the worker's first test that
    uses the stemcell (in ``prepare_ahead``, or in a session VM's fixture, which pytest sets up
    first): that test sets the stemcell up anyway, so preparing adds no setup a test did not have,
    and a stemcell that cannot be uploaded fails the tests that need it, as before. Never here: an
    error of a session-scoped autouse fixture would be every test's. Nothing is prepared without a
    plan, with a share of 0 or when the tests boot nothing. At the worker's end, what no test took is
    deleted."""
    return Preparing()


@pytest.fixture(autouse=True)
def prepare_ahead(request, run, prepared_vms: Preparing) -> None:
    """Starts preparing (see prepared_vms) with the worker's first test that uses the stemcell."""
    _start_preparing(request, run, prepared_vms)


def _start_preparing(request, run, preparing: Preparing) -> None:
    from conformance.run import prepare, schedule

    if preparing.tried or "stemcell" not in request.fixturenames:
        return
    preparing.tried = True
    needs = _worker_needs(request.session, run)
    limit = prepare.share(run.profile.vm.prepare_ahead, run.workers, run.worker_index())
    if not needs or not limit:
        return
    lab = request.getfixturevalue("lab")
    stemcell = request.getfixturevalue("stemcell")
    session_cleanup = request.getfixturevalue("session_cleanup")
    views = threading.local()

    def boot(need: schedule.Need, stack, set_phase):
        view = getattr(views, "lab", None)
        if view is None:  # its own connections: openstacksdk's are not shared across threads
            view = views.lab = lab.view(witnesses=Witnesses(witness.build(run.profile, on_progress=None)),
                                        conn=_connect(run.profile), keep_ips=PREPARE_KEEPS_IPS)
        spec = dict(session_vm_spec(need.key, run.profile) if need.key in schedule.SESSION_VMS else need.spec)
        ssh = spec.pop("ssh", True)
        run.attribute_calls_to(need.nodeid)
        try:
            if preparer.closing.is_set():  # the worker is ending: nothing new is made
                return None
            set_phase("create")
            vm = view.boot_vm(stack, stemcell.cid, **spec)
            if ssh and (vm.floating_ip or run.profile.ssh.via != "floating_ip"):
                set_phase("ssh")
                view.wait_ssh(vm, stop=preparer.closing.is_set)
            return vm
        finally:
            run.attribute_calls_to(None)

    preparer = prepare.Preparer(needs, limit=limit, boot=boot, new_stack=run.new_stack, stop=run.cut_short,
                                say=run.say)
    # a step of the session's cleanup: run before the stemcell is deleted, after the session VMs
    # taken (their steps are added later, so they run first)
    session_cleanup.add("end the VMs prepared ahead (what no test took is deleted)", preparer.close)
    preparing.preparer = preparer
    preparer.start()


#: Static IPs of each manual network a VM prepared ahead leaves for the tests' own VMs.
PREPARE_KEEPS_IPS = 2


def _worker_needs(session, run) -> list:
    from conformance.run import schedule

    if run.workers > 1 or run.worker != "main":
        order = schedule.read_schedule(run.report_dir, run.worker)
        if order is None:
            return []
    else:
        order = [item.nodeid for item in session.items]
    by_id = {item.nodeid: item for item in session.items}
    order = [nodeid for nodeid in order if nodeid in by_id]
    return schedule.worker_needs(order, {nodeid: schedule.item_needs(by_id[nodeid]) for nodeid in order})


def _connect(profile):
    """An openstacksdk connection when the profile has a clouds.yaml entry, else None."""
    if not profile.cloud_api:
        return None
    from conformance.cloud import openstack

    with waiting.spent("cloud"):
        return openstack.connect(profile.cloud, profile.region)


def claim(preparing: Preparing, key: str, stack, run):
    """The VM prepared ahead under ``key`` (its undo steps moved onto ``stack``), or None: boot it now."""
    prepared = preparing.preparer
    if prepared is None or not prepared.planned(key):
        return None
    vm = prepared.claim(key, stack, wait=lambda p: _wait_prepared(p, run))
    if vm is not None:
        for record in run.records.get(prepared.items[key].need.nodeid, []):
            if record.ahead:
                allure_steps.record_call(record)
    return vm


def _wait_prepared(p, run) -> None:
    """Until the VM prepared for ``p.need`` is ready (or failed), phase by phase: each phase is a wait
    with its own kind in the time accounting (create and running: cloud; SSH: guest), all within
    the timeouts the test itself would have had (create_vm's call, vm_active, ssh_ready)."""
    from conformance.core.errors import WaitTimeout
    from conformance.run.prepare import PHASE_KIND

    t = run.profile.timeouts
    budget = run.profile.cpi.method_timeouts.get("create_vm", t.cpi_call) + t.vm_active + t.ssh_ready
    deadline = time.monotonic() + budget
    while not p.future.done():
        phase, left = p.phase, deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(f"{p.need}, prepared ahead", budget, 0, f"phase={phase}", None)
        waiting.wait_for(lambda ph=phase: p.future.done() or p.phase != ph, describe=lambda _, ph=phase: f"phase={ph}",
                         timeout=left, interval=min(0.5, t.poll), kind=PHASE_KIND.get(phase, "cloud"),
                         what=f"{p.need}, prepared ahead")


@pytest.fixture(scope="session")
def shared_vm(request, lab, stemcell, session_cleanup, profile, prepared_vms, run):
    """One VM for the tests that do not change it (session_vm_spec); prepared ahead when planned."""
    _start_preparing(request, run, prepared_vms)  # a session fixture is set up before prepare_ahead
    return (claim(prepared_vms, "shared_vm", session_cleanup, run)
            or lab.boot_vm(session_cleanup, stemcell.cid, **session_vm_spec("shared_vm", profile)))


@pytest.fixture(scope="session")
def peer_vm(request, lab, stemcell, session_cleanup, profile, prepared_vms, run):
    """A second VM on the first manual network: for VM-to-VM traffic and moving disks."""
    _start_preparing(request, run, prepared_vms)
    return (claim(prepared_vms, "peer_vm", session_cleanup, run)
            or lab.boot_vm(session_cleanup, stemcell.cid, **session_vm_spec("peer_vm", profile)))


@pytest.fixture
def boot_vm(request, lab, stemcell, cleanup, prepared_vms, run):
    """``boot_vm()``: the next VM the test declares with ``@pytest.mark.boots(**spec)`` (in the order
    written), prepared ahead when planned, else booted now; ``boot_vm(**spec)``: one it does not
    declare, booted now. Specs are lab.boot_vm's keywords (manual=1, dynamic=False, vip=None,
    context=None, cloud_properties=None) and ``ssh=False`` for a VM the test never SSHes into. A VM
    the test can SSH into: created through the CPI (create_vm and set_vm_metadata), running for every
    witness; each is deleted, and proven gone with its NICs, at teardown."""
    from conformance.run import schedule

    declared = schedule.item_needs(request.node)["boots"]
    taken = itertools.count()

    def boot(**spec):
        if spec:
            return lab.boot_vm(cleanup, stemcell.cid, **spec)
        i = next(taken)
        if i >= len(declared):
            raise pytest.UsageError(f"{request.node.nodeid}: boot_vm() #{i + 1} without arguments, but the test "
                                    f"declares {len(declared)} VM(s) with @pytest.mark.boots(...)")
        vm = claim(prepared_vms, f"{request.node.nodeid}#{i}", cleanup, run)
        if vm is not None:
            return vm
        wanted = {k: v for k, v in declared[i].items() if k != "ssh"}
        return lab.boot_vm(cleanup, stemcell.cid, **wanted)

    return boot


@pytest.fixture
def create_disk(lab, cleanup):
    """Create persistent disks through the CPI; each is deleted, and proven gone, at teardown."""
    return functools.partial(lab.create_disk, cleanup)


@pytest.fixture(scope="session")
def ssh(lab):
    """``with ssh(vm) as guest:`` an SSH session into the VM (timeouts.ssh_ready)."""
    return lab.ssh
