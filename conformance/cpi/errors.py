"""What can go wrong in one CPI call. Every error names the method and the request id; texts
that come from the CPI are redacted before they get here."""

from __future__ import annotations

from conformance.core.errors import ConformanceError
from conformance.cpi.protocol import KNOWN_ERROR_TYPES, short_type


class CpiCallError(ConformanceError):
    """Base: a CPI call did not give a usable answer."""

    def __init__(self, method: str, request_id: str, record=None):
        self.method, self.request_id, self.record = method, request_id, record
        super().__init__(str(self))


class CpiError(CpiCallError):
    """The CPI answered with an error envelope."""

    def __init__(self, method, request_id, type: str, message: str, ok_to_retry: bool, log: str = "", record=None):
        self.type, self.message, self.ok_to_retry, self.log = type, message, ok_to_retry, log
        super().__init__(method, request_id, record)

    @property
    def short_type(self) -> str:
        return short_type(self.type)

    @property
    def known(self) -> bool:
        return self.type in KNOWN_ERROR_TYPES

    def __str__(self) -> str:
        unknown = "" if self.known else " (not an error type the Director knows)"
        return (f"CPI {self.method} (request {self.request_id}) failed: {_cut(self.type, 200)}{unknown}: "
                f"{self.message[:2000]} [ok_to_retry={str(self.ok_to_retry).lower()}]")


class CpiBrokenResponse(CpiCallError):
    """The CPI's answer does not follow the protocol."""

    def __init__(self, method, request_id, problem: str, exit_code: int | None = None, stdout_excerpt: str = "",
                 stderr_tail: str = "", record=None):
        self.problem, self.exit_code = problem, exit_code
        self.stdout_excerpt, self.stderr_tail = stdout_excerpt, stderr_tail
        super().__init__(method, request_id, record)

    def __str__(self) -> str:
        text = f"CPI {self.method} (request {self.request_id}) gave a broken answer: {self.problem}"
        if self.exit_code is not None:
            text += f" (exit code {self.exit_code})"
        if self.stdout_excerpt:
            text += f"; stdout began: {self.stdout_excerpt!r}"
        if self.stderr_tail:
            text += f"; stderr ended: {self.stderr_tail[-300:]!r}"
        return text


class CpiTimeout(CpiCallError):
    """The CPI did not answer in time; it was killed with its process group."""

    def __init__(self, method, request_id, timeout: float, stderr_tail: str = "", record=None):
        self.timeout, self.stderr_tail = timeout, stderr_tail
        super().__init__(method, request_id, record)

    def __str__(self) -> str:
        return (f"CPI {self.method} (request {self.request_id}) hung: no answer after {self.timeout:g}s; "
                f"killed with its process group; stderr ended: {self.stderr_tail[-300:]!r}")


class CpiNotRunnable(CpiCallError):
    """The CPI command could not be started."""

    def __init__(self, method, request_id, command: str, reason: str, record=None):
        self.command, self.reason = command, reason
        super().__init__(method, request_id, record)

    def __str__(self) -> str:
        return f"CPI {self.method}: cannot run {self.command!r}: {self.reason}"


class SecretLeak(CpiCallError):
    """The CPI wrote a known secret into its answer, log or stderr. The secret is not repeated."""

    def __init__(self, method, request_id, places: list[str], record=None):
        self.places = places
        super().__init__(method, request_id, record)

    def __str__(self) -> str:
        return (f"CPI {self.method} (request {self.request_id}) leaked a configured secret in "
                f"{', '.join(self.places)} (value withheld; redacted from every record)")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"
