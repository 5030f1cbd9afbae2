"""The CPI client: runs the CPI executable once per call, as the Director does.

    cpi = CpiClient(["conformance-openstack-cpi", "/path/cpi.json"], api_version=2, secrets={...})
    vm_cid, networks = cpi.send(director.create_vm(agent_id, stemcell_cid, props, networks, [], env,
                                                   stemcell_api_version=2))

The envelope is the Director's (lib/clouds/external_cpi.rb): ``api_version`` at the top for CPI
API v2, a context from conformance.cpi.director.context -- director_uuid, a ``cpi-NNNNNN`` request id,
``vm.stemcell.api_version`` only on the calls that concern a VM built from a stemcell, then the
CPI-config properties (``context=``) merged over it.

A clean environment (PATH, TMPDIR, plus ``env``), the request on stdin, a deadline per method (a
hung CPI is killed with its process group), the envelope validated, the exit code ignored. Every
call is recorded, redacted; secrets the client knows are searched for in stdout and stderr, and a
leak is recorded and raised as SecretLeak after the call (its result stays on the record).
"""

from __future__ import annotations

import os
import random
import shlex
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from conformance.core import waiting
from conformance.core.secrets import Redactor
from conformance.cpi import director, protocol
from conformance.cpi.errors import CpiBrokenResponse, CpiError, CpiNotRunnable, CpiTimeout, SecretLeak
from conformance.cpi.process import run_process
from conformance.cpi.record import LOG_KEEP, CallRecord, shorten
from conformance.cpi.results import check_result

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: What is kept of an error type (a CPI may send megabytes there).
ERROR_TYPE_KEEP = 1000
#: "Use the client's default": the stemcell api_version on the methods that carry one, else none.
DEFAULT = object()


