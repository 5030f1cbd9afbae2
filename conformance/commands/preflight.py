"""`conformance preflight --profile FILE`: what this machine (the test runner) needs for the profile's
tests, each check with its status; exit 2 when something is missing. No cloud call.

The same checks `conformance run` makes before its first cloud call (conformance/run/preflight.py):
for every test the profile enables, not a -k/-m selection.
"""

from __future__ import annotations

from conformance.profile import load_profile
from conformance.run import preflight


def register(subparsers) -> None:
    parser = subparsers.add_parser("preflight", help="check what this machine needs to run a profile's tests "
                                                     "(no cloud call)")
    parser.add_argument("--profile", required=True, help="target profile (profiles/*.yml)")
    parser.add_argument("--report-dir", default="reports", help="the report folder a run would use (default: reports)")
    parser.set_defaults(func=run_preflight)


def run_preflight(args) -> int:
    profile = load_profile(args.profile, resolve=True)  # ProfileError -> exit 2 via the CLI
    found = preflight.checks(profile, report_dir=args.report_dir)
    for check in found:
        print(check.row())
    bad = sum(c.status == "missing" for c in found)
    print(f"conformance preflight: {args.profile}: {len(found)} check(s), "
          + (f"{bad} missing" if bad else "nothing missing"))
    return 2 if bad else 0
