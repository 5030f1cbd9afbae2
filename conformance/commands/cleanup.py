"""`conformance cleanup`: sweep what killed runs left behind, by ledger, run tag and call attribution.

Exit 0 when everything found is gone (or would be, with --dry-run), 1 when any resource could not
be deleted (each named at the end), 2 for a usage error or a run that is still going.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from conformance.core.cleanup import Ledger
from conformance.core.errors import UsageError
from conformance.profile import load_profile
from conformance.run import liveness

DESCRIPTION = """\
Deletes what killed or kept runs left in the cloud: what their ledgers hold, what carries their run
tag, and what a CPI created in a create call that never answered usably (attributed by the run's
call journal: the call's time window plus its static IPs, stemcell, disk or size; a resource that
cannot be attributed is listed, never deleted). Dependents go first (a volume's snapshots and
attachments; a server's ports after the server), nothing is force-deleted, every wait uses the
profile's named timeouts. A run that is still going is refused (--run-id, exit 2) or skipped
(--older-than). Exit 1 when any resource could not be deleted, each named at the end."""


def register(subparsers) -> None:
    sweep = subparsers.add_parser("cleanup", help="remove cloud resources left by killed or kept runs",
                                  description=DESCRIPTION)
    sweep.add_argument("--profile", default="profiles/local.yml",
                       help="whose cloud to sweep (its clouds.yaml entry) and its timeouts")
    which = sweep.add_mutually_exclusive_group(required=True)
    which.add_argument("--run-id", help="only this run's resources (refused while the run is going)")
    which.add_argument("--older-than", help="runs started longer ago than this, e.g. 2h, 90m, 1d (live runs skipped)")
    sweep.add_argument("--report-dir", default="reports", help="where the runs' ledgers are (default: reports)")
    sweep.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    sweep.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    sweep.add_argument("--include-live", action="store_true",
                       help="sweep runs that are still going, or whose liveness cannot be told (another host)")
    sweep.set_defaults(func=cleanup)


def parse_age(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)\s*([smhd])", text.strip())
    if not match:
        raise UsageError(f"--older-than {text!r}: expected a number and a unit s, m, h or d (e.g. 2h)")
    seconds = int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return timedelta(seconds=seconds)


@dataclass
class Report:
    """What one cleanup found and did; printed as lines or as one JSON document."""

    run_ids: list[str] = field(default_factory=list)
    ledgers: list[str] = field(default_factory=list)
    leftovers: list = field(default_factory=list)  # sweep.Leftover, dependents included
    unattributed: list = field(default_factory=list)  # sweep.Leftover from unattributed findings
    failed: list = field(default_factory=list)  # (sweep.Leftover, why)
    deleted: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def doc(self) -> dict:
        return {"run_ids": self.run_ids, "ledgers": self.ledgers,
                "leftovers": [i.doc() for i in self.leftovers], "unattributed": [i.doc() for i in self.unattributed],
                "failed": [{"kind": i.kind, "id": i.id, "name": i.name, "error": why} for i, why in self.failed],
                "deleted": [i.doc() for i in self.deleted], "notes": self.notes}


def cleanup(args) -> int:
    age = parse_age(args.older_than) if args.older_than else None
    report_dir = Path(args.report_dir)
    if args.run_id is not None:
        _check_run_id(args.run_id)
    if args.run_id and not args.include_live and (refusal := _live(report_dir, args.run_id)):
        print(f"conformance cleanup: {refusal}: its resources are in use; refusing "
              "(--include-live sweeps it anyway)", file=sys.stderr)
        return 2
    report = Report(ledgers=[str(p) for p in sorted(report_dir.glob("*/ledger.jsonl"))])
    if args.run_id and not (report_dir / args.run_id / "ledger.jsonl").is_file():
        report.notes.append(f"no ledger of run {args.run_id} under {report_dir}: only resources carrying "
                            "the run tag can be found; resources a CPI named itself cannot")
    profile = load_profile(args.profile, resolve=True)
    if profile.cloud is None:
        raise UsageError(f"{args.profile}: cloud is null: nothing to sweep through the cloud API")
    return _sweep(args, report, profile, age)


def _check_run_id(run_id: str) -> None:
    if not _is_dir_name(run_id):
        raise UsageError(f"--run-id {run_id!r}: a run id is the name of a directory under --report-dir")


def _is_dir_name(text: str) -> bool:
    return bool(re.fullmatch(r"[\w.-]+", text)) and text not in (".", "..")


def _sweep(args, report: Report, profile, age: timedelta | None) -> int:
    from conformance.cloud import openstack, sweep

    conn = openstack.connect(profile.cloud, profile.region)
    chosen, windows = _choose(args, report, conn, age)
    for note in report.notes:
        print(f"conformance cleanup: {note}", file=sys.stderr)
    sweeper = sweep.Sweeper(conn, profile.timeouts)
    report.leftovers, report.failed = sweeper.plan(chosen)
    text = not args.json
    if text:
        print(f"{len(report.leftovers)} leftover(s) found ({len(report.ledgers)} ledger(s) read, project "
              f"searched for run tags, {len(windows)} unusable CPI call(s) checked)")
    if args.dry_run and text:
        for item in report.leftovers:
            print(f"would delete: {item.line()}")
    if not args.dry_run:
        outcome = sweeper.execute(report.leftovers, report.failed, _print_done if text else None)
        report.deleted, report.failed = outcome.deleted, outcome.failed
    if text:
        _print_end(report)
    else:
        print(json.dumps(report.doc(), indent=2))
    return 1 if report.failed else 0


def _choose(args, report: Report, conn, age: timedelta | None) -> tuple[list, list]:
    """The selected runs' leftovers (live runs skipped, with a note); fills run_ids, unattributed, notes."""
    from conformance.cloud import sweep

    leftovers, unattributed, windows = _found(conn, report.ledgers)
    chosen = sweep.select(leftovers, run_id=args.run_id, older_than=age)
    unknown = sweep.select(unattributed, run_id=args.run_id, older_than=age)
    if not args.include_live and not args.run_id:
        live = _live_runs(Path(args.report_dir), {i.run_id for i in chosen + unknown if i.run_id}, report.notes)
        chosen, unknown = [i for i in chosen if i.run_id not in live], [i for i in unknown if i.run_id not in live]
    report.run_ids = [args.run_id] if args.run_id else sorted({i.run_id or "?" for i in chosen + unknown})
    report.unattributed = unknown
    report.notes += [f"{w.label()} of run {w.run_id} may still be running in its CPI until "
                     f"{time.strftime('%H:%M:%S', time.localtime(w.end()))} (its timeout): what it creates after now "
                     "cannot be found yet; run cleanup again after that" for w in windows
                     if w.ended_at is None and w.end() > time.time() and w.run_id in report.run_ids]
    return chosen, windows


def _found(conn, ledgers: list[str]) -> tuple[list, list, list]:
    """(leftovers by ledger, tag and attribution; unattributed findings; the suspect calls checked)."""
    from conformance.cloud import attribution, sweep

    entries = [e for path in ledgers for e in Ledger.read(path)]
    tags = sweep.tagged(conn)
    windows = attribution.suspect_calls(entries)
    known = attribution.ledger_ids(entries) | {t.id for t in tags}
    findings = attribution.attribute(attribution.openstack_inventory(conn), windows, known) if windows else []
    unattributed = [sweep.Leftover(f.kind, f.id, f.name, f.run_id, "attribution", f.reason)
                    for f in findings if not f.attributed]
    return sweep.from_entries(entries) + tags + sweep.from_findings(findings), unattributed, windows


def _live(report_dir: Path, run_id: str) -> str | None:
    """Why run ``run_id`` counts as still going, or None."""
    found, mark = liveness.state(report_dir / run_id)
    if found == "alive":
        return f"run {run_id} is still going (pid {mark['pid']} on this host)"
    if found == "elsewhere":
        return (f"run {run_id} was started on host {mark.get('hostname')} (pid {mark.get('pid')}); liveness is "
                "unknown for other hosts, so it counts as still going")
    return None


def _live_runs(report_dir: Path, run_ids: set[str], notes: list[str]) -> set[str]:
    live = set()
    for run_id in sorted(run_ids):
        why = _live(report_dir, run_id) if _is_dir_name(run_id) else None
        if why:
            live.add(run_id)
            notes.append(f"skipping run {run_id}: {why} (--include-live sweeps it anyway)")
    return live


def _print_done(item, why: str | None) -> None:
    print(f"{'deleted' if why is None else 'failed'}: {item.line()}" + (f": {why}" if why else ""), flush=True)


def _print_end(report: Report) -> None:
    for item in report.unattributed:
        print(f"not deleted (cannot be attributed): {item.kind} {item.id}  {item.name or '-'}  "
              f"run={item.run_id}: {item.reason}")
    if report.unattributed:
        print(f"{len(report.unattributed)} resource(s) created during unusable CPI calls were left alone: "
              "check them by hand (they do not fail the cleanup)")
    if report.failed:
        print(f"conformance cleanup: {len(report.failed)} resource(s) could not be deleted:", file=sys.stderr)
    for item, why in report.failed:
        print(f"  {item.kind} {item.id} {item.name or '-'}: {why}", file=sys.stderr)
