"""`conformance cpi call`: one CPI call, printed with its duration and transcript. For CPI developers."""

from __future__ import annotations

import json
import math
import os
import shlex
import sys
import tempfile
from pathlib import Path

from conformance.core import safeload
from conformance.core.errors import UsageError
from conformance.core.secrets import secrets_in
from conformance.cpi.client import CpiClient
from conformance.cpi.errors import CpiCallError, CpiError
from conformance.profile import load_profile
from conformance.profile.resolve import load_cpi_config, render_cpi_command


def register(subparsers) -> None:
    cpi = subparsers.add_parser("cpi", help="talk to a CPI directly")
    sub = cpi.add_subparsers(dest="cpi_command", metavar="ACTION", required=True)
    call = sub.add_parser("call", help="make one CPI call and print the answer, duration and transcript")
    src = call.add_mutually_exclusive_group(required=True)
    src.add_argument("--profile", help="take the CPI command and config from this profile")
    src.add_argument("--cpi", help='the CPI command line, e.g. "conformance-openstack-cpi {cpi_config}"')
    call.add_argument("--cpi-config", help="the CPI's JSON config (with --cpi); ${ENV} references resolved")
    call.add_argument("--api-version", type=int, choices=(1, 2), default=None)
    call.add_argument("--timeout", type=float, default=None, help="seconds (default: the profile's cpi_call, or 900)")
    call.add_argument("--context", default="{}", help="JSON object merged into the request context")
    call.add_argument("method")
    call.add_argument("arguments", nargs="?", default="[]", help="JSON list of positional arguments")
    call.set_defaults(func=cpi_call)


#: The longest --timeout a call may have (a day).
MAX_TIMEOUT = 86400.0


def _json(text: str, what: str, kind: type):
    try:
        value = safeload.loads_json(text)
    except safeload.LoadError as exc:
        problem = exc.problem.removeprefix("not valid JSON: ")
        raise UsageError(f"{what} is not JSON: {problem}" if problem != exc.problem
                         else f"{what}: {problem}") from None
    if not isinstance(value, kind):
        raise UsageError(f"{what} must be a JSON {'list' if kind is list else 'object'}")
    return value


def _timeout(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise UsageError(f"--timeout: {value:g} is not a number of seconds in (0, {MAX_TIMEOUT:g}]")
    return value


def _command(text: str) -> list[str]:
    try:
        command = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"--cpi: cannot split the command line: {exc}") from None
    if not command:
        raise UsageError("--cpi: the command is empty (give the CPI executable and its arguments)")
    return command


def build_client(args, private_dir: str) -> CpiClient:
    timeout_arg = _timeout(args.timeout)
    if args.profile:
        profile = load_profile(args.profile, resolve=True)
        doc, command, secrets = profile.cpi_config_doc, profile.command_with_dirs(), set(profile.secrets)
        api_version, timeout, env = profile.cpi.api_version, profile.timeouts.cpi_call, profile.cpi.env
    else:
        command, secrets, doc = _command(args.cpi), set(), None
        if args.cpi_config:
            doc = load_cpi_config("--cpi-config", Path(args.cpi_config), os.environ, secrets)
            secrets |= secrets_in(doc)
        api_version, timeout, env = 2, 900.0, {}
    if doc is not None:
        command = render_cpi_command(command, doc, Path(private_dir))
    return CpiClient(command, api_version=args.api_version or api_version, env=env, secrets=secrets,
                     timeout=timeout_arg or timeout, raise_on_leak=False)


def cpi_call(args) -> int:
    arguments = _json(args.arguments, "arguments", list)
    context = _json(args.context, "--context", dict)
    with tempfile.TemporaryDirectory(prefix="cfm-cpi-") as private:
        client = build_client(args, private)
        try:
            result = client.call(args.method, *arguments, context=context)
            code = 0
            print(json.dumps({"result": client.redactor.doc(result)}, indent=2, default=str))
        except CpiCallError as exc:
            code = 1
            print(f"error: {exc}", file=sys.stderr)
            if isinstance(exc, CpiError):
                print(json.dumps({"error": {"type": exc.type, "message": exc.message,
                                            "ok_to_retry": exc.ok_to_retry}}, indent=2))
    record = client.records[-1]
    print(f"\nduration: {record.duration:.2f}s  exit code: {record.exit_code}", file=sys.stderr)
    print("transcript:\n  " + record.summary(), file=sys.stderr)
    if record.log:
        print("cpi log (tail):\n" + record.log[-4000:], file=sys.stderr)
    if record.stderr:
        print("cpi stderr (tail):\n" + record.stderr[-4000:], file=sys.stderr)
    if record.leaked_in:
        print(f"SECRET LEAK: the CPI wrote a configured secret in {', '.join(record.leaked_in)} "
              "(value withheld)", file=sys.stderr)
        code = 3
    return code
