"""The conformance catalogue: every suite case with its permanent id, capability, MUST sentence, the
contract source it cites and the version it is in since, as Kubernetes ships conformance.yaml.

Read from the suites' source with ``ast``, without importing them (no pytest, no fixtures, no
cloud): a case is a ``test_*`` function of ``conformance/suites/test_*.py`` with
``@pytest.mark.case("<uuid>")``; its capability comes from its own or its module's
``pytest.mark.capability``; its MUST sentence is the first paragraph of its docstring.

    entries = collect()                     # from the installed suites
    write(entries, Path("docs"))            # docs/catalogue.json + docs/catalogue.md
    stale(Path("docs"))                     # [] when the checked-in catalogue is current

``since`` is history, not source: a case keeps the version of the catalogue it first appeared in
(read from the previous catalogue.json); a new case gets this tool's version.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.core.errors import ConformanceError

SUITES = Path(__file__).parents[1] / "suites"
JSON_NAME, MD_NAME = "catalogue.json", "catalogue.md"
FORMAT_VERSION = 1
REGENERATE = "conformance catalogue --output docs"

#: What a docstring cites: a bosh.io CPI API page (optionally with the method or section), or a file
#: of the BOSH Director (or of this project) with an optional #method.
_BOSH_IO = re.compile(r'bosh\.io(?: CPI API v2)?:?(?: (?:"[^"]+"|[a-z_]+(?: / [a-z_]+)?))?')
_CODE = re.compile(r"\b[\w/-]+\.(?:rb|py)(?:#[\w?!]+)?")


class CatalogueError(ConformanceError):
    """A suite case the catalogue cannot describe (no MUST sentence, a case id that is not a literal)."""


def collect(suites: Path = SUITES, previous: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every case of the suites, in the suites' order (module, then line)."""
    previous = previous or {}
    entries, problems = [], []
    for path in sorted(suites.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        module_marks = _module_marks(tree)
        for node in tree.body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test_")):
                continue
            try:
                entries.append(_entry(path, node, module_marks, previous))
            except CatalogueError as exc:
                problems.append(str(exc))
    if problems:
        raise CatalogueError("suite cases the catalogue cannot describe:\n  " + "\n  ".join(problems))
    return entries


def _entry(path: Path, node: ast.FunctionDef, module_marks, previous: dict[str, str]) -> dict[str, Any]:
    where = f"{path.name}::{node.name}"
    marks = _marks(node.decorator_list) + module_marks
    case = _first(marks, "case")
    if case is None:
        raise CatalogueError(f"{where}: no @pytest.mark.case(\"<uuid4>\") with a literal id")
    must = " ".join((ast.get_docstring(node) or "").split("\n\n")[0].split())
    if "MUST" not in must:
        raise CatalogueError(f"{where}: the docstring's first paragraph has no MUST sentence")
    requires = [str(arg) for name, args in marks if name == "requires" for arg in args]
    return {"case_id": case, "name": node.name, "module": path.name,
            "capability": _first(marks, "capability") or "other", "requires": requires,
            "must": must, "sources": sources(must), "since": previous.get(case, __version__)}


def sources(must: str) -> list[str]:
    """The contract sources a MUST paragraph cites (bosh.io pages, Director files), in order; when it
    cites neither, its parenthesised remarks, which is where the suites name what they rely on."""
    found = [m.group(0).rstrip(":").replace(": ", " ") for m in _BOSH_IO.finditer(must)] + [m.group(0) for m in _CODE.finditer(must)]
    found = list(dict.fromkeys(found))
    return found or _parentheses(must)


def _parentheses(text: str) -> list[str]:
    out, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "(":
            depth, start = depth + 1, (i + 1 if depth == 0 else start)
        elif char == ")" and depth:
            depth -= 1
            if depth == 0:
                out.append(text[start:i])
    return out


def _module_marks(tree: ast.Module) -> list[tuple[str, list]]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets):
            value = node.value
            return _marks(value.elts if isinstance(value, ast.List | ast.Tuple) else [value])
    return []


