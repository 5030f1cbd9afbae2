"""``conformance-openstack-cpi <cpi.json> [<cacert.pem>]``: one request on stdin, one response on stdout.

Started like the official CPI, once per call. Whatever happens, stdout carries exactly one JSON
envelope (the exit code means nothing to the Director; we exit 0 as the Ruby library does) and
every string in it, and on stderr, has passed the secret scrubber. Logs go to stderr and, bounded,
into the response's ``log``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from typing import Any

from conformance.cpi.protocol import InvalidRequest, Request, Response, error_response, result_response
from conformance.refcpi import config as cpi_config
from conformance.refcpi import logs
from conformance.refcpi.errors import CloudError, CpiFailure, InvalidCall

LOG = logging.getLogger("conformance.refcpi")
USAGE = "usage: conformance-openstack-cpi <cpi.json> [<cacert.pem>]"


def harvest_secrets(path: str, scrubber: logs.Scrubber) -> None:
    """Teach the scrubber every secret-keyed value in cpi.json before anything can be emitted."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in cpi_config.SECRET_KEYS or "password" in str(key) or "secret" in str(key):
                    scrubber.add(value)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    try:
        with open(path, encoding="utf-8") as handle:
            walk(json.load(handle))
    except (OSError, ValueError):
        return  # config.load reports it properly


def _failure_for(exc: BaseException) -> CpiFailure:
    if isinstance(exc, CpiFailure):
        return exc
    if type(exc).__module__.startswith(("openstack", "keystoneauth1")):
        from conformance.refcpi.connection import translate

        return translate(exc) or CloudError(str(exc))
    LOG.error("unexpected error:\n%s", traceback.format_exc())
    failure = CpiFailure(f"{type(exc).__name__}: {exc}")
    failure.type_name = "Unknown"
    return failure


def handle(argv: list[str], stdin: bytes, scrubber: logs.Scrubber) -> tuple[Any, CpiFailure | None]:
    """Parse, configure, dispatch. Returns (result, failure)."""
    if not argv:
        return None, CloudError(USAGE)
    harvest_secrets(argv[0], scrubber)
    try:
        request = Request.parse(stdin)
    except InvalidRequest as exc:
        return None, InvalidCall(f"Invalid request: {exc}")
    from conformance.refcpi import dispatch

    the_call = None
    try:
        dispatch.check(request.method, request.arguments)
        config = cpi_config.load(argv[0], request.context)
        for secret in config.secrets():
            scrubber.add(secret)
        the_call = dispatch.Call(config, scrubber, request.api_version, argv[1] if len(argv) > 1 else None)
        return dispatch.call(request.method, the_call, request.arguments), None
    except Exception as exc:
        return None, _failure_for(exc)
    finally:
        if the_call is not None:
            the_call.close()


def respond(
    result: Any, failure: CpiFailure | None, capture: logs.CaptureHandler, scrubber: logs.Scrubber
) -> str:
    log = capture.text()
    if failure is None:
        response: Response = result_response(scrubber.scrub_value(result), log=log)
    else:
        response = error_response(
            failure.type_name, scrubber.scrub(failure.message), failure.ok_to_retry, log=log
        )
    return response.to_json()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    scrubber = logs.Scrubber()
    capture = logs.setup(scrubber)
    started = time.monotonic()
    stdout, sys.stdout = sys.stdout, sys.stderr  # a stray print must not break the one-envelope rule
    try:
        stdin = sys.stdin.buffer.read()
        result, failure = handle(argv, stdin, scrubber)
    except BaseException as exc:  # even KeyboardInterrupt: stdout must carry one envelope
        result, failure = None, _failure_for(exc) if isinstance(exc, Exception) else CloudError("interrupted")
    finally:
        sys.stdout = stdout
    if failure is not None:
        LOG.error("%s: %s", failure.type_name, failure.message)
    LOG.info("done in %.2fs", time.monotonic() - started)
    sys.stdout.write(respond(result, failure, capture, scrubber) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
