"""The part of loading a profile that looks outside the file: clouds.yaml, the CPI config, the SSH key.

Still no cloud call: clouds.yaml is read from disk (openstacksdk's loader), nothing is sent.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
from pathlib import Path
from typing import Any

from conformance.core import safeload
from conformance.core.errors import ProfileError
from conformance.core.secrets import SECRET_KEY_RE, Redactor, interpolate, secrets_in

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
        # a path that came from ${ENV} is a secret's value: never echoed
        raise ProfileError(name, "ssh.private_key", f"{Redactor(secrets).text(str(key))}: no readable file there")
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
        doc = safeload.load_json_file(path)
    except safeload.LoadError as exc:
        where = f"{path}: {exc.path}: " if exc.path else f"{path}: "
        raise ProfileError(name, "cpi.config", where + exc.problem) from None
    if not isinstance(doc, dict):
        raise ProfileError(name, "cpi.config", f"{path}: expected a JSON object at top level")

    def fail(key_path: str, var: str):
        raise ProfileError(name, "cpi.config", f"{path}: {key_path}: environment variable ${{{var}}} is not set")

    return interpolate(doc, environ, secrets, fail)



def render_cpi_command(command: list[str], doc: dict[str, Any], folder: Path) -> list[str]:
    """Hand the resolved CPI config (with its credentials) to the CPI and put its path where the
    command says ``{cpi_config}`` (appended when the command does not say it, as CPIs take it first).

    Nothing is written to disk where it can: the config goes into a sealed memfd of this process and
    the CPI reads it as ``/proc/<this pid>/fd/<n>`` (the same uid may open it; it vanishes with this
    process, however it ends, SIGKILL included). Where that is not possible, ``folder``/cpi.json
    (0600) is written and removed at exit, on SIGTERM and on SIGHUP (not after SIGKILL: ``folder``
    should be a private 0700 temp dir)."""
    data = json.dumps(doc).encode()
    path = _render_in_memory(data) or _render_to_file(Path(folder) / "cpi.json", data)
    if not any(CPI_CONFIG_PLACEHOLDER in part for part in command):
        command = [*command, CPI_CONFIG_PLACEHOLDER]
    return [part.replace(CPI_CONFIG_PLACEHOLDER, str(path)) for part in command]


_RENDERED_FDS: list[int] = []  # kept open for the life of the process: the CPIs read them
_RENDERED_FILES: list[Path] = []


def _render_in_memory(data: bytes) -> str | None:
    if not hasattr(os, "memfd_create"):
        return None
    try:
        fd = os.memfd_create("cfm-cpi-config", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    except OSError:
        return None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        import fcntl

        fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                    fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL)
        path = f"/proc/{os.getpid()}/fd/{fd}"
        with open(path, "rb") as check:  # /proc mounted and the fd reopenable by path
            if check.read() != data:
                raise OSError("memfd read back differs")
    except (OSError, AttributeError):
        os.close(fd)
        return None
    _RENDERED_FDS.append(fd)
    return path


def _render_to_file(path: Path, data: bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    if not _RENDERED_FILES:
        atexit.register(remove_rendered_files)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            _chain_signal(sig)
    _RENDERED_FILES.append(path)
    return path


def remove_rendered_files() -> None:
    """Remove every cpi.json written by _render_to_file (idempotent)."""
    while _RENDERED_FILES:
        try:
            _RENDERED_FILES.pop().unlink()
        except OSError:
            pass


def _chain_signal(sig: int) -> None:
    """Remove the rendered files on ``sig``, then do what was done before (default: die by it)."""
    try:
        previous = signal.getsignal(sig)
    except ValueError:
        return

    def handler(signum, frame):
        remove_rendered_files()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    try:
        signal.signal(sig, handler)
    except ValueError:  # not the main thread: atexit still removes them on a normal exit
        pass
