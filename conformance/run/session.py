"""One conformance run inside pytest: the resolved profile, the run id, the report folder, the
ledger, the CPI client, and the fixtures and per-test hooks built from them. Imported by
conformance.run.plugin inside its hooks and registered as a plugin module only when ``--profile`` is
given."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conformance.core.cleanup import CleanupStack, Ledger
from conformance.core.errors import ProfileError
from conformance.core.jsonl import JsonlFile
from conformance.core.naming import Names, new_run_id
from conformance.cpi.client import CpiClient
from conformance.profile import STATIC_IPS_PER_WORKER, Profile, addresses, load_profile
from conformance.profile.resolve import render_cpi_command
from conformance.report import allure_steps
from conformance.run import casing, liveness, requirements
from conformance.run.interrupts import Interrupts

OUTCOME = pytest.StashKey[dict]()
#: The CPI methods that create cloud resources: each call is journaled in the ledger when it starts
#: and when it ends, so that what a call created without a usable answer can be found and attributed.
CREATING = ("create_stemcell", "create_vm", "create_disk", "snapshot_disk")


@dataclass
class RunState:
    profile: Profile
    run_id: str
    report_dir: Path
    worker: str
    workers: int
    keep_on_failure: bool
    private_dir: Path
    ledger: Ledger = field(init=False)
    calls: JsonlFile = field(init=False)
    session_errors: JsonlFile = field(init=False)
    interrupts: Interrupts | None = None
    current: str = "session"
    records: dict[str, list] = field(default_factory=dict)
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def __post_init__(self):
        self.ledger = Ledger(self.report_dir / "ledger.jsonl", self.run_id, self.worker)
        self.calls = JsonlFile(self.report_dir / "calls.jsonl")
        self.session_errors = JsonlFile(self.report_dir / "session-errors.jsonl")

    def cut_short(self) -> bool:
        """A second interrupt came: cleanup stacks leave their remaining steps to `conformance cleanup`."""
        return bool(self.interrupts and self.interrupts.cut_short())

    def say(self, text: str) -> None:
        if self.interrupts:
            self.interrupts.say(f"{self.worker}: {text}")

    def cleanup_step(self, description: str, outcome: str) -> None:
        """After an interrupt, each cleanup step is said as it ends (the user sees the run clean up)."""
        if self.interrupts and self.interrupts.signum:
            self.interrupts.say(f"{self.worker}: cleanup: {description}: {outcome}")

    def new_stack(self) -> CleanupStack:
        return CleanupStack(self.ledger, stop=self.cut_short, on_step=self.cleanup_step)

    def call_started(self, method: str, request_id: str, arguments: list, timeout: float) -> None:
        if method in CREATING:
            self.ledger.record("call-started", "call", request_id, method=method, timeout=timeout,
                               hints=call_hints(method, arguments))

    def worker_index(self) -> int:
        return int(self.worker[2:]) if self.worker.startswith("gw") else 0

    def attribute_calls_to(self, nodeid: str | None) -> None:
        """The calls of this thread belong to ``nodeid`` and are marked as made ahead of that test
        (a VM prepared for it: conformance.run.prepare); None: to the running test again."""
        self._local.nodeid = nodeid

    def record_call(self, record) -> None:
        if record.method in CREATING:
            outcome = "interrupted" if record.outcome == "pending" else record.outcome
            self.ledger.record("call-ended", "call", record.request_id, method=record.method, outcome=outcome,
                               usable=outcome == "ok", result_id=_cid(record.result) if outcome == "ok" else None)
        owner = getattr(self._local, "nodeid", None)
        record.ahead = owner is not None
        nodeid = owner or self.current
        self.records.setdefault(nodeid, []).append(record)
        self.calls.append({"nodeid": nodeid, "worker": self.worker, **record.to_dict()})
        if owner is None:  # a call made ahead gets its allure step when its test claims the VM
            allure_steps.record_call(record)


STATE = pytest.StashKey[RunState]()


def _cid(result) -> str | None:
    """The cid a creating call answered with (create_vm v2 answers [cid, networks])."""
    if isinstance(result, list) and result:
        result = result[0]
    return result if isinstance(result, str) else None


def call_hints(method: str, arguments: list) -> dict:
    """What a creating call asked for that its resources would show (by the Director's argument
    order): the stemcell and static IPs of create_vm, the size of create_disk, the disk of
    snapshot_disk. Read by conformance.cloud.attribution."""
    args = list(arguments) + [None] * 6
    if method == "create_vm":
        networks = args[3] if isinstance(args[3], dict) else {}
        ips = [net["ip"] for net in networks.values() if isinstance(net, dict) and net.get("ip")]
        return {"agent_id": args[0], "stemcell_cid": args[1], "ips": ips}
    if method == "create_disk":
        return {"size_mib": args[0], "vm_cid": args[2]}
    if method == "snapshot_disk":
        return {"disk_cid": args[0]}
    return {}


def configure(config) -> RunState:
    path = config.getoption("cfm_profile")
    try:
        profile = load_profile(path, resolve=True)
        if config.getoption("cfm_witnesses"):
            profile = profile.with_witnesses(config.getoption("cfm_witnesses"))
        if config.getoption("cfm_prepare_ahead") is not None:
            profile = profile.with_prepare_ahead(config.getoption("cfm_prepare_ahead"))
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    workerinput = getattr(config, "workerinput", {})
    run_id = workerinput.get("cfm_run_id") or config.getoption("cfm_run_id") or new_run_id()
    # from xdist's workerinput, not its environment variables, which leak into a pytest run inside a test
    workers = int(workerinput.get("workercount") or config.getoption("numprocesses", None) or 1)
    _check_pool_sizes(profile, workers)
    report_dir = Path(config.getoption("cfm_report_dir")) / run_id
    if not workerinput:  # xdist workers join the controller's run under its id: only it checks
        problem = liveness.reuse_problem(report_dir)
        if problem:
            raise pytest.UsageError(f"--run-id {run_id}: {problem}")
    report_dir.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix=f"cfm-{run_id}-"))  # 0700: the rendered CPI config lives here
    state = RunState(profile, run_id, report_dir, workerinput.get("workerid", "main"), workers,
                     config.getoption("cfm_keep_on_failure"), private)
    config.add_cleanup(lambda: shutil.rmtree(private, ignore_errors=True))
    if not workerinput:  # the run's main process: `conformance cleanup` refuses this run while it lives
        liveness.mark(report_dir)
        config.add_cleanup(lambda: liveness.clear(report_dir))
    return state


def _check_pool_sizes(profile: Profile, workers: int) -> None:
    for i, net in enumerate(profile.networks.manual):
        have, need = len(net.static_pool()), STATIC_IPS_PER_WORKER * workers
        if have < need:
            raise pytest.UsageError(f"{profile.source}: networks.manual[{i}].static_ips: {have} address(es) "
                                    f"for {workers} xdist worker(s): the suite needs {need}")


def cpi_command(state: RunState) -> list[str]:
    profile = state.profile
    command = profile.command_with_dirs()
    if profile.cpi_config_doc is None:
        return command
    return render_cpi_command(command, profile.cpi_config_doc, state.private_dir)


def apply_profile_marks(config, items) -> None:
    """requires -> skip with the profile key; known_failures -> strict xfail; --certify rules."""
    state = config.stash[STATE]
    profile = state.profile
    if config.getoption("cfm_certify"):
        _check_certify(config, profile)
    every = config.getini("conformance_require_case_ids")
    for item in items:
        if not (every or casing.is_suite_item(item)):
            continue
        needs = [r for m in item.iter_markers("requires") for r in m.args]
        reason = requirements.first_unmet(profile, needs)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))
        bug = profile.known_failures.get(casing.case_id(item) or "")
        if bug:
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"known failure: {bug}"))


def _check_certify(config, profile: Profile) -> None:
    if profile.known_failures:
        raise pytest.UsageError("--certify refuses known_failures overrides: empty the profile's known_failures")
    if config.getoption("keyword") or config.getoption("markexpr"):
        raise pytest.UsageError("--certify runs the full suite: -k and -m are refused")


def failed(item) -> bool:
    return any(rep.failed for rep in item.stash.get(OUTCOME, {}).values())


# The run's fixtures and per-test hooks: plain module-level functions (no instance methods, which
# pytest 10 refuses for session-scoped fixtures). plugin.pytest_configure registers this module as
# the plugin "conformance-fixtures" only with --profile; everything reaches the run's state through
# config.stash[STATE] (the ``run`` fixture).


@pytest.fixture(scope="session")
def run(pytestconfig) -> RunState:
    return pytestconfig.stash[STATE]


@pytest.fixture(scope="session")
def profile(run) -> Profile:
    return run.profile


@pytest.fixture(scope="session")
def names(run) -> Names:
    return Names(run.run_id, run.worker)


@pytest.fixture(scope="session")
def static_ips(run):
    """This worker's slice of each manual network's static pool (by network name)."""
    return {net.name: addresses.partition(net.static_pool(), run.workers, run.worker_index())
            for net in run.profile.networks.manual}


@pytest.fixture(scope="session")
def cpi(run) -> CpiClient:
    profile = run.profile
    return CpiClient(cpi_command(run), api_version=profile.cpi.api_version, env=profile.cpi.env,
                     secrets=profile.secrets, timeout=profile.timeouts.cpi_call,
                     method_timeouts=profile.cpi.method_timeouts, on_record=run.record_call,
                     on_start=run.call_started, director_uuid=director_uuid(run.run_id))


def director_uuid(run_id: str) -> str:
    """One Director per run, as in a real deployment: every worker sends the same uuid."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cpi-conformance:{run_id}"))


