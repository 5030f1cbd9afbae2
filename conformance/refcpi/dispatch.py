"""Method table: which module answers which CPI method, argument checks, the per-call context.

Handlers live in stemcells.py, vms.py and disks.py and are imported only when called (the
openstack import is the dear part of a call). ``info`` answers from here, without a connection.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from conformance.cpi.protocol import METHODS
from conformance.refcpi import waits
from conformance.refcpi.config import Config
from conformance.refcpi.errors import InvalidCall, NotImplementedCall
from conformance.refcpi.logs import Scrubber

LOG = logging.getLogger("conformance.refcpi")

STEMCELL_FORMATS = ["openstack-raw", "openstack-qcow2", "openstack-light"]

#: method -> module under conformance.refcpi holding a function of the same name
HANDLERS: dict[str, str] = {
    "create_stemcell": "stemcells",
    "delete_stemcell": "stemcells",
    "create_vm": "vm_create",
    "delete_vm": "vms",
    "has_vm": "vms",
    "reboot_vm": "vms",
    "set_vm_metadata": "vms",
    "calculate_vm_cloud_properties": "vms",
    "create_disk": "disks",
    "delete_disk": "disks",
    "has_disk": "disks",
    "attach_disk": "disks",
    "detach_disk": "disks",
    "set_disk_metadata": "disks",
    "get_disks": "disks",
    "snapshot_disk": "disks",
    "delete_snapshot": "disks",
    "resize_disk": "disks",
}


class Call:
    """What one CPI call needs: config, API version, a lazy connection, the bounded wait."""

    def __init__(
        self, config: Config, scrubber: Scrubber, api_version: int | None, cacert: str | None = None
    ):
        self.config, self.scrubber, self.cacert = config, scrubber, cacert
        self.api_version = api_version or 1
        self._conn: Any = None

    @property
    def v2(self) -> bool:
        return self.api_version >= 2

    @property
    def conn(self) -> Any:
        if self._conn is None:
            from conformance.refcpi.connection import connect

            self._conn = connect(self.config, self.scrubber, self.cacert)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            from conformance.refcpi.connection import remember_token

            remember_token(self._conn, self.scrubber)

    def wait(
        self, fetch, *, what: str, ready, failed=lambda _r: None, describe=None, timeout: float | None = None
    ):
        from conformance.refcpi.connection import is_transient

        return waits.wait_for(
            fetch,
            transient=is_transient,
            ready=ready,
            failed=failed,
            what=what,
            describe=describe or (lambda r: "gone" if r is None else f"status={waits.status_of(r)}"),
            timeout=timeout or self.config.state_timeout,
            interval=self.config.poll_interval,
        )


def info(_call: Call) -> dict[str, Any]:
    return {"api_version": 2, "stemcell_formats": list(STEMCELL_FORMATS)}


def check(method: str, arguments: list[Any]) -> None:
    """Unknown or unimplemented methods: NotImplemented; a wrong argument count: InvalidCall."""
    if method not in METHODS:
        raise NotImplementedCall(f"Method is not known, got `{method}'")
    if method != "info" and method not in HANDLERS:
        raise NotImplementedCall(f"`{method}' is not implemented by the reference OpenStack CPI")
    low, high = METHODS[method]
    if not low <= len(arguments) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise InvalidCall(
            f"Arguments are not correct, details: 'wrong number of arguments (given {len(arguments)}, expected {expected})'"
        )


def call(method: str, the_call: Call, arguments: list[Any]) -> Any:
    check(method, arguments)
    if method == "info":
        return info(the_call)
    handler = getattr(importlib.import_module(f"conformance.refcpi.{HANDLERS[method]}"), method)
    LOG.info("%s: starting (api_version %s)", method, the_call.api_version)
    return handler(the_call, *arguments)
