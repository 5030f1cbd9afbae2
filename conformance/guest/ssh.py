"""SSH plumbing on paramiko: load the key, open one connection, run one command with a deadline.

Host keys are accepted and recorded, never checked and never written to known_hosts: every
guest is a fresh VM whose key nobody can know beforehand, and the fingerprint goes into the
session so that a report can show which machine answered.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass

import paramiko

from conformance.guest.errors import GuestCommandTimeout, GuestConnectionLost, GuestKeyError

# What a connect attempt may fail with while the guest boots: nothing listens yet
# (NoValidConnectionsError is a socket error), sshd is up but hangs up or is slow with its
# banner (SSHException, EOFError), or cloud-init/the agent has not installed the key yet
# (AuthenticationException is an SSHException).
RETRY_ON: tuple[type[BaseException], ...] = (
    OSError,
    socket.timeout,
    EOFError,
    paramiko.SSHException,
    paramiko.ssh_exception.NoValidConnectionsError,
    paramiko.AuthenticationException,
)

_READ_CHUNK = 65536
_EOF_GRACE = 5.0  # seconds to wait for the end of output after the exit status

# paramiko logs every failed attempt (e.g. "Error reading SSH protocol banner") with a traceback,
# which while a guest boots is expected. Route it to our own logger with a NullHandler: kept for
# whoever configures logging (pytest shows it with a failed test), never dumped on stderr.
PARAMIKO_LOG = "conformance.guest.paramiko"
logging.getLogger(PARAMIKO_LOG).addHandler(logging.NullHandler())


@dataclass(frozen=True)
class CommandResult:
    """What a command left behind: its output, decoded as UTF-8 (bad bytes replaced)."""

    stdout: str
    stderr: str
    exit_status: int

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class _AcceptAndRecord(paramiko.MissingHostKeyPolicy):
    """Accept any host key without storing it; the session reads it from the transport."""

    def missing_host_key(self, client, hostname, key) -> None:
        return None


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's form: ``SHA256:`` and the unpadded base64 of the SHA-256 of the key blob."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


#: Keys read, by file identity (device, inode, size, mtime) and passphrase digest: loading a 3072-bit
#: RSA key checks it and takes about 0.2 s, once per SSH session before (issue 15). An edited or
#: replaced file is read again.
_KEYS: dict[tuple, paramiko.PKey] = {}
_KEYS_LOCK = threading.Lock()


def load_key(key_path: str, passphrase: str | None = None) -> paramiko.PKey:
    """Read the private key once, before any wait: a bad key file does not get better by
    retrying. The error names the path and the kind of problem, never the key or passphrase."""
    try:
        st = os.stat(key_path)
        digest = hashlib.sha256(passphrase.encode()).hexdigest() if passphrase else None
        cache_key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, digest)
        with _KEYS_LOCK:
            if cache_key in _KEYS:
                return _KEYS[cache_key]
        key = paramiko.PKey.from_path(key_path, password=passphrase.encode() if passphrase else None)
        with _KEYS_LOCK:
            _KEYS[cache_key] = key
        return key
    except FileNotFoundError:
        raise GuestKeyError(key_path, "no such file") from None
    except PermissionError:
        raise GuestKeyError(key_path, "permission denied") from None
    except (paramiko.PasswordRequiredException, TypeError) as exc:  # TypeError: an encrypted PEM key
        text = str(exc)  # paramiko's words: "... private key is encrypted" (PEM), "Key is password-protected" (OpenSSH)
        if passphrase is None and (isinstance(exc, paramiko.PasswordRequiredException) or "encrypted" in text
                                   or "password-protected" in text):
            raise GuestKeyError(key_path, "the key is encrypted and no passphrase was given") from None
        raise GuestKeyError(key_path, f"{type(exc).__name__}: cannot be read") from None
    except (paramiko.SSHException, ValueError, UnicodeDecodeError) as exc:
        # Fixed wording: the parsers' messages are not shown, so no fragment of the file can leak.
        detail = "wrong passphrase, or not" if passphrase else "not"
        raise GuestKeyError(key_path, f"{type(exc).__name__}: {detail} a private key paramiko can read") from None


def open_client(host: str, port: int, user: str, key: paramiko.PKey, attempt_timeout: float, *,
                connect_timeout: float | None = None) -> paramiko.SSHClient:
    """One connect attempt with public-key auth only (no agent, no ~/.ssh keys: the suite must
    prove the profile's key works). Closes what it opened when the attempt fails. ``connect_timeout``:
    the TCP connect's own (default ``attempt_timeout``), the banner and auth keep ``attempt_timeout``."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(_AcceptAndRecord())
    client.set_log_channel(PARAMIKO_LOG)
    try:
        client.connect(
            host,
            port=port,
            username=user,
            pkey=key,
            timeout=attempt_timeout if connect_timeout is None else connect_timeout,
            banner_timeout=attempt_timeout,
            auth_timeout=attempt_timeout,
            channel_timeout=attempt_timeout,
            allow_agent=False,
            look_for_keys=False,
        )
    except BaseException:
        client.close()
        raise
    client.get_transport().set_keepalive(15)
    return client


def execute(
    transport: paramiko.Transport | None, host: str, command: str, label: str, timeout: float, stdin: bytes | None = None
) -> CommandResult:
    """Run ``command`` in a new channel and wait at most ``timeout`` seconds for it to exit.

    ``label`` is how errors name the command. stdin gets ``stdin`` (or nothing) and then EOF,
    so a command that reads stdin cannot hang on it. On timeout the channel is closed (sshd
    then hangs up on the command) and GuestCommandTimeout carries the output seen so far.
    """
    deadline = time.monotonic() + timeout
    channel = None
    if transport is None or not transport.is_active():
        raise GuestConnectionLost(host, label, "the SSH session is closed")
    try:
        channel = transport.open_session(timeout=timeout)
        channel.exec_command(command)
        if stdin:
            channel.sendall(stdin)
        channel.shutdown_write()
        return _collect(channel, host, label, timeout, deadline)
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise GuestConnectionLost(host, label, f"{type(exc).__name__}: {exc}") from exc
    finally:
        if channel is not None:
            channel.close()


def _collect(channel: paramiko.Channel, host: str, label: str, timeout: float, deadline: float) -> CommandResult:
    """Read stdout and stderr until the command has exited and its output has ended (EOF).

    The exit status alone is not the end: sshd sends it when the command exits, and output
    still in its pipes (or written by a child that outlived the command) can follow it. So
    after the status we go on reading until EOF, for at most _EOF_GRACE seconds more (a
    background child holding the output open must not hang us), and never past the deadline.
    """
    out, err = bytearray(), bytearray()
    pause = 0.005
    eof_deadline = None
    while True:
        got = _drain(channel, out, err)
        now = time.monotonic()
        if channel.status_event.is_set():  # an exit status came, or the channel closed without one
            if eof_deadline is None:
                eof_deadline = min(now + _EOF_GRACE, deadline)
            if channel.eof_received or channel.closed or now >= eof_deadline:
                _drain(channel, out, err)
                if channel.exit_status == -1 and _connection_gone(channel.get_transport()):
                    raise EOFError("the connection closed before the command exited")
                return CommandResult(_text(out), _text(err), channel.recv_exit_status())
        elif now >= deadline:
            raise GuestCommandTimeout(host, label, timeout, _text(out), _text(err))
        pause = 0.005 if got else min(pause * 2, 0.1)
        if eof_deadline is None:
            channel.status_event.wait(min(pause, max(deadline - now, 0.0)))
        else:
            time.sleep(min(pause, max(eof_deadline - now, 0.0)))


def _connection_gone(transport: paramiko.Transport, grace: float = 2.0) -> bool:
    """Whether the connection died (guest rebooted, sshd killed) rather than the command: a
    command killed by a signal also leaves no exit status (paramiko ignores exit-signal), but
    its connection lives on. The transport closes its channels before it marks itself inactive,
    hence the grace period."""
    deadline = time.monotonic() + grace
    while transport.is_active():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _drain(channel: paramiko.Channel, out: bytearray, err: bytearray) -> bool:
    got = False
    while channel.recv_ready():
        out += channel.recv(_READ_CHUNK)
        got = True
    while channel.recv_stderr_ready():
        err += channel.recv_stderr(_READ_CHUNK)
        got = True
    return got


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
