"""`conformance`: the command line. Subcommands register themselves from their packages."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from conformance import __version__
from conformance.core.errors import ConformanceError

# Each entry: a module with ``register(subparsers)`` that adds its subcommand(s) and sets
# ``func=handler`` where ``handler(args) -> int`` returns the exit code.
SUBCOMMAND_MODULES = (
    "conformance.commands.run",
    "conformance.commands.preflight",
    "conformance.commands.profile",
    "conformance.commands.cpi",
    "conformance.commands.cleanup",
    "conformance.commands.report",
    "conformance.commands.nightly",
    "conformance.commands.host",
    "conformance.commands.bundle",
    "conformance.commands.catalogue",
    "conformance.localcloud.cli",
    "conformance.stemcell.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conformance", description="Conformance suite for BOSH CPIs and their clouds."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    parser.add_argument("--version", action="version", version=f"cpi-conformance {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # not written yet: leave it out rather than break the CLI
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except ConformanceError as exc:
        print(f"conformance {args.command}: {exc}", file=sys.stderr)
        return 2 if exc.__class__.__name__ in ("ProfileError", "UsageError") else 1
    except KeyboardInterrupt:
        print(f"conformance {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
