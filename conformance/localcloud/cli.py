"""`conformance local-cloud up | status | down`: the local real OpenStack (see notes/local-cloud.md)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from conformance.core.errors import UsageError
from conformance.localcloud.layout import DEFAULT_STATE_DIR, Layout


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "local-cloud", help="bring the local single-node OpenStack up, check it, take it down"
    )
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                        help=f"pid files, logs, passwords, facts (default {DEFAULT_STATE_DIR})")  # fmt: skip
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="install, configure and start everything (idempotent)")
    up.add_argument("--only", metavar="STEP", action="append", default=[],
                    help="run only this step (repeatable); for debugging a bring-up")  # fmt: skip
    up.set_defaults(func=handle_up)
    status = actions.add_parser("status", help="check every service process and endpoint")
    status.set_defaults(func=handle_status)
    down = actions.add_parser("down", help="stop what `up` started, remove its bridges and rules")
    down.add_argument("--purge", action="store_true",
                      help="also remove databases, Ceph data and the state dir (packages stay)")  # fmt: skip
    down.set_defaults(func=handle_down)


LOCK_WAIT = 1800.0  # seconds an `up`/`down` waits for another one to finish


@contextlib.contextmanager
def exclusive(layout: Layout, what: str):
    """One `up` or `down` at a time: two would both start a daemon, and its pid file would name
    only one of them. The lock sits beside the state directory, which a purge removes."""
    from filelock import FileLock, Timeout

    path = layout.root.parent / f"{layout.root.name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"local-cloud {what}: waiting for another local-cloud up/down to finish (lock {path})",
              file=sys.stderr, flush=True)  # fmt: skip
        try:
            lock.acquire(timeout=LOCK_WAIT)
        except Timeout:
            raise UsageError(f"another local-cloud up/down still holds {path} after {LOCK_WAIT:g}s") from None
    try:
        yield
    finally:
        lock.release()


def require_root() -> None:
    if os.geteuid() != 0:
        raise UsageError("local-cloud must run as root (it installs packages and starts daemons)")


def handle_up(args: argparse.Namespace) -> int:
    require_root()
    from conformance.localcloud import up

    steps = up.STEPS
    if args.only:
        known = {name for name, _ in up.STEPS}
        unknown = [s for s in args.only if s not in known]
        if unknown:
            raise UsageError(f"unknown step(s) {unknown}; steps: {', '.join(n for n, _ in up.STEPS)}")
        steps = tuple(s for s in up.STEPS if s[0] in args.only)
    layout = Layout(args.state_dir)
    with exclusive(layout, "up"):
        return up.run_steps(layout, steps)


def handle_status(args: argparse.Namespace) -> int:
    from conformance.localcloud import status

    return status.run(Layout(args.state_dir))


def handle_down(args: argparse.Namespace) -> int:
    require_root()
    from conformance.localcloud import teardown

    layout = Layout(args.state_dir)
    with exclusive(layout, "down"):
        return teardown.run(layout, purge=args.purge)
