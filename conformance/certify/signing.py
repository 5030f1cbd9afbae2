"""OpenSSH signatures over a bundle's SHA256SUMS, made and checked by ssh-keygen (-Y sign / -Y verify).

Why OpenSSH: operators already have SSH keys (in files, in ssh-agent, on FIDO tokens), an
allowed_signers file is a known format (git uses it too), and a third party verifies with
openssh-client alone. The suite never reads a private key or a passphrase: it passes the key's
path to ssh-keygen, which asks for a passphrase itself (on the terminal) or uses ssh-agent when
given the public half. ssh-keygen is a runner dependency (conformance/hostdeps.py, group
"runner"): missing or broken, it is a RunnerError, never a verification "no".
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from conformance.core.errors import ConformanceError, RunnerError
from conformance.core.safeload import LoadError, decode_utf8, read_bounded

NAMESPACE = "cpi-conformance-bundle"  # ssh-keygen -n: a signature for git or a file is not one for a bundle
SIGN_TIMEOUT = 300    # a passphrase may be typed
VERIFY_TIMEOUT = 60
MAX_SIGNERS_FILE = 1024 * 1024
_GOOD = re.compile(r'^Good "[^"]*" signature (?:for (?P<principal>.+) )?with (?P<key>\S+) key (?P<fp>\S+)', re.M)
_KEY_LINE = re.compile(r"^(?P<type>(?:sk-)?(?:ssh|ecdsa)-[\w@.-]+) (?P<blob>[A-Za-z0-9+/=]+)(?: (?P<comment>.*))?$")


class SignatureError(ConformanceError):
    """A signature that does not verify, or a signer that is not allowed: a verification "no"."""


class SigningFailed(ConformanceError):
    """ssh-keygen could not sign (a wrong passphrase, a key it cannot read); its own words, no secret."""


@dataclass(frozen=True)
class Signer:
    principal: str | None  # the allowed_signers principal (or the key's comment for --key)
    key_type: str
    fingerprint: str

    @property
    def text(self) -> str:
        return f"{self.principal or 'an unnamed key'} ({self.key_type} key {self.fingerprint})"


def ssh_keygen() -> str:
    path = shutil.which("ssh-keygen")
    if path is None:
        raise RunnerError("ssh-keygen is not installed: bundles are signed and verified with it",
                          "Debian: apt-get install openssh-client, or `conformance host install runner`")
    return path


def _run(argv: list[str], *, timeout: float, stdin=subprocess.DEVNULL, data: bytes | None = None):
    try:
        return subprocess.run(argv, input=data, stdin=None if data is not None else stdin, capture_output=True,
                              timeout=timeout, env={**os.environ, "LC_ALL": "C"})
    except subprocess.TimeoutExpired:
        raise RunnerError(f"{' '.join(argv[:3])} did not finish in {timeout:g}s") from None
    except OSError as exc:
        raise RunnerError(f"{argv[0]} cannot be run: {exc.strerror}") from None


def _said(done) -> str:
    text = (done.stderr or b"").decode("utf-8", "replace").strip() or (done.stdout or b"").decode("utf-8", "replace")
    return " ".join(text.split())[-400:] or f"exit status {done.returncode}"


def sign(message: Path, key: str) -> Path:
    """Write ``message``.sig, signed with ``key`` (a private key file, or a public key whose private
    half ssh-agent holds). ssh-keygen reads the passphrase from the terminal, never from us."""
    signature = message.with_name(message.name + ".sig")
    if signature.exists():
        raise SigningFailed(f"{signature}: exists")
    if not Path(key).expanduser().is_file():
        raise SigningFailed(f"{key}: no such key file")
    done = _run([ssh_keygen(), "-Y", "sign", "-f", str(Path(key).expanduser()), "-n", NAMESPACE, str(message)],
                timeout=SIGN_TIMEOUT, stdin=None)  # the terminal stays the user's, for a passphrase prompt
    if done.returncode != 0 or not signature.is_file():
        signature.unlink(missing_ok=True)
        raise SigningFailed(f"ssh-keygen could not sign with {key}: {_said(done)}")
    return signature


def allowed_signers_text(allowed_signers: str | None, keys: list[str]) -> str:
    """One allowed_signers document: the file's lines, then one line per public key file (its
    principal: the key's comment, else the file's name), each limited to this namespace."""
    lines = []
    if allowed_signers:
        lines.append(_read_text(allowed_signers, "--allowed-signers"))
    for key in keys:
        text = _read_text(key, "--key")
        match = next((m for m in map(_KEY_LINE.match, text.splitlines()) if m), None)
        if match is None:
            raise ConformanceError(f"--key {key}: not an OpenSSH public key ('<type> <base64> [comment]')")
        principal = re.sub(r'[^\w@.+:-]', "_", (match.group("comment") or "").strip()) or f"key:{Path(key).name}"
        lines.append(f'"{principal}" namespaces="{NAMESPACE}" {match.group("type")} {match.group("blob")}\n')
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _read_text(path: str, option: str) -> str:
    try:
        return decode_utf8(read_bounded(Path(path).expanduser(), MAX_SIGNERS_FILE))
    except LoadError as exc:
        raise ConformanceError(f"{option} {path}: {exc}") from None


def verify(message: bytes, signature: bytes, allowed_signers: str) -> Signer:
    """The signer of ``signature`` over ``message`` if an allowed signer made it for this namespace;
    else SignatureError, naming the key that did sign when it can be read."""
    tool = ssh_keygen()
    with tempfile.TemporaryDirectory(prefix="cfm-verify-") as tmp:
        sig, signers = Path(tmp) / "SHA256SUMS.sig", Path(tmp) / "allowed_signers"
        sig.write_bytes(signature)
        signers.write_text(allowed_signers, encoding="utf-8")
        found = _run([tool, "-Y", "find-principals", "-s", str(sig), "-f", str(signers)], timeout=VERIFY_TIMEOUT)
        principals = [p for p in found.stdout.decode("utf-8", "replace").splitlines() if p.strip()]
        if found.returncode != 0 or not principals:
            raise SignatureError(_not_allowed(tool, sig, message))
        last = None
        for principal in principals:
            done = _run([tool, "-Y", "verify", "-f", str(signers), "-I", principal, "-n", NAMESPACE, "-s", str(sig)],
                        timeout=VERIFY_TIMEOUT, data=message)
            good = _GOOD.search(done.stdout.decode("utf-8", "replace") + "\n" + done.stderr.decode("utf-8", "replace"))
            if done.returncode == 0 and good:
                return Signer(good.group("principal") or principal, good.group("key"), good.group("fp"))
            last = _said(done)
        raise SignatureError(f"the signature does not verify: {last}")


def _not_allowed(tool: str, sig: Path, message: bytes) -> str:
    """Why no allowed signer matched: the signature is not one, or it is by a key not allowed."""
    done = _run([tool, "-Y", "check-novalidate", "-n", NAMESPACE, "-s", str(sig)], timeout=VERIFY_TIMEOUT, data=message)
    good = _GOOD.search(done.stdout.decode("utf-8", "replace") + "\n" + done.stderr.decode("utf-8", "replace"))
    if done.returncode == 0 and good:
        return (f"signed by {good.group('key')} key {good.group('fp')}, which is not among the allowed signers "
                f"(for namespace {NAMESPACE})")
    return f"not a valid signature over SHA256SUMS for namespace {NAMESPACE}: {_said(done)}"
