"""`conformance nightly`: the release matrix in one command.

    conformance nightly PROFILE... [-n N] [-k EXPR] [-m EXPR] [--witnesses W] [--report-dir reports] [--output reports/matrix]

Runs `conformance run` once per profile, one after another (they share the cloud and the machine's
cores), each in a process of its own, so that a failure, a crash or a usage error in one release's run
does not stop the others; then merges every run folder that was made into the release x capability
matrix (`conformance report merge`). Prints one line per profile with its exit code and run folder,
then the matrix's paths. Exit code: 0 when every run exited 0, 1 when any run failed or made no run
folder, 2 for a usage error of this command itself (no profile, a profile file that does not exist).
Ctrl-C stops the current run (which cleans up after itself) and the matrix is merged from what ran.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from conformance.core.errors import UsageError


def wait_passing_signals(child: subprocess.Popen) -> int:
    """Wait for a run to its end, whatever arrives meanwhile: Ctrl-C reaches the run from the terminal
    itself (same process group) and SIGTERM is passed on to it, so the run cleans up after itself and
    says so; this process never kills it (killing it would leave its cloud resources behind)."""
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: child.send_signal(signum))
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue  # the run got the same SIGINT; it ends with 130 once it has cleaned up
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass
class Outcome:
    profile: str
    code: int
    run_dir: Path | None
    seconds: float

    def line(self) -> str:
        where = self.run_dir if self.run_dir else "no run folder"
        return f"conformance nightly: {self.profile}: exit {self.code} in {self.seconds:.0f}s: {where}"


def register(subparsers) -> None:
    nightly = subparsers.add_parser(
        "nightly", help="run the suite once per profile (release), then merge the runs into a matrix",
        description=__doc__.split("\n\n")[1] if __doc__ else None)
    nightly.add_argument("profiles", nargs="+", metavar="PROFILE", help="profile files, one run each, in this order")
    nightly.add_argument("-n", "--numprocesses", default=None, help="pytest-xdist workers for each run")
    nightly.add_argument("-k", dest="keyword", default=None, help="pytest -k expression, for every run (a subset)")
    nightly.add_argument("-m", dest="markexpr", default=None, help="pytest -m expression, for every run")
    nightly.add_argument("--witnesses", default=None, help="as `conformance run --witnesses`, for every run")
    nightly.add_argument("--report-dir", default="reports")
    nightly.add_argument("--output", default=None, help="where the matrix goes (default: REPORT_DIR/matrix-<time>)")
    nightly.set_defaults(func=handle)


def handle(args) -> int:
    missing = [p for p in args.profiles if not Path(p).is_file()]
    if missing:
        raise UsageError(f"nightly: no such profile file: {', '.join(missing)}")
    outcomes: list[Outcome] = []
    interrupted = False
    for profile in args.profiles:
        outcome = run_one(profile, args)
        outcomes.append(outcome)
        print(outcome.line(), flush=True)
        if outcome.code in (130, 143):  # the user stopped it: no further release
            interrupted = True
            break
    made = [o.run_dir for o in outcomes if o.run_dir]
    if made:
        from conformance.report import matrix

        output = args.output or str(Path(args.report_dir) / f"matrix-{time.strftime('%Y%m%dt%H%M%S')}")
        for path in matrix.write_matrix(made, output):
            print(path)
    else:
        print("conformance nightly: no run made a run folder: no matrix", file=sys.stderr)
    if interrupted:
        return 130
    return 0 if outcomes and all(o.code == 0 and o.run_dir for o in outcomes) else 1


def run_options(args) -> list[str]:
    """`conformance run` options for every profile of the nightly (-n, -k, -m, --witnesses)."""
    options = []
    for flag, value in (("-n", args.numprocesses), ("-k", args.keyword), ("-m", args.markexpr),
                        ("--witnesses", args.witnesses)):
        if value:
            options += [flag, str(value)]
    return options


def run_one(profile: str, args) -> Outcome:
    return run_conformance(profile, Path(args.report_dir), run_options(args), label="conformance nightly")


def run_conformance(profile: str, report_dir: Path, options: list[str], label: str) -> Outcome:
    """One `conformance run`, its own process, waited for to its end (signals passed on, never killed);
    its run folder is the one it made (with a results.json). Also what scripts/bench-suite runs."""
    report_dir.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in report_dir.iterdir()}
    argv = [sys.executable, "-m", "conformance.cli", "run", "--profile", profile, "--report-dir", str(report_dir),
            *options]
    print(f"{label}: {profile}: {' '.join(argv[3:])}", flush=True)
    started = time.monotonic()
    code = wait_passing_signals(subprocess.Popen(argv, stdin=subprocess.DEVNULL))
    new = sorted((p for p in report_dir.iterdir() if p.name not in before and (p / "results.json").is_file()),
                 key=lambda p: p.stat().st_mtime)
    return Outcome(profile, code, new[-1] if new else None, time.monotonic() - started)
