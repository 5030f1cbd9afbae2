"""The part of loading a profile that looks outside the file: clouds.yaml, the CPI config, the SSH key.

Still no cloud call: clouds.yaml is read from disk (openstacksdk's loader), nothing is sent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from conformance.errors import ProfileError
from conformance.secrets import SECRET_KEY_RE, interpolate, secrets_in

CPI_CONFIG_PLACEHOLDER = "{cpi_config}"


def default_clouds() -> dict[str, Any]:
    """The clouds.yaml entries openstacksdk would see (files only, no network)."""
    from openstack.config import loader

    return dict(loader.OpenStackConfig(load_envvars=False).cloud_config.get("clouds", {}))


def resolve(name: str, profile, environ, clouds) -> set[str]:
    """Check what the profile points at; return the secrets it learnt. Raises ProfileError."""
    environ = os.environ if environ is None else environ
    secrets: set[str] = set()
    if profile.cloud is not None:
        secrets |= _check_cloud(name, profile.cloud, clouds or default_clouds)
    if profile.cpi.config is not None:
        doc = load_cpi_config(name, profile.path(profile.cpi.config), environ, secrets)
        secrets |= secrets_in(doc)
        profile._cpi_config_doc = doc
    elif any(CPI_CONFIG_PLACEHOLDER in part for part in profile.cpi.command):
        raise ProfileError(name, "cpi.command", f"uses {CPI_CONFIG_PLACEHOLDER} but cpi.config is not set")
    key = profile.path(profile.ssh.private_key)
    if not key.is_file() or not os.access(key, os.R_OK):
        raise ProfileError(name, "ssh.private_key", f"{key}: no readable file there")
    for var, value in profile.cpi.env.items():
        if SECRET_KEY_RE.search(var):
            secrets.add(value)
    return secrets


def _check_cloud(name: str, cloud: str, clouds) -> set[str]:
    try:
        entries = clouds()
    except Exception as exc:  # a broken clouds.yaml: openstacksdk raises several types
        raise ProfileError(name, "cloud", f"cannot read clouds.yaml: {type(exc).__name__}: {exc}") from None
    if cloud not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise ProfileError(name, "cloud", f"no entry {cloud!r} in clouds.yaml (entries found: {known}; "
                           "searched ./clouds.yaml, ~/.config/openstack/, /etc/openstack/)")
    return secrets_in(entries[cloud])


def load_cpi_config(name: str, path: Path, environ, secrets: set[str]) -> dict[str, Any]:
    """Read the CPI config JSON and resolve its ``${ENV}`` references."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(name, "cpi.config", f"{path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise ProfileError(name, "cpi.config", f"{path}: not valid JSON: {exc}") from None

    def fail(key_path: str, var: str):
        raise ProfileError(name, "cpi.config", f"{path}: {key_path}: environment variable ${{{var}}} is not set")

    return interpolate(doc, environ, secrets, fail)



def render_cpi_command(command: list[str], doc: dict[str, Any], folder: Path) -> list[str]:
    """Write the resolved CPI config to ``folder``/cpi.json (0600) and put its path where the command
    says ``{cpi_config}`` (appended when the command does not say it, as CPIs take it first)."""
    path = Path(folder) / "cpi.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh)
    if not any(CPI_CONFIG_PLACEHOLDER in part for part in command):
        command = [*command, CPI_CONFIG_PLACEHOLDER]
    return [part.replace(CPI_CONFIG_PLACEHOLDER, str(path)) for part in command]
