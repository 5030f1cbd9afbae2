"""`conformance host install|check [GROUP...]`: this machine's Debian packages, by purpose."""

from __future__ import annotations

import sys
from pathlib import Path

from conformance import hostdeps
from conformance.core.errors import UsageError

ALL = ("runner", "component", "stemcell", "localcloud")


def register(subparsers) -> None:
    parser = subparsers.add_parser("host", help="install or check what this machine needs from Debian")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (("install", "apt-get install the groups' packages (root), in the order given"),
                       ("check", "look for every program and file the groups' code needs")):  # fmt: skip
        action = actions.add_parser(name, help=text)
        action.add_argument("groups", nargs="*", metavar="GROUP",
                            help=f"one or more of {', '.join(ALL)} (default: all)")
        action.set_defaults(func=install if name == "install" else check)
    actions.choices["check"].add_argument("--root", type=Path, default=Path("/"),
                                          help="look for absolute paths under this root (default /)")


def selected(args) -> list[str]:
    unknown = [g for g in args.groups if g not in ALL]
    if unknown:
        raise UsageError(f"unknown group(s) {', '.join(unknown)}: choose from {', '.join(ALL)}")
    return args.groups or list(ALL)


def install(args) -> int:
    from conformance.localcloud.procs import CommandFailed

    names = selected(args)
    try:
        done = hostdeps.install(names, progress=lambda line: print(f"conformance host: {line}", flush=True))
    except CommandFailed as exc:  # apt-get's own words are the useful part
        print(f"conformance host: {exc}\n{exc.tail}", file=sys.stderr)
        return 1
    print(f"conformance host: {', '.join(names)}: " + (f"installed {len(done)} package(s)" if done else "all present"))
    return check(args)


def check(args) -> int:
    names, table = selected(args), hostdeps.groups()
    bad = 0
    for name in names:
        gone = table[name].missing(root=getattr(args, "root", Path("/")))
        bad += len(gone)
        for need in gone:
            print(f"conformance host: {name}: {need} is missing: needed by {table[name].why}", file=sys.stderr)
    print(f"conformance host: {', '.join(names)}: {'ok' if not bad else f'{bad} missing'}")
    return 2 if bad else 0
