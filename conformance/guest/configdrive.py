"""Read the OpenStack config drive the way a guest agent does: find the file system labelled
config-2 (a cdrom with iso9660 or one more disk with vfat, per Nova's config_drive_format),
mount it read-only in a temporary directory, read the files the BOSH agent and cloud-init use,
unmount.

All of it is one sudo shell script with a trap, so that the drive is unmounted and the temporary
directory removed even when a read fails half-way. File contents come back base64-encoded, one
per line, so that any bytes survive and the listing parses without guessing where a file ends.
"""

from __future__ import annotations

import base64
import binascii
import json
import shlex
from dataclasses import dataclass, field
from typing import Any, Protocol

from conformance.guest import probes
from conformance.guest.errors import ConfigDriveError

# What the suites check; a file the drive does not hold is simply absent from ConfigDrive.files.
FILES = (
    "openstack/latest/meta_data.json",
    "openstack/latest/user_data",
    "openstack/latest/network_data.json",
    "ec2/latest/user-data",
    "ec2/latest/meta-data.json",
)
# Nova writes the label in lower case; a vfat drive made by other tools may show it upper case.
LABELS = ("config-2", "CONFIG-2")


class _Runs(Protocol):
    host: str

    def run(self, command: str, timeout: float | None = None, sudo: bool = False, check: bool = True) -> Any: ...


@dataclass(frozen=True)
class ConfigDrive:
    """What the drive held: ``files`` maps the paths in FILES that exist to their text;
    ``listing`` is every file on the drive (evidence for a message when one is missing)."""

    device: str
    label: str
    fstype: str
    files: dict[str, str]
    listing: tuple[str, ...] = ()
    host: str = field(default="", compare=False)

    def _json(self, path: str, required: bool) -> Any:
        if path not in self.files:
            if required:
                raise ConfigDriveError(self.host, f"config drive {self.device} has no {path}",
                                       f"it holds {sorted(self.listing)}")
            return None
        try:
            return json.loads(self.files[path])
        except json.JSONDecodeError as exc:
            raise ConfigDriveError(self.host, f"{path} on config drive {self.device} is not JSON: {exc}",
                                   f"content starts {self.files[path][:200]!r}") from None

    @property
    def meta_data(self) -> dict:
        return self._json("openstack/latest/meta_data.json", required=True)

    @property
    def user_data(self) -> dict:
        """The agent settings the CPI wrote (JSON)."""
        return self._json("openstack/latest/user_data", required=True)

    @property
    def network_data(self) -> dict | None:
        return self._json("openstack/latest/network_data.json", required=False)

    @property
    def ec2_user_data(self) -> dict | None:
        return self._json("ec2/latest/user-data", required=False)

    @property
    def ec2_meta_data(self) -> dict | None:
        """What the BOSH agent reads its SSH key from (public-keys "0" openssh-key)."""
        return self._json("ec2/latest/meta-data.json", required=False)


def find_device_script() -> str:
    """Devices with a config-2 label; blkid without its cache (-c /dev/null) so that a cdrom
    inserted after boot is seen. blkid exits 2 when nothing matches: that is not an error here."""
    return "; ".join(f"blkid -c /dev/null -t LABEL={label} -o device" for label in LABELS) + "; true"


def read_script(device: str, files: tuple[str, ...] = FILES) -> str:
    """Mount ``device`` read-only in a fresh temporary directory, print ``list <path>`` for each
    file on it and ``file <path> <base64>`` for each of ``files`` that exists; always unmount."""
    wanted = " ".join(shlex.quote(f) for f in files)
    return "\n".join([
        "set -e",
        "dir=$(mktemp -d /tmp/cfm-config-drive.XXXXXX)",
        "trap 'cd /; umount \"$dir\" 2>/dev/null || true; rmdir \"$dir\"' EXIT",
        f"mount -o ro {shlex.quote(device)} \"$dir\"",
        "cd \"$dir\"",
        "find . -type f | sed 's|^\\./|list |'",
        f"for f in {wanted}; do",
        "  if [ -f \"$f\" ]; then printf 'file %s %s\\n' \"$f\" \"$(base64 -w0 < \"$f\")\"; fi",
        "done",
    ])


def parse_read_output(text: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """The output of ``read_script`` -> (every file on the drive, {wanted path: its text})."""
    listing, files = [], {}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "list":
            listing.append(rest)
        elif kind == "file":
            path, _, encoded = rest.partition(" ")
            try:
                files[path] = base64.b64decode(encoded, validate=True).decode("utf-8", errors="replace")
            except binascii.Error as exc:
                raise ValueError(f"file {path}: bad base64 ({exc})") from None
    return tuple(sorted(listing)), files


def read(session: _Runs, timeout: float | None = None) -> ConfigDrive:
    """Find, mount read-only, read and unmount the config drive of the guest behind ``session``."""
    devices = probes.parse_blkid_devices(session.run(find_device_script(), sudo=True, timeout=timeout).stdout)
    if not devices:
        seen = session.run("lsblk -o NAME,TYPE,FSTYPE,LABEL", check=False, timeout=timeout).stdout
        raise ConfigDriveError(session.host, "no file system labelled config-2", f"lsblk shows:\n{seen.strip()}")
    device = devices[0]
    fields = probes.parse_blkid_export(
        session.run(f"blkid -c /dev/null -o export {shlex.quote(device)}", sudo=True, timeout=timeout).stdout
    )
    output = session.run(read_script(device), sudo=True, timeout=timeout).stdout
    try:
        listing, files = parse_read_output(output)
    except ValueError as exc:
        raise ConfigDriveError(session.host, f"cannot read config drive {device}: {exc}") from None
    return ConfigDrive(device, fields.get("LABEL", ""), fields.get("TYPE", ""), files, listing, host=session.host)
