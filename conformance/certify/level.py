"""Certification levels: a versioned list of which case ids are required, advisory or flagged, and
which skips of a required case are allowed (the capability is optional for this kind of cloud);
and the judgement of one run's results.json against a level.

    level = load("openstack-2026.1")        # or a path to a level file
    judgement = judge(level, doc)           # doc: a results.json document
    judgement.word                          # CERTIFIED / NOT CERTIFIED / INCOMPLETE

Levels live in conformance/certify/levels/<name>.yml (shipped in the wheel); the format is
described at the top of each file. A level file is read as untrusted YAML (core.safeload).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance.core.errors import ConformanceError
from conformance.core.safeload import LoadError, decode_utf8, load_yaml, read_bounded

LEVELS = Path(__file__).parent / "levels"
DEFAULT = "openstack-2026.1"
FAILING = ("failed", "error", "xpassed", "xfailed")  # under --certify an xfail is no override: a failure


class LevelError(ConformanceError):
    """A level that cannot be used: names the file and what is wrong with it."""


@dataclass(frozen=True)
class Rule:
    """A skip of a required case allowed: of ``capability`` (or of ``cases``), for these reasons."""

    capability: str | None
    cases: frozenset[str]
    skips: tuple[str, ...]
    why: str

    def allows(self, case_id: str, capability: str | None, reason: str) -> bool:
        covers = case_id in self.cases or (self.capability is not None and self.capability == capability)
        return covers and any(reason.startswith(prefix) for prefix in self.skips)


@dataclass(frozen=True)
class Level:
    name: str
    title: str
    cloud: str
    since: str
    required: dict[str, str]
    advisory: dict[str, dict[str, str]]
    flagged: dict[str, dict[str, str]]
    optional: tuple[Rule, ...]
    sha256: str
    text: str

    def status(self, case_id: str) -> str:
        for status in ("required", "advisory", "flagged"):
            if case_id in getattr(self, status):
                return status
        return "not in level"

    def allowed_skip(self, case_id: str, capability: str | None, reason: str) -> Rule | None:
        return next((rule for rule in self.optional if rule.allows(case_id, capability, reason)), None)


def available() -> list[str]:
    return sorted(p.stem for p in LEVELS.glob("*.yml"))


def load(name: str | os.PathLike = DEFAULT) -> Level:
    """A shipped level by name, or a level file by path."""
    path = Path(name)
    if path.suffix not in (".yml", ".yaml") and os.sep not in str(name):
        path = LEVELS / f"{name}.yml"
        if not path.is_file():
            raise LevelError(f"no certification level {str(name)!r} (shipped: {', '.join(available()) or 'none'})")
    try:
        return parse(decode_utf8(read_bounded(path)), str(path))
    except LoadError as exc:
        raise LevelError(f"{path}: {exc}") from None


def parse(text: str, source: str = "<level>") -> Level:
    try:
        doc = load_yaml(text)
    except LoadError as exc:
        raise LevelError(f"{source}: {exc}") from None
    if not isinstance(doc, dict):
        raise LevelError(f"{source}: a level is a mapping")
    unknown = set(doc) - {"level", "title", "cloud", "since", "required", "advisory", "flagged", "optional"}
    if unknown:
        raise LevelError(f"{source}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    for key in ("level", "cloud"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise LevelError(f"{source}: {key}: a non-empty string is required")
    required = _mapping(doc, "required", source)
    advisory, flagged = _with_reasons(doc, "advisory", source), _with_reasons(doc, "flagged", source)
    seen = Counter([*required, *advisory, *flagged])
    twice = sorted(cid for cid, n in seen.items() if n > 1)
    if twice:
        raise LevelError(f"{source}: case id(s) listed under two statuses: {', '.join(twice)}")
    return Level(name=doc["level"], title=str(doc.get("title") or doc["level"]), cloud=doc["cloud"],
                 since=str(doc.get("since") or ""), required={k: str(v) for k, v in required.items()},
                 advisory=advisory, flagged=flagged, optional=_rules(doc.get("optional") or [], source),
                 sha256=hashlib.sha256(text.encode()).hexdigest(), text=text)


def _mapping(doc: dict, key: str, source: str) -> dict[str, Any]:
    value = doc.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise LevelError(f"{source}: {key}: a mapping of case id to name is required")
    return value


def _with_reasons(doc: dict, key: str, source: str) -> dict[str, dict[str, str]]:
    out = {}
    for cid, entry in _mapping(doc, key, source).items():
        if not isinstance(entry, dict) or not entry.get("reason"):
            raise LevelError(f"{source}: {key}.{cid}: {{name, reason}} is required (a {key} case says why)")
        out[cid] = {"name": str(entry.get("name") or ""), "reason": " ".join(str(entry["reason"]).split())}
    return out


def _rules(rules: Any, source: str) -> tuple[Rule, ...]:
    if not isinstance(rules, list):
        raise LevelError(f"{source}: optional: a list of rules is required")
    out = []
    for i, rule in enumerate(rules):
        where = f"{source}: optional[{i}]"
        if not isinstance(rule, dict) or not rule.get("why") or not rule.get("skips"):
            raise LevelError(f"{where}: a rule needs skips (reason prefixes) and why")
        if not (rule.get("capability") or rule.get("cases")):
            raise LevelError(f"{where}: a rule names a capability or cases")
        skips = rule["skips"]
        if not isinstance(skips, list) or not all(isinstance(s, str) and s.strip() for s in skips):
            raise LevelError(f"{where}: skips: a list of non-empty reason prefixes is required")
        out.append(Rule(rule.get("capability"), frozenset(map(str, rule.get("cases") or [])), tuple(skips),
                        " ".join(str(rule["why"]).split())))
    return tuple(out)


# -- judging a run ------------------------------------------------------------------------------------


@dataclass
class CaseJudgement:
    case_id: str
    name: str
    capability: str | None
    status: str   # required / advisory / flagged / not in level
    outcome: str  # passed / skipped / failed / error / runner error / xfailed / xpassed / not run
    ok: bool | None  # None: not judged (a runner error, or not required)
    note: str = ""


@dataclass
class Judgement:
    level: str
    title: str
    level_sha256: str
    word: str  # CERTIFIED / NOT CERTIFIED / INCOMPLETE
    text: str
    cases: list[CaseJudgement] = field(default_factory=list)

    @property
    def certified(self) -> bool:
        return self.word == "CERTIFIED"

    def of(self, status: str) -> list[CaseJudgement]:
        return [c for c in self.cases if c.status == status]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "certified": self.certified}


def outcome_of(tests: list[dict[str, Any]]) -> tuple[str, str]:
    """One case's outcome over its tests (parametrized variants share an id): the worst one, with its reason."""
    def label(t):
        return "runner error" if t.get("outcome") == "error" and t.get("blame") == "runner" else t.get("outcome") or "?"
    order = ["failed", "error", "xpassed", "xfailed", "?", "runner error", "skipped", "passed"]
    worst = min(tests, key=lambda t: order.index(label(t)) if label(t) in order else 4)
    return label(worst), " ".join(str(worst.get("reason") or "").split())


