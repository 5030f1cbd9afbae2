"""The plugin's command-line options, namespaced so that no other pytest plugin can clash with them.

Every option has a ``cfm_`` dest and a ``--cfm-`` spelling, registered with the plugin's other hooks
(``conformance run`` uses these). The short spellings (``--profile``, ``--run-id``, ...) are added
as second spellings of the same options only once every plugin and initial conftest has registered
its own options, and only where none of them took the spelling: pytest-profiling owns ``--profile``
(a flag), and a plugin registering a taken spelling crashes pytest. A taken spelling is said in
``--help`` (the ``--cfm-`` option's help names the owner), and ``pytest --profile x.yml`` with
pytest-profiling installed is a usage error naming it and ``--cfm-profile``. (Added that late, a
short spelling is unknown to pytest's early look at its arguments, which finds the initial conftests:
the value after ``--profile`` counts there as a path; the ``--cfm-`` spellings have no such catch.)

    add_prefixed(parser)                       # pytest_addoption
    add_short_spellings(parser, config)        # after the initial conftests (plugin.py's wrapper)
    check_meant_ours(config)                   # pytest_configure: UsageError when --profile was meant for us
    select_only(config, items)                 # pytest_collection_modifyitems: --cfm-only
"""

from __future__ import annotations

import inspect

import pytest

GROUP = "conformance"
#: name -> argparse attributes; the dest is ``cfm_<name>``, the spellings ``--cfm-<name>`` and ``--<name>``.
OPTIONS: dict[str, dict] = {
    "profile": {"default": None, "metavar": "PATH", "help": "target profile YAML (profiles/*.yml)"},
    "run-id": {"default": None, "metavar": "ID",
               "help": "run id (default: a new one); names resources cfm-<run id>-; "
                       "refused when its report folder already holds a run (results.json, ledger.jsonl)"},
    "report-dir": {"default": "reports", "metavar": "DIR",
                   "help": "parent folder of reports/<run id>/ (default: reports)"},
    "keep-on-failure": {"action": "store_true",
                        "help": "keep a failed test's cloud resources for debugging (they stay in the ledger "
                                "for cleanup)"},
    "witnesses": {"default": None, "metavar": "NAMES",
                  "help": "the cloud witnesses of this run instead of the profile's: names, comma-separated "
                          "(openstack, libvirt), or none (each with the options the profile's witnesses gives it)"},
    "certify": {"action": "store_true",
                "help": "certification run: refuses known-failure overrides and test selection"},
    "prepare-ahead": {"default": None, "type": int, "metavar": "N",
                      "help": "VMs the run may create ahead of the tests that boot them, at once, instead of "
                              "the profile's vm.prepare_ahead (0: each VM is booted when its test asks)"},
}
#: Which short spellings another plugin took, and who: {"--profile": "pytest-profiling"}.
TAKEN = pytest.StashKey[dict[str, str]]()


def dest(name: str) -> str:
    return "cfm_" + name.replace("-", "_")


def add_prefixed(parser) -> None:
    group = parser.getgroup(GROUP, "cpi-conformance")
    for name, attrs in OPTIONS.items():
        group.addoption(f"--cfm-{name}", dest=dest(name), **attrs)
    group.addoption("--cfm-only", dest="cfm_only", action="append", default=[], metavar="NODEID",
                    help="run only this test (node id as in results.json; repeatable), in the suite's "
                         "order: what `conformance run --last-failed` passes")


def select_only(config, items: list) -> None:
    """--cfm-only: keep the named tests, in collection order (the suite's), deselect the others."""
    only = set(config.getoption("cfm_only") or ())
    if not only:
        return
    keep = [item for item in items if item.nodeid in only]
    config.hook.pytest_deselected(items=[item for item in items if item.nodeid not in only])
    items[:] = keep
    missing = sorted(only - {item.nodeid for item in keep})
    if missing:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"conformance: --cfm-only: {len(missing)} test(s) not in the suite "
                                f"(renamed or removed?): {', '.join(missing)}", yellow=True)


def add_short_spellings(parser, config) -> None:
    """``--<name>`` beside ``--cfm-<name>`` wherever no other plugin registered that spelling."""
    group = parser.getgroup(GROUP)
    registered = _registered(parser)
    taken = {}
    for name, attrs in OPTIONS.items():
        short = f"--{name}"
        if short in registered:
            taken[short] = _owner(config, short, registered[short])
            _set_help(_argument(group, f"--cfm-{name}"),
                      f"{attrs['help']} ({short} belongs to {taken[short]} here: use --cfm-{name})")
        else:
            group.addoption(short, dest=dest(name), **{**attrs, "help": f"same as --cfm-{name}"})
    config.stash[TAKEN] = taken


def check_meant_ours(config) -> None:
    """``--profile x.yml`` while another plugin owns ``--profile``: the user meant a conformance run."""
    owner = config.stash.get(TAKEN, {}).get("--profile")
    if not owner:
        return
    args = [str(a) for a in config.invocation_params.args]
    for i, arg in enumerate(args):
        value = arg.split("=", 1)[1] if arg.startswith("--profile=") else (
            args[i + 1] if arg == "--profile" and i + 1 < len(args) else "")
        if value.endswith((".yml", ".yaml")):
            raise pytest.UsageError(
                f"--profile {value}: --profile belongs to {owner} here (it profiles the test run); "
                f"the conformance profile is --cfm-profile: --cfm-profile {value}")


def _registered(parser) -> dict[str, str]:
    """Every option spelling registered so far -> the title of its option group."""
    found = {}
    for group in [*parser._groups, parser._anonymous]:  # pytest 8.0 .. 9: no public listing
        for option in group.options:
            for spelling in option.names():
                found[spelling] = getattr(group, "description", "") or group.name
    return found


def _owner(config, spelling: str, group_title: str) -> str:
    """The distribution of the plugin module whose source registers ``spelling``, else its option group."""
    from importlib.metadata import packages_distributions

    for _, plugin in config.pluginmanager.list_name_plugin():
        module = inspect.getmodule(plugin)
        if module is None or module.__name__.startswith(("conformance.", "_pytest.")):
            continue
        try:
            source = inspect.getsource(module)
        except (OSError, TypeError):
            continue
        if f'"{spelling}"' in source or f"'{spelling}'" in source:
            dists = packages_distributions().get(module.__name__.split(".")[0])
            return dists[0] if dists else f"the plugin module {module.__name__}"
    return f"another plugin (option group {group_title!r})"


def _argument(group, spelling: str):
    return next(option for option in group.options if spelling in option.names())


def _set_help(argument, text: str) -> None:
    action = getattr(argument, "_action", None)
    if action is not None:  # pytest >= 9 keeps the argparse action
        action.help = text
    else:  # pytest 8 builds the argparse parser at parse time from Argument.attrs(), which reads .help
        argument.help = text
