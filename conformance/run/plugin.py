"""The pytest plugin (entry point ``pytest11: conformance``): options, markers, hooks.

The entry point of conformance.run, the only layer that knows pytest and the profile together.
Side-effect free on import; heavy modules are imported inside hooks. Inert unless ``--cfm-profile``
(or ``--profile``, conformance.run.options) is given (the project's own tests load it too), except
for the case-id check, which applies to the conformance suites.
"""

from __future__ import annotations

import pytest

from conformance.run import options

pytest.register_assert_rewrite("conformance.run.expect")

MARKERS = {
    "case(uuid)": "permanent case id of a conformance test (uuid4); reports and profiles key on it",
    "requires(*features)": "skip unless the profile offers these (feature names, or 'manual_networks>=2')",
    "capability(name)": "the capability a test certifies (report rows); defaults to the module's",
    "slow": "boots VMs or waits on the guest",
    "boots(**spec)": "a VM the test boots with boot_vm() (lab.boot_vm's keywords; ssh=False: never SSHed into); "
                     "one marker per VM, prepared ahead of the test (conformance.run.prepare)",
}


def pytest_addoption(parser):
    options.add_prefixed(parser)
    parser.addini("conformance_require_case_ids", type="bool", default=False,
                  help="demand a case id of every collected test (always on for conformance/suites)")


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """The short spellings (--profile, ...) once every plugin and initial conftest has its options:
    only where none of them took the spelling (conformance.run.options)."""
    try:
        return (yield)
    finally:
        options.add_short_spellings(parser, early_config)


def pytest_configure(config):
    for marker, text in MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: {text}")
    options.check_meant_ours(config)
    if config.getoption("cfm_profile"):
        from conformance.run import fixtures, session

        if getattr(config.option, "maxworkerrestart", "unset") is None:
            # A crashed worker is not replaced: its static IPs, VMs and ledger entries are its
            # own; a stranger in its slot would meet them (Conflict on the IPs) and fail for the
            # wrong reason. The run ends INCOMPLETE instead, and the end-of-run sweep clears up.
            config.option.maxworkerrestart = "0"

        state = session.configure(config)
        config.stash[session.STATE] = state
        # Plugin modules, not objects: their fixtures are plain functions reaching the run's state
        # through config.stash (pytest 10 refuses session-scoped fixtures that are instance methods).
        config.pluginmanager.register(session, "conformance-fixtures")
        config.pluginmanager.register(fixtures, "conformance-lab")
        if not hasattr(config, "workerinput"):  # the controller (or a run without xdist) writes results
            from conformance.run.reporting import ResultsPlugin

            config.pluginmanager.register(ResultsPlugin(state, config), "conformance-results")
            if config.pluginmanager.has_plugin("xdist") and getattr(config.option, "dist", "no") == "loadscope":
                config.pluginmanager.register(PlannedSchedule(state.report_dir), "conformance-schedule")


class PlannedSchedule:
    """xdist controller: loadscope, planned so that every worker knows its tests and prepares their
    VMs ahead (conformance.run.schedule); registered only where xdist is, for ``--dist loadscope``."""

    def __init__(self, report_dir):
        self.report_dir = report_dir

    def pytest_xdist_make_scheduler(self, config, log):
        from conformance.run import schedule

        return schedule.make_scheduler(config, log, self.report_dir)


def pytest_configure_node(node):
    """xdist controller -> worker: every worker uses the controller's run id."""
    from conformance.run import session

    state = node.config.stash.get(session.STATE, None)
    if state is not None:
        node.workerinput["cfm_run_id"] = state.run_id


def pytest_collection_modifyitems(session, config, items):
    from conformance.run import casing

    options.select_only(config, items)
    casing.check_case_ids(items, every_item=config.getini("conformance_require_case_ids"))
    if config.getoption("cfm_profile"):
        from conformance.run import session as run_session

        run_session.apply_profile_marks(config, items)
        if hasattr(config, "workerinput"):  # what the controller plans each worker's tests from
            from conformance.run import schedule

            schedule.write_needs(config.stash[run_session.STATE].report_dir, items)


def pytest_sessionstart(session):
    """SIGINT and SIGTERM end the run cleanly (conformance.run.interrupts): tests stop, cleanups run."""
    config = session.config
    if not config.getoption("cfm_profile"):
        return
    from conformance.run import interrupts
    from conformance.run import session as run_session

    state = config.stash[run_session.STATE]
    if hasattr(config, "workerinput"):
        role = "worker"
    elif config.pluginmanager.getplugin("dsession") is not None:
        role = "controller"
    else:
        role = "single"
    state.interrupts = interrupts.Interrupts(role, state.report_dir, interrupts.stderr_writer(config), session=session)
    state.interrupts.install()
    config.add_cleanup(state.interrupts.uninstall)
    from conformance.run.progress import NoLetters, Progress

    if role != "worker":  # where pytest's terminal is
        config.pluginmanager.register(NoLetters(), "conformance-no-letters")
    if role != "controller":  # each worker says its own tests and waits; the controller only relays
        progress = Progress(config, state.say)
        config.pluginmanager.register(progress, "conformance-progress")
        progress.start()
