"""Bring-up steps for the control plane: Keystone, Glance, Placement, Nova's API/conductor/scheduler.

Pattern of every step: converge config files, run `db sync` only on an empty database, register the
service in Keystone, start the daemons (a running one is restarted only when one of its config files
is newer than its pid file), wait for the API port.
"""

from __future__ import annotations

import os
from pathlib import Path

from conformance.localcloud import configs, identity, services
from conformance.localcloud.config import CATALOG, KEYSTONE_URL, REGION
from conformance.localcloud.context import Context
from conformance.localcloud.steps_infra import empty_databases, ensure_dirs

NO_LOG_FILE = {"log_dir": None, "log_file": None}  # oslo logs to stderr -> <state>/logs/<name>.log


def with_stderr_logging(settings: dict) -> dict:
    settings.setdefault("DEFAULT", {}).update(NO_LOG_FILE)
    return settings


def uwsgi_ini(ctx: Context, path: str) -> bool:
    """Pitfalls 4 and 5, logs to stderr (our file), no apparmor lines."""
    options = {**configs.UWSGI_OPTIONS, "logto": None}
    return ctx.configure_uwsgi(path, options, configs.UWSGI_APPEND)


def register(ctx: Context, *service_types: str) -> list[str]:
    conn, notes = ctx.admin(), []
    for service_type in service_types:
        user, url = CATALOG[service_type]
        if identity.ensure_catalog_entry(conn, service_type, user, url):
            notes.append(f"catalog {service_type}")
    notes.append(identity.ensure_service_user(conn, user, ctx.pw[f"svc_{user}"]))
    if any(n.startswith("catalog") for n in notes):
        ctx.reset_connection()  # the next call needs a token whose catalog has the new service
    return notes


def step_keystone(ctx: Context) -> str:
    ctx.configure("/etc/keystone/keystone.conf", with_stderr_logging(configs.keystone(ctx.pw)))
    uwsgi_ini(ctx, "/etc/keystone/keystone-uwsgi.ini")
    fresh = "keystone" in empty_databases(ctx)
    if fresh:
        ctx.runner.run(["keystone-manage", "db_sync"], user="keystone")
    for what in ("fernet_setup", "credential_setup"):
        keys = Path("/etc/keystone") / ("fernet-keys" if what == "fernet_setup" else "credential-keys")
        if not keys.is_dir() or not any(keys.iterdir()):
            ctx.runner.run(["keystone-manage", what, "--keystone-user", "keystone", "--keystone-group", "keystone"])
    if fresh:
        ctx.runner.run([  # the password by environment: a command line is readable by every user
            "keystone-manage", "bootstrap",
            "--bootstrap-admin-url", KEYSTONE_URL, "--bootstrap-internal-url", KEYSTONE_URL,
            "--bootstrap-public-url", KEYSTONE_URL, "--bootstrap-region-id", REGION,
        ], env={**os.environ, "OS_BOOTSTRAP_PASSWORD": ctx.pw["admin"]})  # fmt: skip
    state = ctx.ensure_running(services.KEYSTONE)
    conn = ctx.admin()
    identity.ensure_project(conn, "service", "OpenStack service users")
    identity.ensure_role(conn, "service")
    return f"keystone {state}" + (", bootstrapped" if fresh else "")


def step_glance(ctx: Context) -> str:
    ctx.configure("/etc/glance/glance-api.conf", with_stderr_logging(configs.glance(ctx.pw)))
    ensure_dirs("glance", "/var/lib/glance/images", "/var/lib/glance/tasks_work_dir", "/var/lib/glance/staging")
    if "glance" in empty_databases(ctx):
        ctx.runner.run(["glance-manage", "db_sync"], user="glance")
    notes = register(ctx, "image")
    return ", ".join(notes + [f"glance-api {ctx.ensure_running(services.GLANCE)}"])


def step_placement(ctx: Context) -> str:
    ctx.configure("/etc/placement/placement.conf", with_stderr_logging(configs.placement(ctx.pw)))
    uwsgi_ini(ctx, "/etc/placement/placement-api-uwsgi.ini")
    if "placement" in empty_databases(ctx):
        ctx.runner.run(["placement-manage", "db", "sync"], user="placement")
    notes = register(ctx, "placement")
    return ", ".join(notes + [f"placement-api {ctx.ensure_running(services.PLACEMENT)}"])


NOVA_CONTROL = (services.NOVA_API, services.NOVA_METADATA, services.NOVA_CONDUCTOR, services.NOVA_SCHEDULER)


def configure_nova(ctx: Context) -> None:
    ctx.configure("/etc/nova/nova.conf", with_stderr_logging(configs.nova(ctx.pw)))
    ctx.configure("/etc/nova/nova-compute.conf", configs.nova_compute())
    for ini in ("/etc/nova/nova-api-uwsgi.ini", "/etc/nova/nova-api-metadata-uwsgi.ini"):
        uwsgi_ini(ctx, ini)


def step_nova(ctx: Context) -> str:
    configure_nova(ctx)
    ensure_dirs("nova", "/var/lib/nova/tmp", "/var/lib/nova/instances")
    empty = empty_databases(ctx)
    manage = ["nova-manage"]
    if "nova_api" in empty:
        ctx.runner.run([*manage, "api_db", "sync"], user="nova")
        ctx.runner.run([*manage, "cell_v2", "map_cell0"], user="nova")
    if "cell1" not in cell_names(ctx):
        ctx.runner.run([*manage, "cell_v2", "create_cell", "--name=cell1"], user="nova")
    if "nova" in empty or "nova_cell0" in empty:
        ctx.runner.run([*manage, "db", "sync"], user="nova")
    notes = register(ctx, "compute")
    return ", ".join(notes + ctx.ensure_all(NOVA_CONTROL)) or "running"


def cell_names(ctx: Context) -> list[str]:
    sql = "SELECT name FROM nova_api.cell_mappings;"
    return ctx.runner.run(["mysql", "-u", "root", "-N", "-B", "-e", sql]).stdout.split()