@pytest.fixture
def cleanup(request, run):
    stack = run.new_stack()
    yield stack
    _finish(run, stack, request.node)


@pytest.fixture(scope="module")
def module_cleanup(request, run):
    stack = run.new_stack()
    yield stack
    _finish(run, stack, request.node)


def _finish(state: RunState, stack: CleanupStack, node) -> None:
    items = [node] if isinstance(node, pytest.Item) else list(getattr(node, "_cfm_items", []))
    if state.keep_on_failure and any(failed(i) for i in items):
        stack.abandon("--keep-on-failure")
        return
    stack.run()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item):
    state = item.config.stash[STATE]
    state.current = item.nodeid
    if item.parent is not None:
        item.parent._cfm_items = [*getattr(item.parent, "_cfm_items", []), item]
    with _phase(state, "test"):
        if state.interrupts:
            state.interrupts.check_marker()
        try:
            return (yield)
        finally:  # a skip or an error in setup keeps its labels too
            _label(item, state.profile)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item):
    state = item.config.stash[STATE]
    with _phase(state, "cleanup"):
        try:
            return (yield)
        finally:
            reap_after(state, item.nodeid)


def reap_after(state: RunState, nodeid: str) -> None:
    """After a test whose creating CPI calls gave no usable answer: what they made anyway (found by
    conformance.cloud.attribution) is removed through the cloud API at once, so that it cannot
    hold a static IP or a quota that a later test of the run needs. Recorded in the ledger as
    "reaped" (results.json's cleanup.swept); never raises: the end of the run tries again."""
    profile = state.profile
    unusable = [r.request_id for r in state.records.get(nodeid, []) if r.method in CREATING and r.outcome != "ok"]
    if not unusable or not profile.cloud_api or state.cut_short():
        return
    from conformance.cloud import openstack, sweep
    from conformance.core.waiting import spent

    try:
        with spent("cloud"):  # looking in the cloud and deleting there: the test waits on the cloud
            conn = openstack.connect(profile.cloud, profile.region)
            deleted, failed, _ = sweep.reap_calls(conn, state.ledger.path, unusable, (), profile.timeouts)
    except Exception as exc:  # the end-of-run sweep tries again
        state.say(f"after {nodeid}: could not look for what its failed calls created: {type(exc).__name__}: "
                  f"{str(exc)[:300]}")
        return
    for finding in deleted:
        state.ledger.record("reaped", finding.kind, finding.id, name=finding.name, reason=finding.reason,
                            request_id=finding.request_id, test=nodeid)
        state.say(f"after {nodeid}: removed {finding.kind} {finding.id}: {finding.reason}")
    for finding, why in failed:
        state.say(f"after {nodeid}: could not remove {finding.kind} {finding.id} ({finding.reason}): {why}")


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_sessionfinish(session):
    """Around the session's own teardown (module and session fixtures, and every fixture still up
    after an interrupt): whatever fails there is recorded for results.json and said in one line,
    never a traceback that stops the results and reports from being written."""
    state = session.config.stash[STATE]
    with _phase(state, "cleanup"):
        try:
            return (yield)
        except Exception as exc:  # a cleanup that failed at the session's end (CleanupError, CutShort...)
            for problem in _flatten(exc):
                message = f"{type(problem).__name__}: {problem}"
                state.session_errors.append({"worker": state.worker, "error": message[:8000]})
                state.say(f"teardown at the end of the session: {message[:2000]}")
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return None


