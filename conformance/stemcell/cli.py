"""`conformance stemcell build`: build (or find in the cache) the test stemcell, print its path."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("stemcell", help="the test stemcell built from Debian packages")
    actions = parser.add_subparsers(dest="stemcell_command", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build",
        help="build the test stemcell tarball unless the cache has the current one",
        description="Builds a small BOSH stemcell (Debian bookworm, conformance agent) as root; "
        "prints the tarball's path on stdout, progress on stderr.",
    )
    build.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="cache directory (default: ${XDG_CACHE_HOME:-~/.cache}/cpi-conformance/stemcells)",
    )
    build.add_argument("--force", action="store_true", help="rebuild even if the cache has it")
    build.set_defaults(func=handle_build)


def handle_build(args: argparse.Namespace) -> int:
    from conformance.stemcell.build import ensure_stemcell  # heavy imports only when used

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    path = ensure_stemcell(args.output_dir, force=args.force, progress=progress)
    print(path)
    return 0
