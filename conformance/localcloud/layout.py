"""Where the local cloud keeps its own state: one directory, so `down --purge` knows what to remove.

Service data stays where Debian's packages put it (/var/lib/nova, /var/lib/mysql, ...); what *we*
create lives here: pid files, daemon logs, the generated passwords, the SSH key, the facts file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_STATE_DIR = Path("/var/lib/cpi-conformance/localcloud")


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets.json"

    @property
    def ssh_dir(self) -> Path:
        return self.root / "ssh"

    @property
    def ssh_private_key(self) -> Path:
        return self.ssh_dir / "id_rsa"

    @property
    def facts(self) -> Path:
        return self.root / "localcloud.json"

    @property
    def cpi_json(self) -> Path:
        return self.root / "cpi.json"

    @property
    def debs(self) -> Path:
        return self.root / "debs"

    @property
    def osd_block(self) -> Path:
        return self.root / "ceph" / "osd0.block"

    def pidfile(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def create(self) -> None:
        """The root is 0700: it holds passwords and a private key."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        for sub in (self.logs, self.run, self.ssh_dir, self.debs, self.osd_block.parent):
            sub.mkdir(exist_ok=True)
        os.chmod(self.ssh_dir, 0o700)


def write_private(path: Path, text: str, mode: int = 0o600) -> bool:
    """Write ``text`` with ``mode`` from the first byte on; return whether anything changed."""
    if path.exists() and path.read_text() == text:
        if path.stat().st_mode & 0o777 != mode:
            os.chmod(path, mode)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def write_json(path: Path, data: object, mode: int = 0o644) -> bool:
    return write_private(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode)
