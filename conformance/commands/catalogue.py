"""`conformance catalogue`: the conformance catalogue (case id, capability, MUST sentence, the source
it cites, since which version) generated from the suites, without a cloud.

    conformance catalogue [--output docs]   write docs/catalogue.json and docs/catalogue.md
    conformance catalogue --check           exit 1 when the files in --output are not current
"""

from __future__ import annotations

import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("catalogue", help="generate (or --check) the conformance catalogue from the suites",
                                   description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--output", default="docs", help="where catalogue.json and catalogue.md go (default: docs)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the catalogue is out of date")
    parser.set_defaults(func=handle)


def handle(args) -> int:
    from conformance.certify import catalogue

    folder = Path(args.output)
    if args.check:
        problems = catalogue.stale(folder)
        for problem in problems:
            print(f"conformance catalogue: {problem}: run `{catalogue.REGENERATE}`", file=sys.stderr)
        if not problems:
            print(f"conformance catalogue: {folder} is current")
        return 1 if problems else 0
    for path in catalogue.regenerate(folder):
        print(path)
    return 0
