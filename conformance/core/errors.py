"""One exception tree. Every error carries its evidence as fields, never a secret.

Messages are built from fields in ``__str__`` so that the evidence stays machine-readable
(reports read the fields) and a human gets one line that says what happened.
"""

from __future__ import annotations


class ConformanceError(Exception):
    """Base of every error the suite raises on purpose."""


class UsageError(ConformanceError):
    """Bad command-line input; the CLI exits 2 with the message."""


class ProfileError(ConformanceError):
    """A profile that cannot be used: names the file and the key path."""

    def __init__(self, file: str, path: str, problem: str):
        self.file, self.path, self.problem = file, path, problem
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}: " if self.path else f"{self.file}: "
        return where + self.problem


class WaitTimeout(ConformanceError):
    """A wait reached its deadline. Says what it waited for and what it last saw."""

    def __init__(self, what: str, timeout: float, polls: int, last_seen: str, last_error: str | None):
        self.what, self.timeout, self.polls = what, timeout, polls
        self.last_seen, self.last_error = last_seen, last_error
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"timed out after {self.timeout:g}s waiting for {self.what}; "
            f"last observed (after {self.polls} polls): {self.last_seen}; "
            f"last error: {self.last_error or 'none'}"
        )


class WaitFailed(ConformanceError):
    """A wait saw a failure state and stopped at once."""

    def __init__(self, what: str, state: str, elapsed: float):
        self.what, self.state, self.elapsed = what, state, elapsed
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"gave up waiting for {self.what} after {self.elapsed:.1f}s: failure state {self.state}"


class CleanupError(ConformanceError):
    """One or more cleanup steps failed; every step was still run."""

    def __init__(self, failures: list[tuple[str, BaseException]]):
        self.failures = failures
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [f"{len(self.failures)} cleanup step(s) failed:"]
        lines += [f"  - {desc}: {type(exc).__name__}: {exc}" for desc, exc in self.failures]
        return "\n".join(lines)


class GuestCommandFailed(ConformanceError):
    """A command run in the guest over SSH exited non-zero."""

    def __init__(self, host: str, command: str, exit_status: int, stdout: str, stderr: str):
        self.host, self.command, self.exit_status = host, command, exit_status
        self.stdout, self.stderr = stdout, stderr
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"guest {self.host}: `{self.command}` exited {self.exit_status}; "
            f"stderr: {self.stderr.strip()[-500:] or '(empty)'}"
        )


class RunnerError(ConformanceError):
    """The machine that runs the suite lacks something a test needs (a tool, a route, a file).

    Never a verdict on the CPI or the cloud: results.json records such a test as an error with
    ``"blame": "runner"``, and the capability table says "runner error", not "no".
    """

    def __init__(self, problem: str, hint: str = ""):
        self.problem, self.hint = problem, hint
        super().__init__(str(self))

    @property
    def detail(self) -> str:
        """The problem with its hint: "ping is not installed (Debian: apt-get install iputils-ping)"."""
        return self.problem + (f" ({self.hint})" if self.hint else "")

    def __str__(self) -> str:
        return f"test runner: {self.detail}"