class CpiClient:
    def __init__(
        self,
        command: list[str],
        *,
        api_version: int = 2,
        env: dict[str, str] | None = None,
        secrets: Iterable[str] = (),
        timeout: float = 900.0,
        method_timeouts: dict[str, float] | None = None,
        director_uuid: str | None = None,
        context: dict[str, Any] | None = None,
        stemcell_api_version: int | None = director.DEFAULT_STEMCELL_API_VERSION,
        on_record: Callable[[CallRecord], Any] | None = None,
        on_start: Callable[[str, str, list[Any], float], Any] | None = None,
        raise_on_leak: bool = True,
    ):
        if not command:
            raise ValueError("CPI command is empty")
        self.command = list(command)
        self.api_version = api_version
        self.env = dict(env or {})
        self.redactor = Redactor(secrets)
        self.timeout = timeout
        self.method_timeouts = dict(method_timeouts or {})
        self.director_uuid = director_uuid or str(uuid.uuid4())
        self.context = dict(context or {})  # CPI-config properties sent with every call
        self.stemcell_api_version = stemcell_api_version
        self._rng = random.Random()
        self._request_ids: set[str] = set()
        self._ids_lock = threading.Lock()
        self.on_record = on_record
        self.on_start = on_start  # (method, request id, arguments, timeout) before the CPI starts
        self.raise_on_leak = raise_on_leak
        self.records: list[CallRecord] = []

    # -- the protocol -----------------------------------------------------------------
    def request(self, method: str, arguments: list[Any], context: dict[str, Any] | None = None,
                api_version: int | None = None, stemcell_api_version: Any = DEFAULT) -> protocol.Request:
        """The request a Director would send. ``stemcell_api_version``: DEFAULT puts the client's
        into the context of the methods the Director sends it with (create_vm, delete_vm,
        attach_disk, detach_disk); None leaves ``vm`` out; a number puts that one in."""
        version = self.api_version if api_version is None else api_version
        if stemcell_api_version is DEFAULT:
            stemcell_api_version = (self.stemcell_api_version if method in director.STEMCELL_CONTEXT_METHODS
                                    else None)
        ctx = director.context(self.director_uuid, self._new_request_id(), stemcell_api_version=stemcell_api_version,
                               cpi_properties={**self.context, **(context or {})})
        return protocol.Request(method, list(arguments), ctx, version if version >= 2 else None)

    def _new_request_id(self) -> str:
        """The Director's ``cpi-NNNNNN``, never twice from one client (records are found by it),
        also when threads call at once (VMs prepared ahead: conformance.run.prepare)."""
        with self._ids_lock:
            while True:
                rid = director.new_request_id(self._rng)
                if rid not in self._request_ids:
                    self._request_ids.add(rid)
                    return rid

    def send(self, call, *, context: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        """A request built by conformance.cpi.director (its method, arguments and stemcell api_version);
        ``context``: CPI-config properties for this call."""
        return self.call(call.method, *call.arguments, context=context, timeout=timeout,
                         stemcell_api_version=call.stemcell_api_version)

    def call(self, method: str, *arguments: Any, context: dict[str, Any] | None = None,
             api_version: int | None = None, timeout: float | None = None,
             stemcell_api_version: Any = DEFAULT) -> Any:
        """One call; the result, or a CpiCallError subclass. The record is kept either way."""
        request = self.request(method, list(arguments), context, api_version, stemcell_api_version)
        record = CallRecord(method, request.request_id, self.redactor.doc(request.arguments))
        self.records.append(record)
        deadline = timeout or self.method_timeouts.get(method, self.timeout)
        if self.on_start is not None:
            self.on_start(method, request.request_id, list(arguments), deadline)
        try:
            return self._call(request, record, deadline)
        finally:
            if self.on_record is not None:
                self.on_record(record)

    def _call(self, request: protocol.Request, record: CallRecord, timeout: float) -> Any:
        method, rid = request.method, request.request_id
        try:
            done = run_process(self.command, request.to_json().encode(), self._environment(), timeout,
                               on_wait=lambda seconds: waiting.progress(
                                   f"CPI call {method} {rid} still running ({seconds:.0f}s of {timeout:g}s)"))
        except OSError as exc:
            record.outcome, record.error_message = "not-runnable", exc.strerror or str(exc)
            raise CpiNotRunnable(method, rid, shlex.join(self.command), record.error_message, record) from None
        stdout = done.stdout.decode("utf-8", errors="replace")  # for the leak scan and excerpts
        stderr = done.stderr.decode("utf-8", errors="replace")
        record.duration, record.exit_code = done.duration, done.exit_code
        record.stderr = self.redactor.tail(stderr, LOG_KEEP)  # redacted before the cut, never after
        record.leaked_in = self.redactor.leaks(stdout=stdout, stderr=stderr)
        if done.timed_out:
            record.outcome, record.error_message = "timeout", f"no answer after {timeout:g}s, killed"
            raise CpiTimeout(method, rid, timeout, record.stderr, record)
        response = self._parse(method, rid, stdout, done, record)
        record.log = self.redactor.tail(response.log, LOG_KEEP)
        if response.error is not None:
            err = response.error
            error_type = self.redactor.head(err.type, ERROR_TYPE_KEEP)
            record.outcome, record.error_type, record.ok_to_retry = "error", error_type, err.ok_to_retry
            record.error_message = self.redactor.text(err.message)
            self._raise_leak(method, rid, record)
            raise CpiError(method, rid, error_type, record.error_message, err.ok_to_retry, record.log, record)
        try:
            result = check_result(method, response.result, request.api_version or 1)
        except ValueError:
            problem = self._shape_problem(method, response.result, request.api_version or 1)
            record.outcome, record.error_message = "broken", problem
            raise CpiBrokenResponse(method, rid, problem, done.exit_code, record=record) from None
        record.outcome, record.result = "ok", shorten(self.redactor.doc(response.result))
        self._raise_leak(method, rid, record)
        return result

    def _shape_problem(self, method: str, result: Any, api_version: int) -> str:
        """check_result's message, made from the redacted result: its excerpt of the value (cut at
        100 characters) never shows a secret or a prefix of one."""
        try:
            check_result(method, self.redactor.doc(result), api_version)
        except ValueError as exc:
            return str(exc)
        return f"{method} result has the wrong shape (value withheld: it holds a secret)"

    def _parse(self, method, rid, stdout: str, done, record) -> protocol.Response:
        problem = None
        if done.stdout_overflow:
            problem = f"stdout larger than {len(done.stdout)} bytes ({done.stdout_overflow} more dropped)"
        else:
            try:
                return protocol.parse_response(done.stdout)  # bytes: invalid UTF-8 is a broken answer
            except protocol.BrokenResponse as exc:
                problem = self.redactor.text(exc.problem)
        record.outcome, record.error_message = "broken", problem
        raise CpiBrokenResponse(method, rid, problem, done.exit_code, self.redactor.head(stdout, 200),
                                record.stderr, record)

    def _raise_leak(self, method, rid, record) -> None:
        if record.leaked_in and self.raise_on_leak:
            raise SecretLeak(method, rid, record.leaked_in, record)

    def _environment(self) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", DEFAULT_PATH), "TMPDIR": tempfile.gettempdir()}
        env.update(self.env)
        return env

    # -- the methods, with their result shapes checked ---------------------------------
    def info(self) -> dict:
        return self.call("info")

    def create_stemcell(self, image_path: str, cloud_properties: dict, **kw) -> str:
        return self.call("create_stemcell", image_path, cloud_properties, **kw)

    def delete_stemcell(self, stemcell_cid: str, **kw) -> Any:
        return self.call("delete_stemcell", stemcell_cid, **kw)

    def create_vm(self, agent_id, stemcell_cid, cloud_properties, networks, disk_cids=(), env=None, **kw):
        """Returns (vm_cid, networks or None): v1 answers the cid alone, v2 [cid, networks]."""
        return self.call("create_vm", agent_id, stemcell_cid, cloud_properties, networks, list(disk_cids),
                         env or {}, **kw)

    def delete_vm(self, vm_cid: str, **kw) -> Any:
        return self.call("delete_vm", vm_cid, **kw)

    def has_vm(self, vm_cid: str, **kw) -> bool:
        return self.call("has_vm", vm_cid, **kw)

    def reboot_vm(self, vm_cid: str, **kw) -> Any:
        return self.call("reboot_vm", vm_cid, **kw)

    def set_vm_metadata(self, vm_cid: str, metadata: dict, **kw) -> Any:
        return self.call("set_vm_metadata", vm_cid, metadata, **kw)

    def calculate_vm_cloud_properties(self, requirements: dict, **kw) -> dict:
        return self.call("calculate_vm_cloud_properties", requirements, **kw)

    def create_disk(self, size_mib: int, cloud_properties: dict, vm_cid: str | None, **kw) -> str:
        return self.call("create_disk", size_mib, cloud_properties, vm_cid, **kw)

    def delete_disk(self, disk_cid: str, **kw) -> Any:
        return self.call("delete_disk", disk_cid, **kw)

    def has_disk(self, disk_cid: str, **kw) -> bool:
        return self.call("has_disk", disk_cid, **kw)

    def attach_disk(self, vm_cid: str, disk_cid: str, **kw) -> Any:
        """v1: None; v2: the disk hint (a string or a mapping)."""
        return self.call("attach_disk", vm_cid, disk_cid, **kw)

    def detach_disk(self, vm_cid: str, disk_cid: str, **kw) -> Any:
        return self.call("detach_disk", vm_cid, disk_cid, **kw)

    def set_disk_metadata(self, disk_cid: str, metadata: dict, **kw) -> Any:
        return self.call("set_disk_metadata", disk_cid, metadata, **kw)

    def get_disks(self, vm_cid: str, **kw) -> list[str]:
        return self.call("get_disks", vm_cid, **kw)

    def snapshot_disk(self, disk_cid: str, metadata: dict, **kw) -> str:
        return self.call("snapshot_disk", disk_cid, metadata, **kw)

    def delete_snapshot(self, snapshot_cid: str, **kw) -> Any:
        return self.call("delete_snapshot", snapshot_cid, **kw)

    def resize_disk(self, disk_cid: str, new_size_mib: int, **kw) -> Any:
        return self.call("resize_disk", disk_cid, new_size_mib, **kw)
