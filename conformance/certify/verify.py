"""Checking a bundle as a third party would: every member against SHA256SUMS, SHA256SUMS against
its signature and the allowed signers, results.json against its own digest, the suite code that
made the run against the verifier's, and the certification judged again against the verifier's
own copy of the level (a level edited inside a bundle cannot make a failure advisory).

    outcome = verify_bundle("run.bundle.tar.gz", signers=allowed_signers_text(...), code_sha256=...,
                            record_ok=lambda doc: ...)
    outcome.ok, outcome.signer, outcome.findings

An archive that is not a well-formed bundle raises BundleError (refused before anything is judged);
a missing ssh-keygen raises RunnerError (not a "no"). Everything else is a finding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.certify import bundle, level, signing
from conformance.certify.bundle import MANIFEST, SIG, SUMS


@dataclass
class Finding:
    ok: bool
    text: str


@dataclass
class Outcome:
    path: str
    findings: list[Finding] = field(default_factory=list)
    signer: signing.Signer | None = None
    certification: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def add(self, ok: bool, text: str) -> None:
        self.findings.append(Finding(ok, text))


def verify_bundle(path: str, *, signers: str, code_sha256: str, record_ok: Callable[[dict], bool],
                  accept_other_code: bool = False) -> Outcome:
    archive = bundle.read_archive(path)
    outcome = Outcome(str(path))
    problems = bundle.contents_problems(archive)
    for problem in problems:
        outcome.add(False, f"contents: {problem}")
    if not problems:
        outcome.add(True, f"contents: {len(archive.members) - 1 - (SIG in archive.members)} files match {SUMS}")
    _signature(archive, signers, outcome)
    if MANIFEST not in archive.members or "results.json" not in archive.members:
        return outcome
    manifest, results = archive.json(MANIFEST), archive.json("results.json")
    if not isinstance(manifest, dict) or not isinstance(results, dict):
        outcome.add(False, "manifest.json or results.json is not a JSON object")
        return outcome
    _record(manifest, results, record_ok, outcome)
    _code(manifest, results, code_sha256, accept_other_code, outcome)
    _certification(archive, results, record_ok(results), outcome)
    return outcome


def _signature(archive: bundle.Archive, signers: str, outcome: Outcome) -> None:
    sig, sums = archive.members.get(SIG), archive.members.get(SUMS)
    if sig is None or sums is None:
        outcome.add(False, "signature: none (the bundle was made without --sign-key): nobody vouches for it")
        return
    try:
        outcome.signer = signing.verify(sums.data or b"", sig.data or b"", signers)
    except signing.SignatureError as exc:
        outcome.add(False, f"signature: {exc}")
        return
    outcome.add(True, f"signature: good, signed by {outcome.signer.text}")


def _record(manifest: dict, results: dict, record_ok: Callable[[dict], bool], outcome: Outcome) -> None:
    if manifest.get("format") != bundle.FORMAT or manifest.get("format_version") != bundle.FORMAT_VERSION:
        outcome.add(False, f"manifest: format {manifest.get('format')!r} version {manifest.get('format_version')!r} "
                           f"is not {bundle.FORMAT} {bundle.FORMAT_VERSION}")
    if manifest.get("run_id") != results.get("run_id"):
        outcome.add(False, f"manifest: run {manifest.get('run_id')!r} but results.json is of run {results.get('run_id')!r}")
    if record_ok(results):
        outcome.add(True, f"results.json: digest verified (run {results.get('run_id')})")
    else:
        outcome.add(False, "results.json: digest mismatch: edited or partial")


def _code(manifest: dict, results: dict, mine: str, accept_other_code: bool, outcome: Outcome) -> None:
    theirs = str(manifest.get("code_sha256") or "")
    if theirs != str((results.get("tool") or {}).get("code_sha256") or ""):
        outcome.add(False, "suite code: the manifest and results.json name different suite code")
        return
    version = (manifest.get("tool") or {}).get("version", "?")
    if theirs == mine:
        outcome.add(True, f"suite code: sha256 {theirs[:16]}... is this tool's (the cases run are the ones it knows)")
    elif accept_other_code:
        outcome.add(True, f"suite code: sha256 {theirs[:16]}... (cpi-conformance {version}) is not this tool's "
                          f"{mine[:16]}...: accepted (--accept-other-code); the signature and contents are checked, "
                          "the cases run are not known to be the ones this tool has")
    else:
        outcome.add(False, f"suite code: the run was made by suite code sha256 {theirs[:16]}... (cpi-conformance "
                           f"{version}), this tool's is {mine[:16]}...: verify with the same release of "
                           "cpi-conformance, or pass --accept-other-code to check the signature and contents only")


def _certification(archive: bundle.Archive, results: dict, record_ok: bool, outcome: Outcome) -> None:
    text, recorded = archive.text("level.yml"), archive.json("certification.json") if "certification.json" in archive.members else None
    if text is None or not isinstance(recorded, dict):
        outcome.add(False, "certification: the bundle holds no level.yml and certification.json")
        return
    try:
        bundled = level.parse(text, "the bundle's level.yml")
    except level.LevelError as exc:
        outcome.add(False, f"certification: {exc}")
        return
    try:
        mine = level.load(bundled.name)
    except level.LevelError:
        outcome.add(False, f"certification: level {bundled.name} is not one this tool ships "
                           f"({', '.join(level.available())}): it cannot judge the run against it")
        return
    if mine.sha256 != bundled.sha256:
        outcome.add(False, f"certification: the bundle's level {bundled.name} is not this tool's copy of it "
                           "(edited, or from another release)")
    judgement = level.judge(mine, results, record_ok=record_ok)
    outcome.certification = judgement.to_dict()
    if recorded.get("word") != judgement.word:
        outcome.add(False, f"certification: the bundle says {recorded.get('word')}, judged again it is {judgement.word}")
    else:
        outcome.add(True, f"certification: {judgement.word} against {mine.name}: {judgement.text}")
