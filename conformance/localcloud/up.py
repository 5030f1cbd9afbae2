"""`conformance local-cloud up`: the steps in order, each timed, each with its own log.

    [ 3/15] rabbitmq ............ 11.2s ok  rabbitmq started
    [ 9/15] nova-compute ........ 40.1s FAILED
            nova-compute to report up: timed out after 240s ... (log: .../logs/nova-compute.log)
            | <last lines of that log, passwords masked>

A step that fails stops the run; `up` again resumes (every step looks before it acts).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from conformance.core.errors import ConformanceError
from conformance.localcloud import facts, resources, steps_compute, steps_control, steps_infra, steps_storage
from conformance.localcloud.config import (
    API_TIMEOUT,
    CLOUDS_YAML,
    KEYSTONE_URL,
    REGION,
    TEST_PROJECT,
    TEST_USER,
)
from conformance.localcloud.context import Context, StepFailed
from conformance.localcloud.layout import Layout, write_private
from conformance.localcloud.passwords import Passwords
from conformance.localcloud.procs import CommandFailed, Runner, tail_file
from conformance.localcloud.surfaces import wiring as surfaces


def step_project(ctx: Context) -> str:
    admin = ctx.admin()
    notes = resources.ensure_test_project(admin, ctx.pw["test_user"])
    conn = test_connection(ctx.pw["test_user"])
    notes += resources.ensure_project_resources(admin, conn, ensure_ssh_key(ctx.layout))
    return ", ".join(notes) or "all present"


def step_facts(ctx: Context) -> str:
    clouds_yaml = Path(os.environ.get("CONFORMANCE_CLOUDS_YAML", CLOUDS_YAML))
    changed = facts.write_all(ctx.layout, clouds_yaml, ctx.pw["admin"], ctx.pw["test_user"])
    return (f"wrote {', '.join(changed)}" if changed else "unchanged") + f"; clouds.yaml: {clouds_yaml}"


def test_connection(password: str):
    import openstack

    return openstack.connect(
        auth_url=KEYSTONE_URL, username=TEST_USER, password=password, project_name=TEST_PROJECT,
        user_domain_name="Default", project_domain_name="Default", region_name=REGION,
        load_yaml_config=False, load_envvars=False, api_timeout=API_TIMEOUT,
    )  # fmt: skip


def ensure_ssh_key(layout: Layout) -> str:
    """RSA (safe for paramiko and old Nova); private key 0600 in the state dir. Returns the public key."""
    import paramiko

    key_path, pub_path = layout.ssh_private_key, layout.ssh_private_key.with_suffix(".pub")
    if not key_path.exists():
        key = paramiko.RSAKey.generate(3072)
        key.write_private_key_file(str(key_path))
        os.chmod(key_path, 0o600)
    key = paramiko.RSAKey.from_private_key_file(str(key_path))
    public = f"ssh-rsa {key.get_base64()} cfm-conformance@localcloud\n"
    write_private(pub_path, public, mode=0o644)
    return public


Step = tuple[str, Callable[[Context], str]]
STEPS: tuple[Step, ...] = (
    ("packages", steps_infra.step_packages),
    ("host network", steps_infra.step_hostnet),
    ("mariadb", steps_infra.step_mariadb),
    ("rabbitmq", steps_infra.step_rabbitmq),
    ("memcached", steps_infra.step_memcached),
    ("keystone", steps_control.step_keystone),
    ("glance", steps_control.step_glance),
    ("placement", steps_control.step_placement),
    ("nova", steps_control.step_nova),
    ("nova-compute", steps_compute.step_compute),
    ("neutron", steps_compute.step_neutron),
    ("ceph", steps_storage.step_ceph),
    ("cinder", steps_storage.step_cinder),
    ("test project", step_project),
    ("facts", step_facts),
    ("surfaces", surfaces.step_surfaces),  # Liberty, Mitaka, Newton API surfaces (docs/surfaces.md)
)


def slug(name: str) -> str:
    return "step-" + name.replace(" ", "-")


def run_steps(layout: Layout, steps: tuple[Step, ...] = STEPS, out=sys.stdout) -> int:
    layout.create()
    ctx = Context(layout, Passwords.load_or_create(layout.secrets))
    started = time.monotonic()
    for index, (name, func) in enumerate(steps, 1):
        ctx.runner = Runner(layout.log(slug(name)), ctx.pw.redact)
        ctx.reset_connection()  # a new token: the catalog grows step by step
        prefix = f"[{index:2d}/{len(steps)}] {name} ".ljust(28, ".")
        print(prefix, end=" ", flush=True, file=out)
        t0 = time.monotonic()
        try:
            note = func(ctx)
        except Exception as exc:  # any failure of a step is reported the same way, then we stop
            print(f"{time.monotonic() - t0:6.1f}s FAILED", file=out)
            if not isinstance(exc, ConformanceError):
                ctx.runner.note(traceback.format_exc())
            report_failure(ctx, name, exc, out)
            return 1
        print(f"{time.monotonic() - t0:6.1f}s ok  {ctx.pw.redact(note or '')}", file=out, flush=True)
    print(f"local cloud up in {time.monotonic() - started:.1f}s; facts: {layout.facts}", file=out)
    return 0


def report_failure(ctx: Context, name: str, exc: BaseException, out) -> None:
    """Which step, why (one line), and the tail of the log that explains it, passwords masked."""
    log = getattr(exc, "log", None) or ctx.layout.log(slug(name))
    print(f"        step '{name}' failed: {ctx.pw.redact(str(exc))}", file=out)
    detail = exc.tail if isinstance(exc, CommandFailed) else tail_file(Path(log), 25, ctx.pw.redact)
    for line in detail.splitlines():
        print(f"        | {line}", file=out)
    print(f"        log: {log}", file=out)


__all__ = ["STEPS", "run_steps", "StepFailed"]
