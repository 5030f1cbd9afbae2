"""Logging for one CPI call: to stderr and into the response ``log``, always scrubbed.

The official CPI prints its Keystone password in a ping error; this one must never emit a secret.
Every string that leaves the process (log lines, error messages, the result) passes through a
``Scrubber`` that knows the configured secrets (api_key, password, token values) and also masks
the shapes secrets take in HTTP dumps (``X-Auth-Token: ...``, ``"password": "..."``).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

REDACTED = "<redacted>"
LOG_LIMIT = 64 * 1024  # characters of log kept for the response (the tail: the end explains the failure)

_PATTERNS = [
    re.compile(r"(?i)(x-(?:auth|subject)-token['\"]?\s*[:=]\s*['\"]?)([^'\"\s,}]+)"),
    re.compile(
        r"(?i)(['\"]?(?:password|api_key|secret|token|application_credential_secret)['\"]?"
        r"\s*[:=]\s*['\"]?)([^'\"\s,}]+)"
    ),
]


class Scrubber:
    """Replaces known secret values and secret-looking key/value pairs in any text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, value: Any) -> None:
        if isinstance(value, str) and len(value) >= 3:
            self._secrets.add(value)

    def scrub(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text

    def scrub_value(self, value: Any) -> Any:
        """Scrub strings inside a JSON-like value (a result going back on stdout)."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list):
            return [self.scrub_value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.scrub_value(v) for k, v in value.items()}
        return value


class CaptureHandler(logging.Handler):
    """Writes each scrubbed record to stderr and keeps a bounded copy for the response."""

    def __init__(self, scrubber: Scrubber, limit: int = LOG_LIMIT):
        super().__init__(logging.DEBUG)
        self.scrubber, self.limit = scrubber, limit
        self._lines: list[str] = []
        self._size = 0
        self._dropped = 0
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.scrubber.scrub(self.format(record))
        except Exception:  # a logging failure must never break the CPI call
            return
        sys.stderr.write(line + "\n")
        self._lines.append(line)
        self._size += len(line) + 1
        while self._size > self.limit and len(self._lines) > 1:
            self._size -= len(self._lines[0]) + 1
            self._dropped += len(self._lines.pop(0)) + 1

    def text(self) -> str:
        head = f"[... {self._dropped} characters of earlier log dropped ...]\n" if self._dropped else ""
        return self.scrubber.scrub(head + "\n".join(self._lines))


def setup(scrubber: Scrubber) -> CaptureHandler:
    """Route our logger (DEBUG) and the SDK's (INFO: no HTTP bodies) through one capture."""
    handler = CaptureHandler(scrubber)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("conformance.refcpi").setLevel(logging.DEBUG)
    logging.captureWarnings(True)  # the SDK's deprecation warnings: kept out of stderr and the log
    for noisy in ("keystoneauth", "openstack", "urllib3", "stevedore", "py.warnings"):
        logging.getLogger(noisy).setLevel(logging.ERROR if noisy == "py.warnings" else logging.WARNING)
    return handler
