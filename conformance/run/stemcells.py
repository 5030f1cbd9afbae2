"""The run's stemcell: uploaded once per run through the CPI and shared by the xdist workers.

A file lock and a small state file in reports/<run>/ hold the cid and which workers use it; the
last worker to let go deletes it (through the CPI) and proves the image gone. A worker that comes
late, after a delete, uploads again: never a use of a deleted stemcell.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from conformance.core import waiting


@dataclass(frozen=True)
class Stemcell:
    cid: str
    manifest: dict[str, Any]
    image_path: str

    @property
    def cloud_properties(self) -> dict[str, Any]:
        return dict(self.manifest.get("cloud_properties") or {})


def tarball_path(profile, progress=print) -> Path:
    if profile.stemcell.path:
        return profile.path(profile.stemcell.path)
    from conformance.stemcell.build import ensure_stemcell

    return ensure_stemcell(progress=progress)


class SharedStemcell:
    def __init__(self, report_dir: Path, worker: str, upload, delete):
        self.state_file = report_dir / "stemcell.json"
        self.lock = FileLock(str(report_dir / "stemcell.lock"))
        self.worker, self.upload, self.delete = worker, upload, delete

    def _read(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def _write(self, state: dict[str, Any]) -> None:
        self.state_file.write_text(json.dumps(state))

    def acquire(self) -> str:
        with waiting.spent("cloud"):  # another worker may hold it while its create_stemcell runs
            self.lock.acquire()
        try:
            state = self._read()
            if not state.get("cid") or state.get("deleted"):
                state = {"cid": self.upload(), "users": []}
            state["users"] = sorted({*state["users"], self.worker})
            self._write(state)
            return state["cid"]
        finally:
            self.lock.release()

    def release(self) -> None:
        with self.lock:
            state = self._read()
            state["users"] = [u for u in state.get("users", []) if u != self.worker]
            if not state["users"] and state.get("cid") and not state.get("deleted"):
                self.delete(state["cid"])
                state["deleted"] = True
            self._write(state)


def extracted_image(tarball: Path) -> tuple[dict, str]:
    """The manifest and the path of the extracted ``image`` file (what the Director hands the CPI)."""
    from conformance.stemcell.tarball import extract_image, read_manifest

    folder = Path(tempfile.mkdtemp(prefix="cfm-stemcell-"))
    return read_manifest(tarball), str(extract_image(tarball, folder))