def judge(level: Level, doc: dict[str, Any], *, record_ok: bool = True) -> Judgement:
    """A run against a level. CERTIFIED only for a certification run (--certify) whose record is
    intact, that was not cut short, and in which every required case passed or was skipped for a
    reason the level allows. A runner error on a required case leaves the certification INCOMPLETE
    (the cloud was not judged); advisory and flagged cases never fail it."""
    by_case: dict[str, list[dict[str, Any]]] = {}
    for test in doc.get("tests") or []:
        if test.get("case_id"):
            by_case.setdefault(str(test["case_id"]), []).append(test)
    cases = [_judge_case(level, cid, name, by_case.pop(cid, []), "required") for cid, name in level.required.items()]
    for status in ("advisory", "flagged"):
        for cid, entry in getattr(level, status).items():
            case = _judge_case(level, cid, entry["name"], by_case.pop(cid, []), status)
            case.note = entry["reason"] + (f"; {case.note}" if case.note else "")
            cases.append(case)
    for cid, tests in by_case.items():
        outcome, reason = outcome_of(tests)
        cases.append(CaseJudgement(cid, tests[0].get("name", "?").split("[")[0], tests[0].get("capability"),
                                   "not in level", outcome, None, reason))
    word, text = _overall(level, doc, cases, record_ok)
    return Judgement(level.name, level.title, level.sha256, word, text, cases)


def _judge_case(level: Level, cid: str, name: str, tests: list[dict[str, Any]], status: str) -> CaseJudgement:
    if not tests:
        return CaseJudgement(cid, name, None, status, "not run", False if status == "required" else None,
                             "not in this run" if status == "required" else "")
    outcome, reason = outcome_of(tests)
    name, capability = tests[0].get("name", name).split("[")[0], tests[0].get("capability")
    if status != "required":
        return CaseJudgement(cid, name, capability, status, outcome, None, reason)
    if outcome == "passed":
        return CaseJudgement(cid, name, capability, status, outcome, True)
    if outcome == "skipped":
        rule = level.allowed_skip(cid, capability, reason)
        if rule:
            return CaseJudgement(cid, name, capability, status, outcome, True, f"{reason} (optional: {rule.why})")
        return CaseJudgement(cid, name, capability, status, outcome, False,
                             f"{reason or 'no reason given'} (a required case must run: no optional rule of "
                             f"{level.name} allows this skip)")
    if outcome == "runner error":
        return CaseJudgement(cid, name, capability, status, outcome, None, f"not measured: {reason}")
    return CaseJudgement(cid, name, capability, status, outcome, False, reason)


def _overall(level: Level, doc: dict[str, Any], cases: list[CaseJudgement], record_ok: bool) -> tuple[str, str]:
    required = [c for c in cases if c.status == "required"]
    failed = [c for c in required if c.ok is False]
    unmeasured = [c for c in required if c.ok is None]
    passed = sum(c.ok is True and c.outcome == "passed" for c in required)
    allowed = sum(c.ok is True and c.outcome == "skipped" for c in required)
    advisory_bad = sum(c.outcome in FAILING for c in cases if c.status == "advisory")
    tally = (f"{passed} of {len(required)} required cases passed" + (f", {allowed} skipped as optional" if allowed else "")
             + (f"; advisory: {advisory_bad} failed (never a failed certification)" if advisory_bad else ""))
    exitstatus = (doc.get("selection") or {}).get("exitstatus", 0)
    if not doc.get("certify"):
        return "NOT CERTIFIED", f"not a certification run (conformance run --certify); for information: {tally}"
    if not record_ok:
        return "NOT CERTIFIED", "the record fails its digest check (edited or partial)"
    if doc.get("interrupted"):
        return "INCOMPLETE", f"the run was interrupted by {doc['interrupted'].get('signal')}; {tally}"
    if failed:
        names = ", ".join(f"{c.name} ({c.outcome})" for c in failed[:5]) + (", ..." if len(failed) > 5 else "")
        return "NOT CERTIFIED", f"{len(failed)} required case(s) did not pass: {names}; {tally}"
    if unmeasured or exitstatus not in (0, 1):
        why = (f"{len(unmeasured)} required case(s) not measured (runner error)" if unmeasured
               else f"pytest exit status {exitstatus}")
        return "INCOMPLETE", f"{why}; {tally}"
    return "CERTIFIED", tally
