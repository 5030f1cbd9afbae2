"""The BOSH CPI wire protocol: requests, responses, error types.

Shared by the client (conformance.cpi.client) and the reference CPI (conformance.refcpi), so it
imports nothing but the standard library. Facts: bosh-cpi-ruby lib/bosh/cpi/cli.rb, the bosh.io
"CPI API RPC" pages, and ../shared/notes/cpi-protocol.md.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

ERROR_PREFIX = "Bosh::Clouds::"

#: Limits on a JSON document read from the other side: nesting, digits of an integer.
MAX_DEPTH = 100
MAX_INT_DIGITS = 100

#: Error types the Director knows, plus the two the Ruby CPI library itself sends.
KNOWN_ERROR_TYPES = frozenset(
    ERROR_PREFIX + name
    for name in (
        "CpiError",
        "NotSupported",
        "NotImplemented",
        "CloudError",
        "VMNotFound",
        "NetworkNotFound",
        "NoDiskSpace",
        "DiskNotAttached",
        "DiskNotFound",
        "VMCreationFailed",
    )
) | {"InvalidCall", "Unknown"}

#: Every method of CPI API v1 and v2, with the number of positional arguments each takes
#: (a range where newer API versions add optional arguments).
METHODS: dict[str, tuple[int, int]] = {
    "info": (0, 0),
    "create_stemcell": (2, 3),
    "delete_stemcell": (1, 1),
    "create_vm": (6, 6),
    "delete_vm": (1, 1),
    "has_vm": (1, 1),
    "reboot_vm": (1, 1),
    "set_vm_metadata": (2, 2),
    "calculate_vm_cloud_properties": (1, 1),
    "create_disk": (3, 3),
    "delete_disk": (1, 1),
    "has_disk": (1, 1),
    "attach_disk": (2, 2),
    "detach_disk": (2, 2),
    "set_disk_metadata": (2, 2),
    "get_disks": (1, 1),
    "snapshot_disk": (2, 2),
    "delete_snapshot": (1, 1),
    "resize_disk": (2, 2),
    "update_disk": (3, 3),
    "current_vm_id": (0, 0),
    "ping": (0, 0),
}


def short_type(error_type: str) -> str:
    """``Bosh::Clouds::VMNotFound`` -> ``VMNotFound``."""
    return error_type.removeprefix(ERROR_PREFIX)


def full_type(name: str) -> str:
    """``VMNotFound`` -> ``Bosh::Clouds::VMNotFound``; InvalidCall and Unknown stay bare."""
    if name.startswith(ERROR_PREFIX) or name in ("InvalidCall", "Unknown"):
        return name
    return ERROR_PREFIX + name


class InvalidRequest(ValueError):
    """A request that does not follow the protocol (for the CPI side: answer InvalidCall)."""


class BrokenResponse(ValueError):
    """A response that does not follow the protocol. ``problem`` says which rule it broke."""

    def __init__(self, problem: str):
        self.problem = problem
        super().__init__(problem)


@dataclass(frozen=True)
class Request:
    method: str
    arguments: list[Any]
    context: dict[str, Any]
    api_version: int | None = None  # None: the request carries no api_version (CPI API v1)

    @property
    def request_id(self) -> str | None:
        return self.context.get("request_id")

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"method": self.method, "arguments": self.arguments, "context": self.context}
        if self.api_version is not None:
            doc["api_version"] = self.api_version
        return doc

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def parse(cls, text: str | bytes) -> Request:
        """Parse and check a request as a CPI receives it. Raises InvalidRequest."""
        try:
            doc = loads_limited(text)
        except ValueError as exc:
            raise InvalidRequest(f"request is not JSON: {str(exc)[:200]}") from None
        if not isinstance(doc, dict):
            raise InvalidRequest("request must be a JSON object")
        method, arguments = doc.get("method"), doc.get("arguments")
        context = doc.get("context")
        if not isinstance(method, str) or not method:
            raise InvalidRequest("request.method must be a non-empty string")
        if not isinstance(arguments, list):
            raise InvalidRequest("request.arguments must be a list")
        if not isinstance(context, dict) or not isinstance(context.get("director_uuid"), str):
            raise InvalidRequest("request.context.director_uuid must be given")
        api_version = doc.get("api_version")
        if api_version is not None and (not isinstance(api_version, int) or isinstance(api_version, bool)):
            raise InvalidRequest("request.api_version must be an integer")
        return cls(method, arguments, context, api_version)


@dataclass(frozen=True)
class ErrorInfo:
    type: str
    message: str
    ok_to_retry: bool

    @property
    def known(self) -> bool:
        return self.type in KNOWN_ERROR_TYPES


@dataclass(frozen=True)
class Response:
    result: Any = None
    error: ErrorInfo | None = None
    log: str = ""
    extra_keys: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        err = None
        if self.error is not None:
            err = {"type": self.error.type, "message": self.error.message, "ok_to_retry": self.error.ok_to_retry}
        return {"result": self.result, "error": err, "log": self.log}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def result_response(result: Any, log: str = "") -> Response:
    return Response(result=result, log=log)


def error_response(error_type: str, message: str, ok_to_retry: bool = False, log: str = "") -> Response:
    return Response(error=ErrorInfo(full_type(error_type), message, ok_to_retry), log=log)


class _Refused(ValueError):
    pass


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {len(text)} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:40]} is out of range (not a finite double)")
    return value


def _parse_constant(name: str):
    raise _Refused(f"{name} is not a JSON number")


def loads_limited(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads for the other side's output: strict UTF-8, finite numbers, integers of at most
    MAX_INT_DIGITS digits, at most ``max_depth`` levels. Raises ValueError saying which rule broke."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not UTF-8: byte 0x{text[exc.start]:02x} at offset {exc.start}") from None
    decoder = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    stripped = text.strip()
    try:
        doc, end = decoder.raw_decode(stripped)
    except RecursionError:
        raise ValueError(f"nested deeper than {max_depth} levels") from None
    except _Refused:
        raise
    except ValueError as exc:
        raise ValueError(exc.args[0] if exc.args else str(exc)) from None
    if stripped[end:].strip():
        raise _Trailing("more than one JSON document (or trailing text after it)")
    _check_tree(doc, max_depth)
    return doc


class _Trailing(ValueError):
    pass


def _check_tree(doc: Any, max_depth: int) -> None:
    """Nesting within ``max_depth`` and no lone UTF-16 surrogate (``"\\ud800"``) in any string or key:
    such a string is not Unicode and breaks every UTF-8 writer downstream. Iterative: any depth."""
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(f"a string holds a lone UTF-16 surrogate (\\u{ord(value[exc.start]):04x}), "
                                 "which is not Unicode") from None
        elif isinstance(value, dict | list):
            if depth > max_depth:
                raise ValueError(f"nested deeper than {max_depth} levels")
            if isinstance(value, dict):
                stack.extend((k, depth) for k in value)
                stack.extend((v, depth + 1) for v in value.values())
            else:
                stack.extend((v, depth + 1) for v in value)


def parse_response(stdout: bytes | str) -> Response:
    """Parse a CPI's stdout into a Response. Raises BrokenResponse naming the broken rule.

    The rules: exactly one JSON object; keys ``result`` and ``error`` present; ``error`` null or an
    object with string ``type``, string ``message`` and boolean ``ok_to_retry``; ``log`` a string
    when present. An error of a type the Director does not know is still parsed (``known`` False):
    the caller decides how strict to be.
    """
    if not stdout.strip():
        raise BrokenResponse("empty output on stdout (expected one JSON response)")
    try:
        doc = loads_limited(stdout)
    except _Trailing:
        raise BrokenResponse("stdout holds more than one JSON document (or trailing text after it)") from None
    except ValueError as exc:
        raise BrokenResponse(f"stdout is not JSON: {str(exc)[:300]}") from None
    if not isinstance(doc, dict):
        raise BrokenResponse(f"response must be a JSON object, got {type(doc).__name__}")
    if "result" not in doc:
        raise BrokenResponse("response has no 'result' key")
    if "error" not in doc:
        raise BrokenResponse("response has no 'error' key")
    log = doc.get("log", "")
    if log is None:
        log = ""
    if not isinstance(log, str):
        raise BrokenResponse(f"response 'log' must be a string, got {type(log).__name__}")
    extra = tuple(sorted(set(doc) - {"result", "error", "log"}))
    err = doc["error"]
    if err is None:
        return Response(result=doc["result"], log=log, extra_keys=extra)
    if not isinstance(err, dict):
        raise BrokenResponse(f"response 'error' must be null or an object, got {type(err).__name__}")
    etype, message, retry = err.get("type"), err.get("message"), err.get("ok_to_retry")
    if not isinstance(etype, str) or not etype:
        raise BrokenResponse("response 'error.type' must be a non-empty string")
    if not isinstance(message, str):
        raise BrokenResponse("response 'error.message' must be a string")
    if not isinstance(retry, bool):
        raise BrokenResponse("response 'error.ok_to_retry' must be a boolean")
    if doc["result"] is not None:
        raise BrokenResponse("response carries both a 'result' and an 'error'")
    return Response(result=None, error=ErrorInfo(etype, message, retry), log=log, extra_keys=extra)
