"""The capability table: bosh.io-style rows ("Network type: manual, multiple per instance"), each
filled from what the run MEASURED, never from what the profile claims.

A row gathers the tests of one capability marker, optionally narrowed to some test functions (a
capability such as the stemcell has a heavy and a light row). A test belongs to the first row
that names it, else to its capability's catch-all row, else to a row made for its unknown
capability, so a new suite module shows up in the report without a change here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from conformance.report.model import outcome_label

#: (key, label, capability, test functions or None for the capability's remaining tests).
ROWS: tuple[tuple[str, str, str, tuple[str, ...] | None], ...] = (
    ("contract", "CPI contract: info, api_version, unknown methods", "contract", None),
    ("stemcell_heavy", "Stemcell: heavy (image upload)", "stemcell", None),
    ("stemcell_light", "Stemcell: light (existing image)", "stemcell",
     ("test_light_stemcell_points_at_an_existing_image",)),
    ("vm_lifecycle", "VM lifecycle: create / has / reboot / metadata / delete", "vm_lifecycle", None),
    ("network_manual_single", "Network type: manual, single per instance", "network_manual", None),
    ("network_manual_multiple", "Network type: manual, multiple per instance", "network_manual",
     ("test_two_manual_nics_get_one_port_each_with_the_requested_ips",)),
    ("network_dynamic", "Network type: dynamic, single per instance", "network_dynamic", None),
    ("network_vip", "Network type: VIP (floating IP), single per instance", "network_vip", None),
    ("persistent_disk", "Persistent disks: create / attach / detach / delete", "persistent_disk", None),
    ("native_disk_resize", "Native disk resize", "native_disk_resize", None),
    ("snapshots", "Snapshots", "snapshots", None),
    ("config_drive_cdrom", "Config drive: cdrom", "config_drive", None),
    ("config_drive_disk", "Config drive: disk", "config_drive", ("test_config_drive_as_a_disk",)),
    ("failure_contract", "Failure contract: typed errors, nothing left behind", "failure_contract", None),
    ("cloud_release", "Cloud APIs: at least the profile's release", "cloud_release", None),
)



@dataclass
class Cell:
    """What one run measured for one row: yes / no / error / runner error / skipped / known failure /
    not run."""

    status: str
    detail: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    tests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def skip_reason(self) -> str:
        return _first_reason(self.tests, "skipped")

    @property
    def text(self) -> str:
        return f"{self.status} ({self.detail})" if self.detail else self.status


@dataclass
class Row:
    key: str
    label: str
    capability: str
    cell: Cell


def base_name(test: dict[str, Any]) -> str:
    """The test function's name without its parameters."""
    return test["name"].split("[", 1)[0]


def row_key_of(test: dict[str, Any]) -> str:
    capability, name = test.get("capability") or "other", base_name(test)
    for key, _label, cap, names in ROWS:
        if cap == capability and names and name in names:
            return key
    for key, _label, cap, names in ROWS:
        if cap == capability and names is None:
            return key
    return capability


def table(tests: list[dict[str, Any]]) -> list[Row]:
    """Every known row (a row with no test in this run says so), then rows for unknown capabilities."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for test in tests:
        grouped.setdefault(row_key_of(test), []).append(test)
    rows = [Row(key, label, cap, measure(grouped.pop(key, []))) for key, label, cap, _ in ROWS]
    for key in sorted(grouped):
        rows.append(Row(key, key.replace("_", " ").capitalize(), key, measure(grouped[key])))
    return rows


def measure(tests: list[dict[str, Any]]) -> Cell:
    """A failure is a "no"; an error that is the test runner's (blame "runner") is a "runner error",
    which says nothing about the capability."""
    counts = dict(Counter(outcome_label(t) for t in tests))
    if not tests:
        return Cell("not run", "no test of this row was selected", counts, tests)
    n = len(tests)
    bad = counts.get("failed", 0) + counts.get("xpassed", 0)
    if bad:
        return Cell("no", f"{bad} of {n} failed", counts, tests)
    if counts.get("error"):
        return Cell("error", f"{counts['error']} of {n} not measured: setup error", counts, tests)
    if counts.get("runner error"):
        return Cell("runner error", f"{counts['runner error']} of {n} not measured: "
                    f"{_first_reason(tests, 'runner error')}", counts, tests)
    if counts.get("xfailed"):
        return Cell("known failure", _first_reason(tests, "xfailed"), counts, tests)
    passed, skipped = counts.get("passed", 0), counts.get("skipped", 0)
    if passed and skipped:
        return Cell("yes", f"partly: {skipped} of {n} skipped: {_first_reason(tests, 'skipped')}", counts, tests)
    if passed:
        return Cell("yes", "", counts, tests)
    return Cell("skipped", _first_reason(tests, "skipped"), counts, tests)


def _first_reason(tests: list[dict[str, Any]], outcome: str) -> str:
    reasons = Counter((t.get("reason") or "no reason given") for t in tests if outcome_label(t) == outcome)
    return reasons.most_common(1)[0][0] if reasons else ""


def skipped_capabilities(rows: list[Row]) -> list[Row]:
    """Rows with at least one skipped test (wholly or partly skipped), for the verdict's 'and why'."""
    return [r for r in rows if r.cell.counts.get("skipped")]
