"""Bring-up steps below OpenStack: packages, host bridges and safety rules, MariaDB, RabbitMQ,
memcached, and the databases. Each step looks before it acts, so a warm `up` only looks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from conformance.core.waiting import wait_for
from conformance.localcloud import hostnet, packages, services
from conformance.localcloud.config import DATABASES, POLL, RABBIT_READY_TIMEOUT
from conformance.localcloud.context import Context, StepFailed

MARIADB_CNF = Path("/etc/mysql/mariadb.conf.d/99-cpi-conformance.cnf")
MARIADB_SETTINGS = {
    "mysqld": {
        "bind-address": "127.0.0.1", "default-storage-engine": "innodb", "innodb_file_per_table": "on",
        "max_connections": 1024, "collation-server": "utf8_general_ci", "character-set-server": "utf8",
        "innodb_buffer_pool_size": "256M", "innodb_flush_log_at_trx_commit": 2, "innodb_doublewrite": 0,
    }
}  # fmt: skip


def step_packages(ctx: Context) -> str:
    installed = packages.install(ctx.runner, ctx.layout.debs)
    return f"installed {len(installed)} packages" if installed else "all present"


def step_hostnet(ctx: Context) -> str:
    return hostnet.ensure(ctx.runner) or "in place"


def step_mariadb(ctx: Context) -> str:
    ctx.configure(str(MARIADB_CNF), MARIADB_SETTINGS)
    if not Path("/var/lib/mysql/mysql").is_dir():  # purged: a fresh data directory
        ctx.runner.run(["mariadb-install-db", "--user=mysql", "--datadir=/var/lib/mysql",
                        "--auth-root-authentication-method=socket"])  # fmt: skip
    mysqld_run_dir()
    done = ctx.ensure_running(services.MARIADB)
    ctx.runner.run(["mysql", "-u", "root"], input=databases_sql(ctx))
    return f"mariadb {done}"


def mysqld_run_dir() -> None:
    """/run/mysqld, where mariadbd puts its socket (a tmpfs: gone after a reboot)."""
    run_dir = Path("/run/mysqld")
    run_dir.mkdir(exist_ok=True)
    shutil.chown(run_dir, "mysql", "mysql")


def databases_sql(ctx: Context) -> str:
    """Idempotent SQL: databases, users, passwords, grants (nova also on nova_api and nova_cell0)."""
    lines = []
    for user in sorted(set(DATABASES.values())):
        secret = ctx.pw[f"db_{user}"]
        for host in ("localhost", "%"):
            lines.append(f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{secret}';")
            lines.append(f"ALTER USER '{user}'@'{host}' IDENTIFIED BY '{secret}';")
    for db, user in DATABASES.items():
        lines.append(f"CREATE DATABASE IF NOT EXISTS {db};")
        for host in ("localhost", "%"):
            lines.append(f"GRANT ALL PRIVILEGES ON {db}.* TO '{user}'@'{host}';")
    return "\n".join(lines) + "\nFLUSH PRIVILEGES;\n"


def step_rabbitmq(ctx: Context) -> str:
    ctx.ensure_running(services.EPMD)
    done = ctx.ensure_running(services.RABBITMQ)
    ctl = ["rabbitmqctl", "-q"]
    if done != "running":
        wait_for(lambda: ctx.runner.ok([*ctl, "await_startup"]), timeout=RABBIT_READY_TIMEOUT,
                 interval=POLL * 2, what="RabbitMQ to finish starting")  # fmt: skip
    if ctx.runner.ok([*ctl, "authenticate_user", "openstack", ctx.pw["rabbit"]]):
        return f"rabbitmq {done}"
    if "openstack" not in ctx.runner.run([*ctl, "list_users"]).stdout.split():
        ctx.runner.run([*ctl, "add_user", "openstack", ctx.pw["rabbit"]])
    else:
        ctx.runner.run([*ctl, "change_password", "openstack", ctx.pw["rabbit"]])
    ctx.runner.run([*ctl, "set_permissions", "openstack", ".*", ".*", ".*"])
    return f"rabbitmq {done}"


def step_memcached(ctx: Context) -> str:
    return f"memcached {ctx.ensure_running(services.MEMCACHED)}"


def empty_databases(ctx: Context) -> set[str]:
    """Databases without tables: their service's `db sync` has not run yet (one query for all)."""
    sql = ("SELECT s.schema_name, COUNT(t.table_name) FROM information_schema.schemata s LEFT JOIN "
           "information_schema.tables t ON t.table_schema = s.schema_name GROUP BY s.schema_name;")  # fmt: skip
    out = ctx.runner.run(["mysql", "-u", "root", "-N", "-B", "-e", sql]).stdout
    counts = {name: int(n) for name, n in (line.split("\t") for line in out.splitlines() if line)}
    missing = {db for db in DATABASES if db not in counts}
    if missing:
        raise StepFailed(f"databases missing: {sorted(missing)} (the mariadb step creates them)")
    return {db for db in DATABASES if counts[db] == 0}


def ensure_dirs(owner: str, *paths: str) -> None:
    for path in paths:
        os.makedirs(path, exist_ok=True)
        shutil.chown(path, owner, owner)
