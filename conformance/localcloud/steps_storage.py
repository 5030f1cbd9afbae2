"""Bring-up steps for block storage: a single-node Ceph (one mon, one bluestore OSD on a sparse
file in the state directory, no cephx, no mgr) and Cinder's RBD backend on it.

This kernel has no device-mapper, iSCSI, NFS client or kernel rbd, so LVM/iSCSI/NFS backends cannot
work; librbd (python3-rbd in cinder-volume, qemu's block-rbd in the guests) needs none of them.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from conformance.core.waiting import wait_for
from conformance.localcloud import configs, services
from conformance.localcloud.config import CEPH_MON_ID, CEPH_OSD_BYTES, CEPH_POOL, CEPH_READY_TIMEOUT, POLL
from conformance.localcloud.context import Context
from conformance.localcloud.steps_compute import wait_service_up
from conformance.localcloud.steps_control import register, uwsgi_ini, with_stderr_logging
from conformance.localcloud.steps_infra import empty_databases, ensure_dirs

CEPH_CONF = Path(services.CEPH_CONF)
MON_DIR = Path(f"/var/lib/ceph/mon/ceph-{CEPH_MON_ID}")
OSD_DIR = Path("/var/lib/ceph/osd/ceph-0")
CEPH = ["ceph", "--connect-timeout", "10"]


def ceph_settings(fsid: str, osd_block: Path) -> dict:
    return {
        "global": {
            "fsid": fsid, "mon_initial_members": CEPH_MON_ID, "mon_host": "v2:127.0.0.1:3300/0",
            "public_network": "127.0.0.0/8", "auth_cluster_required": "none",
            "auth_service_required": "none", "auth_client_required": "none",
            "osd_pool_default_size": 1, "osd_pool_default_min_size": 1, "osd_pool_default_pg_num": 16,
            "osd_crush_chooseleaf_type": 0, "mon_allow_pool_size_one": True,
            "mon_warn_on_pool_no_redundancy": False, "mon_allow_pool_delete": True,
        },
        "osd": {
            "osd_objectstore": "bluestore", "bluestore_block_create": True,
            "bluestore_block_size": CEPH_OSD_BYTES, "bluestore_block_path": str(osd_block),
            "osd_memory_target": 1024**3,
        },
    }  # fmt: skip


def current_fsid() -> str | None:
    if not CEPH_CONF.exists():
        return None
    for line in CEPH_CONF.read_text().splitlines():
        if line.strip().startswith("fsid"):
            return line.split("=", 1)[1].strip()
    return None


def step_ceph(ctx: Context) -> str:
    fsid = current_fsid() if MON_DIR.joinpath("store.db").is_dir() else None
    fsid = fsid or str(uuid.uuid4())
    ctx.configure(str(CEPH_CONF), ceph_settings(fsid, ctx.layout.osd_block))
    notes = []
    if not MON_DIR.joinpath("store.db").is_dir():
        make_mon(ctx, fsid)
        notes.append("mon created")
    notes += ctx.ensure_all((services.CEPH_MON,))
    wait_for(lambda: ctx.runner.ok([*CEPH, "mon", "stat"]), timeout=CEPH_READY_TIMEOUT, interval=POLL,
             what="ceph-mon to answer")  # fmt: skip
    if not OSD_DIR.joinpath("fsid").exists():
        make_osd(ctx)
        notes.append("osd created")
    notes += ctx.ensure_all((services.CEPH_OSD,))
    wait_for(lambda: ctx.runner.run([*CEPH, "osd", "stat"]).stdout, ready=lambda out: "1 up" in out,
             describe=lambda out: out.strip(), timeout=CEPH_READY_TIMEOUT, interval=POLL,
             what="the OSD to be up")  # fmt: skip
    if CEPH_POOL not in ctx.runner.run([*CEPH, "osd", "pool", "ls"]).stdout.split():
        ctx.runner.run([*CEPH, "osd", "pool", "create", CEPH_POOL, "16"])
        ctx.runner.run(["rbd", "pool", "init", CEPH_POOL])
        notes.append(f"pool {CEPH_POOL} created")
    return ", ".join(notes) or "running"


def make_mon(ctx: Context, fsid: str) -> None:
    work = ctx.layout.root / "ceph"
    keyring, monmap = work / "mon.keyring", work / "monmap"
    ctx.runner.run(["ceph-authtool", "--create-keyring", str(keyring), "--gen-key", "-n", "mon.",
                    "--cap", "mon", "allow *"])  # fmt: skip
    ctx.runner.run(["monmaptool", "--create", "--clobber", "--addv", CEPH_MON_ID,
                    "[v2:127.0.0.1:3300,v1:127.0.0.1:6789]", "--fsid", fsid, str(monmap)])  # fmt: skip
    MON_DIR.mkdir(parents=True, exist_ok=True)
    ctx.runner.run(["ceph-mon", "--mkfs", "-i", CEPH_MON_ID, "--monmap", str(monmap), "--keyring", str(keyring)])
    keyring.unlink()


def make_osd(ctx: Context) -> None:
    osd_uuid = str(uuid.uuid4())
    ctx.layout.osd_block.unlink(missing_ok=True)
    ctx.runner.run([*CEPH, "osd", "new", osd_uuid, "0"])
    OSD_DIR.mkdir(parents=True, exist_ok=True)
    ctx.runner.run(["ceph-osd", "-i", "0", "--mkfs", "--osd-uuid", osd_uuid])


CINDER = (services.CINDER_API, services.CINDER_SCHEDULER, services.CINDER_VOLUME)


def step_cinder(ctx: Context) -> str:
    settings = with_stderr_logging(configs.cinder(ctx.pw))
    ctx.configure("/etc/cinder/cinder.conf", settings, drop_sections=("lvm",))
    uwsgi_ini(ctx, "/etc/cinder/cinder-api-uwsgi.ini")
    ensure_dirs("cinder", "/var/lib/cinder/tmp")
    if "cinder" in empty_databases(ctx):
        ctx.runner.run(["cinder-manage", "db", "sync"], user="cinder")
    notes = register(ctx, "volumev3", "block-storage")
    notes += ctx.ensure_all(CINDER)
    wait_service_up(ctx, "cinder-volume", services.CINDER_VOLUME)
    conn = ctx.admin()
    if conn.block_storage.find_type("ceph") is None:
        conn.block_storage.create_type(name="ceph", extra_specs={"volume_backend_name": "ceph"})
        notes.append("volume type ceph")
    return ", ".join(notes)
