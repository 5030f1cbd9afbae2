"""Permanent case ids: every conformance test carries ``@pytest.mark.case("<uuid4>")``.

Collection fails on a missing, malformed or duplicate id, as tempest's check_uuid does, so
reports and profiles (known_failures) can key on ids that survive renames.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

SUITES = Path(__file__).parents[1] / "suites"


def is_suite_item(item) -> bool:
    return SUITES in Path(str(item.path)).resolve().parents


def case_id(item) -> str | None:
    marker = item.get_closest_marker("case")
    return str(marker.args[0]) if marker and marker.args else None


def requirement(item) -> str | None:
    """The test's MUST sentence: the first paragraph of its docstring, on one line (the suites write
    the contract they check there, with its source); None for a test without a docstring."""
    doc = getattr(getattr(item, "function", None), "__doc__", None)
    if not doc or not doc.strip():
        return None
    return " ".join(doc.strip().split("\n\n", 1)[0].split())


def check_case_ids(items, every_item: bool = False) -> None:
    problems, seen = [], {}
    for item in items:
        if not (every_item or is_suite_item(item)):
            continue
        cid = case_id(item)
        base = item.nodeid.split("[")[0]
        if cid is None:
            problems.append(f"{item.nodeid}: no @pytest.mark.case(\"<uuid4>\")")
            continue
        try:
            uuid.UUID(cid)
        except ValueError:
            problems.append(f"{item.nodeid}: case id {cid!r} is not a uuid")
            continue
        other = seen.setdefault(cid, base)
        if other != base:  # parametrized variants of one test share the id
            problems.append(f"{item.nodeid}: case id {cid} is also used by {other}")
    if problems:
        raise pytest.UsageError("conformance case ids:\n  " + "\n  ".join(problems))
