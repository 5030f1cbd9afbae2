"""`conformance profile check [--resolve] FILE...`, `conformance profile init [--force] [PATH]`"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from conformance.core.errors import UsageError
from conformance.profile import load_profile

#: Where `profile init` writes when given no path.
DEFAULT_INIT_PATH = "profile.yml"


def register(subparsers) -> None:
    profile = subparsers.add_parser("profile", help="work with target profiles")
    sub = profile.add_subparsers(dest="profile_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate profiles (schema, addresses, ranges) without any cloud call")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--resolve", action="store_true",
                       help="also resolve the clouds.yaml entry, ${ENV} references, the CPI config and SSH key")
    check.set_defaults(func=check_profiles)
    init = sub.add_parser("init", help="write the documented example profile (every key) to fill in")
    init.add_argument("path", nargs="?", default=DEFAULT_INIT_PATH, metavar="PATH",
                      help=f"where to write it (default: {DEFAULT_INIT_PATH})")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(func=init_profile)


def example_text() -> str:
    """The documented example profile shipped in the package (profiles/example.yml links to it)."""
    return resources.files("conformance.profile").joinpath("example.yml").read_text(encoding="utf-8")


def init_profile(args) -> int:
    path = Path(args.path)
    if path.is_dir():
        raise UsageError(f"init: {path} is a folder: name the file to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("w" if args.force else "x", encoding="utf-8") as out:  # "x": never overwrite
            out.write(example_text())
    except FileExistsError:
        raise UsageError(f"init: {path} exists: not overwritten (--force replaces it)") from None
    print(f"{path}: the example profile, every key documented: fill in your cloud and CPI, then "
          f"`conformance profile check {path}`")
    return 0


def check_profiles(args) -> int:
    for file in args.files:
        profile = load_profile(file, resolve=args.resolve)  # ProfileError -> exit 2 via the CLI
        if args.resolve:  # the CPI executable as `conformance run`'s preflight finds it
            from conformance.run import preflight

            check = preflight.check_cpi_command(profile)
            if check.status == "missing":
                print(f"conformance profile: {file}: cpi.command: {check.text}", file=sys.stderr)
                return 2
        nets = profile.networks
        print(f"{file}: ok: profile {profile.name!r}, release {profile.release}, "
              f"{len(nets.manual)} manual network(s), dynamic {'yes' if nets.dynamic else 'no'}, "
              f"vip {'yes' if nets.vip else 'no'}, CPI api_version {profile.cpi.api_version}"
              + (f", {len(profile.secrets)} secret(s) known for leak scanning" if args.resolve else ""))
    return 0
