"""`conformance profile check [--resolve] FILE...`"""

from __future__ import annotations

import sys

from conformance.profile import load_profile


def register(subparsers) -> None:
    profile = subparsers.add_parser("profile", help="work with target profiles")
    sub = profile.add_subparsers(dest="profile_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate profiles (schema, addresses, ranges) without any cloud call")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--resolve", action="store_true",
                       help="also resolve the clouds.yaml entry, ${ENV} references, the CPI config and SSH key")
    check.set_defaults(func=check_profiles)


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
