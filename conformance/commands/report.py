"""`conformance report`: render a run's report, merge runs into a matrix, verify a run's digest.

    conformance report RUN_DIR [--output DIR]          report.html + report.md (default: in RUN_DIR)
    conformance report merge RUN_DIR... [--output DIR] matrix.html + matrix.md (default: reports/matrix)
    conformance report verify RUN_DIR...               exit 1 when a results.json fails its digest check
    conformance report verify BUNDLE --allowed-signers FILE [--key PUB]...
                                                       a bundle of `conformance bundle`: its contents, its
                                                       signature (naming the signer), the suite code, the
                                                       certification judged again; exit 1 when any fails,
                                                       2 when this machine cannot check (no ssh-keygen)

One subcommand with a leading verb rather than nested subparsers, so that the everyday form stays
`conformance report RUN_DIR`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from conformance.core.errors import UsageError

VERBS = ("merge", "verify")


def register(subparsers) -> None:
    report = subparsers.add_parser(
        "report", help="render report.html/report.md of a run; `merge` runs into a matrix; `verify` a digest",
        description=__doc__.split("\n\n")[1] if __doc__ else None)
    report.add_argument("words", nargs="+", metavar="[merge|verify] RUN_DIR",
                        help="a run folder (reports/<run id>), or merge/verify followed by run folders")
    report.add_argument("--output", default=None, help="where to write (report: RUN_DIR; merge: reports/matrix)")
    signed = report.add_argument_group("verify BUNDLE (a `conformance bundle` archive)")
    signed.add_argument("--allowed-signers", default=None, metavar="FILE",
                        help="OpenSSH allowed_signers file: who may sign (see ssh-keygen(1) ALLOWED SIGNERS)")
    signed.add_argument("--key", action="append", default=[], metavar="PUB",
                        help="a public key allowed to sign (repeatable; with or without --allowed-signers)")
    signed.add_argument("--accept-other-code", action="store_true",
                        help="accept a bundle whose run was made by other suite code than this tool's: the "
                             "signature and contents are still checked, the cases run are not known to be this tool's")
    signed.add_argument("--require-certified", action="store_true",
                        help="exit 1 also when the bundle is genuine but its run is not CERTIFIED")
    report.set_defaults(func=handle)


def handle(args) -> int:
    verb, dirs = (args.words[0], args.words[1:]) if args.words[0] in VERBS else ("render", args.words)
    if not dirs:
        raise UsageError(f"report {verb}: name at least one run folder")
    if verb == "verify":
        return verify(dirs, args)
    if verb == "merge":
        from conformance.report import matrix

        return _print(matrix.write_matrix(dirs, args.output or "reports/matrix"))
    if len(dirs) > 1:
        raise UsageError("report: one run folder at a time (use `conformance report merge` for several)")
    from conformance.report import build

    return _print(build.write_reports(dirs[0], args.output))


def verify(dirs: list[str], args=None) -> int:
    from conformance.report import model

    bundles = [d for d in dirs if (Path(d).exists() and not Path(d).is_dir()) or d.endswith((".tar.gz", ".tgz"))]
    worst = verify_bundles(bundles, args) if bundles else 0
    bad = 0
    for run_dir in (d for d in dirs if d not in bundles):
        check = model.integrity(model.load(run_dir))
        stream = sys.stdout if check.ok else sys.stderr
        print(f"{run_dir}: {check.text}", file=stream)
        bad += 0 if check.ok else 1
    return max(worst, 1 if bad else 0)


def verify_bundles(paths: list[str], args) -> int:
    """Each bundle: every finding on its own line (stdout when it holds, stderr when not), then the
    verdict. Exit 1 when any bundle fails, 2 when this machine cannot check signatures."""
    from conformance.certify import bundle, signing
    from conformance.certify.verify import verify_bundle
    from conformance.core.errors import RunnerError
    from conformance.report import model
    from conformance.report.results import code_digest

    allowed, keys = getattr(args, "allowed_signers", None), getattr(args, "key", None) or []
    if not allowed and not keys:
        raise UsageError("report verify BUNDLE: name who may have signed it: --allowed-signers FILE and/or --key PUB")
    signers, mine, worst = signing.allowed_signers_text(allowed, keys), code_digest(), 0
    for path in paths:
        try:
            outcome = verify_bundle(path, signers=signers, code_sha256=mine, accept_other_code=args.accept_other_code,
                                    record_ok=lambda doc: model.integrity(doc).ok)
        except bundle.BundleError as exc:
            print(f"{exc}", file=sys.stderr)
            print(f"{path}: NOT verified: refused", file=sys.stderr)
            worst = max(worst, 1)
            continue
        except RunnerError as exc:
            print(f"{path}: not checked: {exc}", file=sys.stderr)
            worst = 2
            continue
        for finding in outcome.findings:
            print(f"{path}: {finding.text}", file=sys.stdout if finding.ok else sys.stderr)
        word = (outcome.certification or {}).get("word")
        if outcome.ok:
            print(f"{path}: verified: signed by {outcome.signer.text}; certification {word or 'not judged'}")
        else:
            print(f"{path}: NOT verified: {next(f.text for f in outcome.findings if not f.ok)}", file=sys.stderr)
        if not outcome.ok or (args.require_certified and word != "CERTIFIED"):
            worst = max(worst, 1)
    return worst


def _print(paths) -> int:
    for path in paths:
        print(path)
    return 0