def _flatten(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _flatten(sub)]
    return [exc]


class _phase:
    """What an interrupt meets: a test (stop it), a cleanup (let it run, or cut it short), other."""

    def __init__(self, state: RunState, phase: str):
        self.interrupts, self.phase = state.interrupts, phase

    def __enter__(self):
        if self.interrupts:
            self.previous, self.interrupts.phase = self.interrupts.phase, self.phase

    def __exit__(self, *exc):
        if self.interrupts:
            self.interrupts.phase = self.previous
        return False


def _label(item, profile) -> None:
    """Allure labels and parameters for the test (after allure's own setup started its result)."""
    case = casing.case_id(item)
    allure_steps.label_test(case_id=case, capability=capability_of(item), name=item.name, profile=profile.name,
                            release=profile.release, bug=profile.known_failures.get(case or ""))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item):
    with _phase(item.config.stash[STATE], "test"):
        result = yield
    leaks = [r for r in item.config.stash[STATE].records.get(item.nodeid, []) if r.leaked_in]
    if leaks:
        first = leaks[0]
        pytest.fail(f"CPI {first.method} (request {first.request_id}) leaked a configured secret in "
                    f"{', '.join(first.leaked_in)} (value withheld)", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(OUTCOME, {})[report.when] = report
    if casing.case_id(item) and report.when == "setup":
        for prop in (("case_id", casing.case_id(item)), ("capability", capability_of(item))):
            report.user_properties.append(prop)
            item.user_properties.append(prop)  # the later phases' reports too: junit.xml reads the teardown's
        requirement = casing.requirement(item)  # results.json and the report show the MUST sentence
        if requirement:
            report.user_properties.append(("requirement", requirement))
    if report.failed:
        records = item.config.stash[STATE].records.get(item.nodeid, [])
        if records and report.when in ("setup", "call"):
            report.sections.append(("cpi-calls " + report.when, _transcript(records)))
            item.user_properties.append(("cpi_transcript", _transcript(records)))  # junit.xml's testcase
            logs = "\n".join(f"--- {r.method} {r.request_id}\n{r.log[-4000:]}" for r in records if r.log)
            if logs:
                report.sections.append(("cpi-log " + report.when, logs))
        allure_steps.attach_on_failure(item, report.sections)
    return report


def capability_of(item) -> str:
    marker = item.get_closest_marker("capability")
    if marker and marker.args:
        return str(marker.args[0])
    return item.module.__name__.rsplit(".", 1)[-1].removeprefix("test_") if item.module else "other"


def _transcript(records) -> str:
    start = records[0].started_at if records else time.time()
    return "\n".join(f"+{r.started_at - start:7.1f}s {r.summary()}" for r in records)
