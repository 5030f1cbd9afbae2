"""`conformance local-cloud up | status | down`: the local real OpenStack (see notes/local-cloud.md)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from conformance.errors import UsageError
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
    return up.run_steps(Layout(args.state_dir), steps)


def handle_status(args: argparse.Namespace) -> int:
    from conformance.localcloud import status

    return status.run(Layout(args.state_dir))


def handle_down(args: argparse.Namespace) -> int:
    require_root()
    from conformance.localcloud import teardown

    return teardown.run(Layout(args.state_dir), purge=args.purge)
