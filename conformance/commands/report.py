"""`conformance report`: render a run's report, merge runs into a matrix, verify a run's digest.

    conformance report RUN_DIR [--output DIR]          report.html + report.md (default: in RUN_DIR)
    conformance report merge RUN_DIR... [--output DIR] matrix.html + matrix.md (default: reports/matrix)
    conformance report verify RUN_DIR...               exit 1 when a results.json fails its digest check

One subcommand with a leading verb rather than nested subparsers, so that the everyday form stays
`conformance report RUN_DIR`.
"""

from __future__ import annotations

import sys

from conformance.core.errors import UsageError

VERBS = ("merge", "verify")


def register(subparsers) -> None:
    report = subparsers.add_parser(
        "report", help="render report.html/report.md of a run; `merge` runs into a matrix; `verify` a digest",
        description=__doc__.split("\n\n")[1] if __doc__ else None)
    report.add_argument("words", nargs="+", metavar="[merge|verify] RUN_DIR",
                        help="a run folder (reports/<run id>), or merge/verify followed by run folders")
    report.add_argument("--output", default=None, help="where to write (report: RUN_DIR; merge: reports/matrix)")
    report.set_defaults(func=handle)


def handle(args) -> int:
    verb, dirs = (args.words[0], args.words[1:]) if args.words[0] in VERBS else ("render", args.words)
    if not dirs:
        raise UsageError(f"report {verb}: name at least one run folder")
    if verb == "verify":
        return verify(dirs)
    if verb == "merge":
        from conformance.report import matrix

        return _print(matrix.write_matrix(dirs, args.output or "reports/matrix"))
    if len(dirs) > 1:
        raise UsageError("report: one run folder at a time (use `conformance report merge` for several)")
    from conformance.report import build

    return _print(build.write_reports(dirs[0], args.output))


def verify(dirs: list[str]) -> int:
    from conformance.report import model

    bad = 0
    for run_dir in dirs:
        check = model.integrity(model.load(run_dir))
        stream = sys.stdout if check.ok else sys.stderr
        print(f"{run_dir}: {check.text}", file=stream)
        bad += 0 if check.ok else 1
    return 1 if bad else 0


def _print(paths) -> int:
    for path in paths:
        print(path)
    return 0
