"""Errors of the stemcell package: a build step that failed, a tarball that is not a stemcell."""

from __future__ import annotations

from conformance.core.errors import ConformanceError


class StemcellBuildError(ConformanceError):
    """A build step failed. Names the step, the command, its exit status and the build log."""

    def __init__(self, step: str, problem: str, log_path: str | None = None, output_tail: str = ""):
        self.step, self.problem, self.log_path, self.output_tail = step, problem, log_path, output_tail
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"stemcell build, step {self.step!r}: {self.problem}"
        if self.output_tail:
            text += f"; last output: {self.output_tail.strip()[-400:]}"
        if self.log_path:
            text += f" (full log: {self.log_path})"
        return text


class StemcellFormatError(ConformanceError):
    """A file that is not a usable BOSH stemcell tarball (or its image)."""

    def __init__(self, path: str, problem: str):
        self.path, self.problem = path, problem
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"
