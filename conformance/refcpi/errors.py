"""The CPI's own failures, one class per error type the Director knows.

The reference CPI may import only openstacksdk, the standard library and the wire types, so these
do not derive from conformance.core.errors: they are the CPI side of the wire, turned into
``{"error": {"type": ..., "message": ..., "ok_to_retry": ...}}`` by main.py.
Where the official CPI answers a loose ``CloudError`` ("Server `x' not found") we answer the precise
subtype (VMNotFound, DiskNotFound): in the Ruby tree they *are* CloudErrors, so a Director that
rescues CloudError still catches them.
"""

from __future__ import annotations


class CpiFailure(Exception):
    """Base: ``type_name`` is the short wire type; ``ok_to_retry`` tells the Director the truth."""

    type_name = "CpiError"

    def __init__(self, message: str, ok_to_retry: bool = False):
        super().__init__(message)
        self.message = message
        self.ok_to_retry = ok_to_retry


class CloudError(CpiFailure):
    type_name = "CloudError"


class VMNotFound(CloudError):
    type_name = "VMNotFound"


class DiskNotFound(CloudError):
    type_name = "DiskNotFound"


class VMCreationFailed(CloudError):
    type_name = "VMCreationFailed"


class NotSupported(CpiFailure):
    type_name = "NotSupported"


class NotImplementedCall(CpiFailure):
    type_name = "NotImplemented"


class InvalidCall(CpiFailure):
    """A request the CPI cannot even start on (bad JSON, wrong argument count)."""

    type_name = "InvalidCall"
