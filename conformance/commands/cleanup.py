"""`conformance cleanup`: sweep what killed runs left behind, by ledger and by run tag."""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from pathlib import Path

from conformance.errors import UsageError
from conformance.profile import load_profile


def register(subparsers) -> None:
    sweep = subparsers.add_parser("cleanup", help="remove cloud resources left by killed or kept runs")
    sweep.add_argument("--profile", default="profiles/local.yml", help="whose cloud to sweep (its clouds.yaml entry)")
    which = sweep.add_mutually_exclusive_group(required=True)
    which.add_argument("--run-id", help="only this run's resources")
    which.add_argument("--older-than", help="runs started longer ago than this, e.g. 2h, 90m, 1d")
    sweep.add_argument("--report-dir", default="reports", help="where the runs' ledgers are (default: reports)")
    sweep.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    sweep.set_defaults(func=cleanup)


def parse_age(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)\s*([smhd])", text.strip())
    if not match:
        raise UsageError(f"--older-than {text!r}: expected a number and a unit s, m, h or d (e.g. 2h)")
    seconds = int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return timedelta(seconds=seconds)


def cleanup(args) -> int:
    from conformance.cloud import inspector, sweep

    age = parse_age(args.older_than) if args.older_than else None
    profile = load_profile(args.profile, resolve=True)
    if profile.cloud is None:
        raise UsageError(f"{args.profile}: cloud is null: nothing to sweep through the cloud API")
    conn = inspector.connect(profile.cloud, profile.region)
    ledgers = sorted(Path(args.report_dir).glob("*/ledger.jsonl"))
    found = sweep.select(sweep.from_ledgers(ledgers) + sweep.tagged(conn), run_id=args.run_id, older_than=age)
    verb = "would delete" if args.dry_run else "deleting"
    print(f"{len(found)} leftover(s) found ({len(ledgers)} ledger(s) read, project searched for run tags)")
    failures = 0
    for item in found:
        print(f"{verb}: {item.line()}")
        if args.dry_run:
            continue
        try:
            sweep.delete(conn, item)
        except Exception as exc:  # go on with the others; report at the end
            failures += 1
            print(f"  failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 1 if failures else 0