def _marks(nodes) -> list[tuple[str, list]]:
    """``pytest.mark.<name>(<literal args>)`` calls among ``nodes``, as (name, args)."""
    out = []
    for node in nodes:
        func = node.func if isinstance(node, ast.Call) else node
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute) and func.value.attr == "mark":
            try:
                args = [ast.literal_eval(a) for a in node.args] if isinstance(node, ast.Call) else []
            except ValueError:
                args = []
            out.append((func.attr, args))
    return out


def _first(marks, name: str) -> str | None:
    return next((str(args[0]) for mark, args in marks if mark == name and args), None)


# -- the checked-in files ---------------------------------------------------------------------------


def document(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"format": "cpi-conformance-catalogue", "format_version": FORMAT_VERSION,
            "regenerate": REGENERATE, "cases": entries}


def previous_since(folder: Path) -> dict[str, str]:
    """case id -> since, from a catalogue.json already in ``folder`` (empty when there is none)."""
    try:
        doc = json.loads((folder / JSON_NAME).read_text(encoding="utf-8"))
        return {c["case_id"]: c["since"] for c in doc.get("cases", []) if c.get("case_id") and c.get("since")}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def render_json(entries: list[dict[str, Any]]) -> str:
    return json.dumps(document(entries), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def render_md(entries: list[dict[str, Any]]) -> str:
    by_capability: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_capability.setdefault(entry["capability"], []).append(entry)
    lines = ["# cpi-conformance: the conformance catalogue", "",
             f"Generated from `conformance/suites/` by `{REGENERATE}`; do not edit by hand (a unit test",
             "fails when a case id or MUST sentence changes and this file was not regenerated).",
             f"{len(entries)} cases in {len(by_capability)} capabilities. Machine-readable: `{JSON_NAME}`.", "",
             "| capability | cases |", "|---|--:|"]
    lines += [f"| [{cap}](#{cap.replace('_', '-')}) | {len(group)} |" for cap, group in by_capability.items()]
    for cap, group in by_capability.items():
        lines += ["", f"## {cap}"]
        for e in group:
            lines += ["", f"### {e['name']}", "",
                      f"- case id: `{e['case_id']}`", f"- module: `conformance/suites/{e['module']}`",
                      f"- requires: {', '.join(f'`{r}`' for r in e['requires']) or 'nothing beyond the profile'}",
                      f"- since: {e['since']}",
                      f"- cites: {'; '.join(e['sources']) or 'nothing recognised'}", "", f"> {e['must']}"]
    return "\n".join(lines) + "\n"


def write(entries: list[dict[str, Any]], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / JSON_NAME, folder / MD_NAME]
    paths[0].write_text(render_json(entries), encoding="utf-8")
    paths[1].write_text(render_md(entries), encoding="utf-8")
    return paths


def regenerate(folder: Path, suites: Path = SUITES) -> list[Path]:
    return write(collect(suites, previous_since(folder)), folder)


def stale(folder: Path, suites: Path = SUITES) -> list[str]:
    """What differs between the catalogue in ``folder`` and the suites: [] when it is current."""
    entries = collect(suites, previous_since(folder))
    problems = []
    for name, text in ((JSON_NAME, render_json(entries)), (MD_NAME, render_md(entries))):
        try:
            current = (folder / name).read_text(encoding="utf-8")
        except OSError:
            problems.append(f"{folder / name}: missing")
            continue
        if current != text:
            problems.append(f"{folder / name}: out of date ({_first_change(current, text)})")
    return problems


def _first_change(old: str, new: str) -> str:
    try:
        before = {c["case_id"]: c for c in json.loads(old)["cases"]}
        after = {c["case_id"]: c for c in json.loads(new)["cases"]}
    except (ValueError, KeyError, TypeError):
        before = after = {}
    for cid in sorted(set(before) | set(after)):
        if cid not in before:
            return f"case {cid} ({after[cid]['name']}) is new"
        if cid not in after:
            return f"case {cid} ({before[cid]['name']}) is gone"
        for key in ("name", "capability", "must", "requires", "sources", "module"):
            if before[cid].get(key) != after[cid].get(key):
                return f"case {cid}: its {key} changed"
    for number, (a, b) in enumerate(zip(old.splitlines(), new.splitlines(), strict=False), 1):
        if a != b:
            return f"line {number} differs"
    return "its length differs"
