"""`conformance bundle RUN_DIR`: one archive of a run's record an operator can hand over.

    conformance bundle reports/<run id> [--sign-key ~/.ssh/id_ed25519] [--output FILE] [--force]

The archive (default: RUN_DIR.bundle.tar.gz beside the run folder) holds results.json, calls.jsonl,
ledger.jsonl, junit.xml from the run folder; report.html and report.md rendered again from that
results.json; the redacted profile; the certification judged against the level (and the level
itself); manifest.json (tool version, the suite's code digest, the run); SHA256SUMS over all of
them and, with --sign-key, SHA256SUMS.sig made by `ssh-keygen -Y sign -n cpi-conformance-bundle`.
A record that fails its own digest is not bundled. Check one with `conformance report verify
BUNDLE --allowed-signers FILE` (or `--key PUB`).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from conformance import __version__


def register(subparsers) -> None:
    parser = subparsers.add_parser("bundle", help="one archive of a run's record, hashed and optionally signed",
                                   description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (reports/<run id>)")
    parser.add_argument("--output", "-o", default=None, help="the archive to write (default: RUN_DIR.bundle.tar.gz)")
    parser.add_argument("--sign-key", default=None, metavar="KEY",
                        help="sign with this SSH key (a private key file, or a public key held by ssh-agent); "
                             "ssh-keygen asks for its passphrase itself")
    parser.add_argument("--force", action="store_true", help="replace an existing archive")
    parser.set_defaults(func=handle)


def handle(args) -> int:
    from conformance.certify import bundle, level, signing
    from conformance.core.safeload import loads_json
    from conformance.report import build, model
    from conformance.report.results import code_digest

    run_dir = Path(args.run_dir)
    output = Path(args.output) if args.output else run_dir.resolve().parent / f"{run_dir.resolve().name}.bundle.tar.gz"
    if args.sign_key:
        signing.ssh_keygen()  # a runner without ssh-keygen stops here, before any work
    with tempfile.TemporaryDirectory(prefix="cfm-bundle-") as tmp:
        staging = Path(tmp)
        names = bundle.copy_run(run_dir, staging)
        try:
            doc = loads_json((staging / "results.json").read_bytes())
        except ValueError as exc:
            raise bundle.BundleError(f"{run_dir}/results.json: not JSON: {exc}") from None
        check = model.integrity(doc) if isinstance(doc, dict) else None
        if check is None or not check.ok:
            raise bundle.BundleError(f"{run_dir}/results.json: {check.text if check else 'not a results document'}: "
                                     "a record the run did not write is not bundled")
        judged = level.judge(level.load(), doc)
        mine = code_digest()
        extra = {"profile.redacted.json": (doc.get("profile") or {}).get("redacted") or {},
                 "certification.json": judged.to_dict()}
        for name, value in extra.items():
            (staging / name).write_text(json.dumps(value, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        (staging / "level.yml").write_text(level.load().text, encoding="utf-8")
        build.write_reports(staging)
        tool = doc.get("tool") or {}
        manifest = {"format": bundle.FORMAT, "format_version": bundle.FORMAT_VERSION, "run_id": doc.get("run_id"),
                    "tool": {"name": tool.get("name"), "version": tool.get("version")},
                    "code_sha256": tool.get("code_sha256"), "results_sha256": check.actual,
                    "bundled_by": {"version": __version__, "code_sha256": mine}, "created_at": time.time(),
                    "profile": (doc.get("profile") or {}).get("name"), "release": (doc.get("profile") or {}).get("release"),
                    "certification": {"level": judged.level, "level_sha256": judged.level_sha256, "word": judged.word},
                    "signature": {"tool": "ssh-keygen -Y sign", "namespace": signing.NAMESPACE, "signs": bundle.SUMS}}
        (staging / bundle.MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        names += [*extra, "level.yml", "report.html", "report.md", bundle.MANIFEST]
        (staging / bundle.SUMS).write_text(bundle.sums_text(staging, names), encoding="utf-8")
        names.append(bundle.SUMS)
        if args.sign_key:
            signing.sign(staging / bundle.SUMS, args.sign_key)
            names.append(bundle.SIG)
        bundle.write_archive(staging, names, output, mtime=float(doc.get("finished_at") or 0), force=args.force)
    print(output)
    print(f"conformance bundle: {len(names)} files of run {doc.get('run_id')}; certification against {judged.level}: "
          f"{judged.word}; {'signed with ' + args.sign_key if args.sign_key else 'not signed (--sign-key KEY)'}")
    if tool.get("code_sha256") != mine:
        print(f"conformance bundle: note: the run was made by suite code sha256 {str(tool.get('code_sha256'))[:16]}..., "
              f"this tool's is {mine[:16]}...: a verifier with this tool needs --accept-other-code")
    return 0
