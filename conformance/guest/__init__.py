"""The guest witness: what a booted VM sees, asked over SSH (paramiko).

A plain library: every timeout and interval is an argument, and it knows neither the profile,
the run nor pytest (conformance.run.lab binds those). Parsers of tool output live in ``probes``
as pure functions; the config drive reader in ``configdrive``; SSH plumbing in ``ssh``.
"""

from conformance.guest.configdrive import ConfigDrive
from conformance.guest.errors import (
    ConfigDriveError,
    GuestCommandTimeout,
    GuestConnectionLost,
    GuestError,
    GuestKeyError,
    GuestOutputError,
)
from conformance.guest.probes import BlockDevice
from conformance.guest.session import GuestSession, connect
from conformance.guest.ssh import CommandResult

__all__ = [
    "BlockDevice",
    "CommandResult",
    "ConfigDrive",
    "ConfigDriveError",
    "GuestCommandTimeout",
    "GuestConnectionLost",
    "GuestError",
    "GuestKeyError",
    "GuestOutputError",
    "GuestSession",
    "connect",
]
