"""`conformance run`: a thin wrapper over pytest with the plugin, writing reports/<run id>/."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from conformance.core.errors import UsageError
from conformance.core.naming import new_run_id
from conformance.profile import load_profile
from conformance.run import liveness, preflight

DEFAULT_PROFILE = "profiles/local.yml"
SUITES = Path(__file__).resolve().parents[1] / "suites"


def register(subparsers) -> None:
    run = subparsers.add_parser("run", help="run the conformance suites against a profile's cloud and CPI")
    run.add_argument("--profile", default=None,
                     help=f"target profile (default: {DEFAULT_PROFILE}, the local cloud)")
    run.add_argument("-n", "--numprocesses", default=None, help="pytest-xdist workers (e.g. 2, auto)")
    run.add_argument("-k", dest="keyword", default=None, help="pytest -k expression")
    run.add_argument("-m", dest="markexpr", default=None, help="pytest -m expression")
    run.add_argument("--report-dir", default="reports", help="where reports/<run id>/ goes (default: reports)")
    run.add_argument("--run-id", default=None, help="reuse a run id (default: a new one)")
    run.add_argument("--witnesses", default=None, metavar="NAMES",
                     help="the cloud witnesses of this run instead of the profile's: openstack, libvirt "
                          "(comma-separated), or none")
    run.add_argument("--prepare-ahead", type=int, default=None, metavar="N",
                     help="VMs created ahead of the tests that boot them, at once, instead of the profile's "
                          "vm.prepare_ahead (0: each VM is booted when its test asks: a cloud with a tight quota)")
    run.add_argument("--keep-on-failure", action="store_true",
                     help="keep a failed test's resources (listed in the ledger; `conformance cleanup` removes them)")
    run.add_argument("--certify", action="store_true",
                     help="certification run: full suite, no known-failure overrides, no -k/-m")
    run.add_argument("--last-failed", action="store_true",
                     help="rerun only the failed and errored tests of the newest run under --report-dir "
                          "(the newest run folder with a results.json)")
    run.add_argument("pytest_args", nargs="*", help="further pytest arguments (after --)")
    run.set_defaults(func=run_suite)


def pytest_argv(args, run_id: str, profile_path: str, tests: list[str] | None = None,
                profile_name: str = "conformance") -> list[str]:
    """pytest's arguments: the suites (of which only ``tests``, node ids, run when given), our options
    in their --cfm- spellings (a short one may belong to another plugin: pytest-profiling's --profile).
    junit.xml names its suite and prefixes its classnames with the profile's name, so that nightly
    runs of several profiles do not collide in a CI system."""
    report = Path(args.report_dir) / run_id
    argv = [str(SUITES), "--cfm-profile", profile_path, "--cfm-run-id", run_id,
            "--cfm-report-dir", args.report_dir,
            "--strict-markers", "-p", "no:cacheprovider", "--rootdir", str(SUITES.parent),
            # The suite's order is part of it: module-scoped VMs boot once per module and the
            # lifecycle tests build on each other. pytest-randomly, if installed, would shuffle it.
            "-p", "no:randomly",
            "-c", str(SUITES / "pytest.ini"), "-ra",
            f"--junitxml={report / 'junit.xml'}", f"--junit-prefix={profile_name}",
            "-o", f"junit_suite_name=cpi-conformance {profile_name}", f"--alluredir={report / 'allure-results'}"]
    for flag, value in (("-n", args.numprocesses), ("-k", args.keyword), ("-m", args.markexpr)):
        if value:
            argv += [flag, value]
    if args.numprocesses:
        # a module's tests stay on one worker, planned so that each worker knows its tests and
        # prepares their VMs ahead (conformance.run.schedule)
        argv += ["--dist", "loadscope"]
    if args.witnesses:
        argv += ["--cfm-witnesses", args.witnesses]
    if args.prepare_ahead is not None:
        argv += ["--cfm-prepare-ahead", str(args.prepare_ahead)]
    if args.keep_on_failure:
        argv.append("--cfm-keep-on-failure")
    if args.certify:
        argv.append("--cfm-certify")
    for nodeid in tests or ():  # the whole suite is collected, these run, in its order
        argv += ["--cfm-only", nodeid]
    return argv + list(args.pytest_args)


def run_suite(args) -> int:
    profile_path = args.profile or DEFAULT_PROFILE
    if args.profile is None and not Path(profile_path).exists():
        print(f"conformance run: no --profile given and {DEFAULT_PROFILE} is not here "
              "(run from the repository, or pass --profile)", file=sys.stderr)
        return 2
    profile = load_profile(profile_path, resolve=True)  # ProfileError -> exit 2 before any cloud call
    if args.witnesses:
        profile = profile.with_witnesses(args.witnesses)
    if args.prepare_ahead is not None:
        profile = profile.with_prepare_ahead(args.prepare_ahead)
    tests = selection(args)
    if tests == []:
        return 0
    if args.run_id and (problem := liveness.reuse_problem(Path(args.report_dir) / args.run_id)):
        raise UsageError(f"--run-id {args.run_id}: {problem}")
    if not runner_ready(profile, args.report_dir):
        return 2
    run_id = args.run_id or new_run_id()
    report = Path(args.report_dir) / run_id
    print(f"conformance run {run_id}: profile {profile_path}, report folder {report}", flush=True)
    code = run_pytest(pytest_argv(args, run_id, profile_path, tests, profile_name=profile.name))
    with _unread_output():
        _finish_report(report)
    with _unread_output():
        print(f"\nconformance run {run_id}: {counts(report)}pytest exit code {int(code)}; report: {report.resolve()}",
              flush=True)
    return int(code)


@contextlib.contextmanager
def _unread_output():
    """Nobody reads our output any more (the reader of a pipe died: a CI log collector, `| head`):
    the run's end goes on, its exit code stays pytest's, and the rest of what it says goes nowhere."""
    try:
        yield
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                os.dup2(devnull, stream.fileno())
        os.close(devnull)


def counts(report: Path) -> str:
    """"44 passed, 1 skipped of 45 in 331s; " from the run's results.json ("" without one)."""
    try:
        doc = json.loads((report / "results.json").read_text())
        tests = doc["tests"]
        found: dict[str, int] = {}
        for test in tests:
            found[test["outcome"]] = found.get(test["outcome"], 0) + 1
        took = float(doc["finished_at"]) - float(doc["started_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return f"{', '.join(f'{n} {outcome}' for outcome, n in sorted(found.items()))} of {len(tests)} in {took:.0f}s; "


def selection(args) -> list[str] | None:
    """The node ids to run (--last-failed; [] when there is nothing to rerun), None for the suite."""
    if {"--lf", "--last-failed", "--ff", "--failed-first"} & set(args.pytest_args):
        raise UsageError("pytest's cache is off in a conformance run (-p no:cacheprovider): "
                         "rerun a run's failures with `conformance run --last-failed`")
    if not args.last_failed:
        return None
    if args.certify:
        raise UsageError("--last-failed reruns a selection: --certify runs the full suite")
    return last_failed(args.report_dir)


def last_failed(report_dir: str) -> list[str]:
    """The node ids of the failed and errored tests of the newest run under ``report_dir`` (the run
    folder whose results.json was written last); says which run and how many."""
    runs = sorted(Path(report_dir).glob("*/results.json"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise UsageError(f"--last-failed: no run folder under {report_dir} holds a results.json: nothing to rerun")
    results = runs[-1]
    try:
        doc = json.loads(results.read_text(encoding="utf-8"))
        nodeids = [t["nodeid"] for t in doc["tests"] if t.get("outcome") in ("failed", "error")]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--last-failed: {results} is not a readable results.json ({exc})") from None
    run = f"run {doc.get('run_id') or results.parent.name} ({results.parent})"
    if not nodeids:
        print(f"conformance run: --last-failed: {run} has no failed or errored test: nothing to rerun")
        return []
    print(f"conformance run: --last-failed: rerunning {len(nodeids)} failed or errored test(s) of {run}")
    return nodeids


def runner_ready(profile, report_dir: str) -> bool:
    """The runner preflight, before the first cloud call: every problem on its own line (stderr);
    False when something is missing (warnings are said and the run goes on)."""
    found = preflight.problems(preflight.checks(profile, report_dir=report_dir))
    for check in found:
        print(f"conformance run: {check.line()}", file=sys.stderr)
    return not any(c.status == "missing" for c in found)


def run_pytest(argv: list[str]) -> int:
    """pytest in a child process (so assertion rewriting sees a fresh interpreter) and in a process
    group of its own: a terminal's Ctrl-C reaches only this process, which passes SIGINT and SIGTERM
    on exactly once (pytest counts a second one as "stop waiting for cleanups"). pytest then stops
    its tests, runs every cleanup and exits 130 / 143 (conformance.run.interrupts)."""
    child = subprocess.Popen([sys.executable, "-m", "pytest", *argv], process_group=0)

    def forward(signum, _frame):
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _finish_report(report: Path) -> None:
    """Render the human reports when the report package is there (it is optional for a run)."""
    try:
        from conformance.report import build
    except ImportError:
        return
    if os.environ.get("CONFORMANCE_NO_REPORT") != "1" and hasattr(build, "render_run"):
        build.render_run(report)
