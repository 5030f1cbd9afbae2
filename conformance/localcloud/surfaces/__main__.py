"""``python -m conformance.localcloud.surfaces --release liberty``: one release's gateway, in the
foreground, until SIGTERM or SIGINT (the local cloud's daemons module runs it in its own session)."""

from __future__ import annotations

import argparse
import logging
import sys

from conformance.localcloud.surfaces.release_apis import SURFACES
from conformance.localcloud.surfaces.rewrite import UPSTREAM


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m conformance.localcloud.surfaces")
    parser.add_argument("--release", required=True, choices=sorted(SURFACES))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, help="default: the release's port in release_apis")
    parser.add_argument("--upstream", action="append", default=[], metavar="SERVICE=URL",
                        help=f"a real service's root (default: the local cloud's; services: {', '.join(UPSTREAM)})")
    args = parser.parse_args(argv)
    upstream = dict(UPSTREAM)
    for item in args.upstream:
        service, sep, url = item.partition("=")
        if not sep or service not in UPSTREAM or not url.startswith("http"):
            parser.error(f"--upstream {item!r}: expected SERVICE=http://HOST:PORT with SERVICE one of {list(UPSTREAM)}")
        upstream[service] = url.rstrip("/")
    args.upstream_map = upstream
    return args


def main(argv: list[str] | None = None) -> int:
    from aiohttp import web

    from conformance.localcloud.surfaces.gateway import ACCESS_LOG, Gateway

    args = parse_args(sys.argv[1:] if argv is None else argv)
    release = SURFACES[args.release]
    port = args.port or release.port
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    gateway = Gateway(release, f"http://{args.host}:{port}", args.upstream_map)
    logging.getLogger("conformance.surfaces").info("%s on http://%s:%d", release.label, args.host, port)
    web.run_app(gateway.app(), host=args.host, port=port, print=None, access_log_format=ACCESS_LOG)
    return 0


if __name__ == "__main__":
    sys.exit(main())
