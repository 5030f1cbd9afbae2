"""The conformance catalogue: read from the suites' source without importing them, and checked in.

test_the_checked_in_catalogue_is_current is the CI check: a suite whose case id or MUST sentence
changes without `conformance catalogue --output docs` fails it."""

import importlib
import inspect
import json
import shutil
from pathlib import Path

import pytest

from conformance.certify import catalogue

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"


def test_the_checked_in_catalogue_is_current():
    problems = catalogue.stale(DOCS)
    assert problems == [], f"run `{catalogue.REGENERATE}` and commit docs/catalogue.*: {problems}"


@pytest.fixture
def suites(tmp_path):
    copy = tmp_path / "suites"
    shutil.copytree(catalogue.SUITES, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_changed_must_sentence_makes_it_stale(suites):
    edit(suites / "test_snapshots.py", '"Takes a snapshot of the disk"', '"Takes a snapshot"')
    problems = catalogue.stale(DOCS, suites)
    assert problems and "case 52fce191-52b5-4447-91ff-dcc4cc62f816: its must changed" in problems[0]
    assert catalogue.REGENERATE == "conformance catalogue --output docs"


def test_a_changed_case_id_makes_it_stale(suites):
    edit(suites / "test_snapshots.py", "52fce191-52b5-4447-91ff-dcc4cc62f816", "52fce191-52b5-4447-91ff-000000000000")
    problems = catalogue.stale(DOCS, suites)
    assert "case 52fce191-52b5-4447-91ff-000000000000 (test_snapshot_disk_then_delete_snapshot) is new" in problems[0]


def test_a_case_without_a_must_sentence_is_refused(suites):
    edit(suites / "test_snapshots.py", "never existed MUST return normally", "never existed returns normally")
    with pytest.raises(catalogue.CatalogueError, match="test_delete_of_a_missing_snapshot_returns_normally: the "
                                                       "docstring's first paragraph has no MUST sentence"):
        catalogue.collect(suites)


def test_since_is_kept_from_the_previous_catalogue_and_new_cases_get_this_version(tmp_path):
    previous = json.loads((DOCS / catalogue.JSON_NAME).read_text())
    previous["cases"][0]["since"] = "0.0.9"
    (tmp_path / catalogue.JSON_NAME).write_text(json.dumps(previous))
    entries = catalogue.collect(previous=catalogue.previous_since(tmp_path))
    assert entries[0]["since"] == "0.0.9" and {e["since"] for e in entries[1:]} == {importlib.import_module("conformance").__version__}


def test_the_source_reading_agrees_with_the_marks_pytest_sees():
    """The ast reading of the suites gives the case id and capability that the imported test
    functions carry (the suites import without a cloud)."""
    by_id = {e["case_id"]: e for e in catalogue.collect()}
    seen = 0
    for path in sorted(catalogue.SUITES.glob("test_*.py")):
        module = importlib.import_module(f"conformance.suites.{path.stem}")
        module_marks = module.__dict__.get("pytestmark", [])
        module_marks = module_marks if isinstance(module_marks, list) else [module_marks]
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("test_"):
                continue
            marks = [*getattr(func, "pytestmark", []), *module_marks]
            case_id = next(m.args[0] for m in marks if m.name == "case")
            capability = next(m.args[0] for m in marks if m.name == "capability")
            assert (by_id[case_id]["name"], by_id[case_id]["capability"]) == (name, capability)
            seen += 1
    assert seen == len(by_id)


def test_each_case_cites_its_source():
    entries = catalogue.collect()
    cited = {e["name"]: e["sources"] for e in entries}
    assert cited["test_create_vm_answers_its_cid_and_has_vm_is_true"] == ["bosh.io CPI API v2 create_vm", "bosh.io has_vm"]
    assert cited["test_unknown_method_is_not_implemented"] == ["external_cpi.rb#handle_method_not_implemented"]
    assert all(e["sources"] for e in entries), [e["name"] for e in entries if not e["sources"]]


def test_the_markdown_names_every_case():
    md = (DOCS / catalogue.MD_NAME).read_text()
    for entry in catalogue.collect():
        assert f"### {entry['name']}" in md and f"`{entry['case_id']}`" in md
