"""Errors of the guest witness. Each names the host and the command or file it was about, and
never the key: the SSH key is a secret and its path is the only thing about it we ever print.

A command that exits non-zero is ``conformance.core.errors.GuestCommandFailed`` (shared with the
suites); these are the other ways talking to a guest goes wrong.
"""

from __future__ import annotations

from conformance.core.errors import ConformanceError


class GuestError(ConformanceError):
    """Base of the guest witness's own errors."""


class GuestCommandTimeout(GuestError):
    """A command did not finish within its timeout (the channel was closed on it)."""

    def __init__(self, host: str, command: str, timeout: float, stdout: str, stderr: str):
        self.host, self.command, self.timeout = host, command, timeout
        self.stdout, self.stderr = stdout, stderr
        super().__init__(str(self))

    def __str__(self) -> str:
        tail = (self.stderr.strip() or self.stdout.strip())[-300:] or "(no output)"
        return f"guest {self.host}: `{self.command}` still running after {self.timeout:g}s; output so far: {tail}"


class GuestConnectionLost(GuestError):
    """The SSH connection broke while a command was being started or run."""

    def __init__(self, host: str, command: str, detail: str):
        self.host, self.command, self.detail = host, command, detail
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"guest {self.host}: SSH connection lost running `{self.command}`: {self.detail}"


class GuestKeyError(GuestError):
    """The private key file cannot be used. Names the path, never the content or passphrase."""

    def __init__(self, key_path: str, detail: str):
        self.key_path, self.detail = key_path, detail
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"SSH private key {self.key_path} cannot be loaded: {self.detail}"


class GuestOutputError(GuestError):
    """A guest tool printed something its parser cannot read (the output is kept as evidence)."""

    def __init__(self, host: str, command: str, problem: str, output: str):
        self.host, self.command, self.problem, self.output = host, command, problem, output
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"guest {self.host}: cannot read the output of `{self.command}`: {self.problem}: {self.output[:300]!r}"


class ConfigDriveError(GuestError):
    """No config drive found, or it lacks what was asked of it. ``detail`` says what was seen."""

    def __init__(self, host: str, problem: str, detail: str = ""):
        self.host, self.problem, self.detail = host, problem, detail
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"guest {self.host}: {self.problem}" + (f"; {self.detail}" if self.detail else "")
