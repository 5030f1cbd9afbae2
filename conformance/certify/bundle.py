"""Result bundles: one gzip'ed tar of a run's record, with SHA256SUMS over every other member and,
when signed, SHA256SUMS.sig (an OpenSSH signature, signing.py). A third party checks one by hand
with coreutils and openssh-client:

    tar xzf run.bundle.tar.gz && sha256sum -c SHA256SUMS
    ssh-keygen -Y verify -f allowed_signers -I <signer> -n cpi-conformance-bundle -s SHA256SUMS.sig < SHA256SUMS

Both directions treat their input as hostile, within fixed limits of size and count:

- from a run folder (``copy_run``) only the known files are taken, each opened relative to the
  folder without following a symbolic link and without blocking on a FIFO; a link, a special file
  or a file over its limit stops the bundle with an error naming it;
- from an archive (``read_archive``) nothing is ever extracted to disk: members are streamed, hashed
  and kept in memory only when small; a link, a special file, a path (``../x``, ``/x``, ``a/b``), an
  unknown or duplicate member, a member over its limit, an oversized extended header or more
  decompressed bytes than a bundle can hold is refused.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.core.errors import ConformanceError

FORMAT, FORMAT_VERSION = "cpi-conformance-bundle", 1
MANIFEST, SUMS, SIG = "manifest.json", "SHA256SUMS", "SHA256SUMS.sig"
MiB = 1024 * 1024
#: Taken from the run folder: name -> (required, limit in bytes).
FROM_RUN = {"results.json": (True, 64 * MiB), "calls.jsonl": (False, 256 * MiB), "ledger.jsonl": (False, 64 * MiB),
            "junit.xml": (False, 128 * MiB), "session-errors.jsonl": (False, 16 * MiB)}
#: Made by `conformance bundle`: the reports (rendered again from results.json), the redacted profile,
#: the certification judgement and the level it was judged against, the manifest.
MADE = {"report.html": 64 * MiB, "report.md": 32 * MiB, "profile.redacted.json": MiB,
        "certification.json": 4 * MiB, "level.yml": MiB, MANIFEST: MiB}
LIMITS = {**{name: limit for name, (_, limit) in FROM_RUN.items()}, **MADE, SUMS: 64 * 1024, SIG: 64 * 1024}
ORDER = (MANIFEST, SUMS, SIG, "results.json", "certification.json", "level.yml", "report.md", "report.html",
         "junit.xml", "profile.redacted.json", "calls.jsonl", "ledger.jsonl", "session-errors.jsonl")
MAX_TOTAL = 512 * MiB           # decompressed bytes of all members and headers together
MAX_MEMBERS = 2 * len(LIMITS)   # a duplicate is refused by name before this counts
MAX_EXTENDED_HEADER = 64 * 1024  # a pax or GNU long-name header of a bundle is a few hundred bytes
KEEP_IN_MEMORY = 64 * MiB        # members read back whole (results.json at most); others are only hashed
CHUNK = 1024 * 1024


class BundleError(ConformanceError):
    """A run folder that cannot be bundled, or an archive that is refused. Names the member and why."""


# -- from a run folder ------------------------------------------------------------------------------


def copy_run(run_dir: str | os.PathLike, staging: Path) -> list[str]:
    """Copy the run folder's known files into ``staging`` (a private, empty folder); returns their
    names. RUN_DIR itself is the folder the operator named (it may be a link to one); nothing
    inside it is followed."""
    try:
        dfd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise BundleError(f"{run_dir}: not a run folder: {exc.strerror}") from None
    copied, total = [], 0
    try:
        for name, (required, limit) in FROM_RUN.items():
            size = _copy_one(dfd, run_dir, name, staging / name, limit, required)
            if size is not None:
                copied.append(name)
                total += size
                if total > MAX_TOTAL:
                    raise BundleError(f"{run_dir}: the run's files come to more than {MAX_TOTAL // MiB} MiB: refused")
    finally:
        os.close(dfd)
    return copied


def _copy_one(dfd: int, run_dir, name: str, target: Path, limit: int, required: bool) -> int | None:
    where = f"{run_dir}/{name}"
    try:
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        if required:
            raise BundleError(f"{where}: not found (is {run_dir} a run folder of `conformance run`?)") from None
        return None
    _refuse_kind(where, st.st_mode)
    if st.st_size > limit:
        raise BundleError(f"{where}: {st.st_size // MiB} MiB, larger than the {limit // MiB} MiB a bundle takes")
    try:  # O_NOFOLLOW and O_NONBLOCK: a file swapped for a link or a FIFO since the lstat is refused too
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dfd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BundleError(f"{where}: a symbolic link: refused (a bundle holds the run's own files)") from None
        raise BundleError(f"{where}: cannot read: {exc.strerror}") from None
    try:
        _refuse_kind(where, os.fstat(fd).st_mode)
        size = 0
        with open(target, "xb") as out:
            while chunk := os.read(fd, min(CHUNK, limit + 1 - size)):
                size += len(chunk)
                if size > limit:
                    raise BundleError(f"{where}: grew past the {limit // MiB} MiB a bundle takes: refused")
                out.write(chunk)
        return size
    finally:
        os.close(fd)


def _refuse_kind(where: str, mode: int) -> None:
    if stat.S_ISLNK(mode):
        raise BundleError(f"{where}: a symbolic link: refused (a bundle holds the run's own files, never "
                          "what a link points to)")
    if not stat.S_ISREG(mode):
        raise BundleError(f"{where}: {_kind(mode)}, not a regular file: refused")


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a link")):
        if test(mode):
            return kind
    return "a special file"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sums_text(staging: Path, names: list[str]) -> str:
    """SHA256SUMS in the form `sha256sum -c` reads: '<hex>  <name>' per line, sorted by name."""
    return "".join(f"{sha256_file(staging / name)}  {name}\n" for name in sorted(names))


def write_archive(staging: Path, names: list[str], output: Path, *, mtime: float, force: bool = False) -> Path:
    """The members in a fixed order, owned by root, 0644, one mtime: the same inputs give the same bytes."""
    unknown = [n for n in names if n not in LIMITS]
    if unknown:
        raise BundleError(f"not bundle members: {', '.join(unknown)}")
    if output.exists() and not force:
        raise BundleError(f"{output}: exists (--force replaces it)")
    part = output.with_name(output.name + ".part")
    try:
        with open(part, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(names, key=lambda n: ORDER.index(n)):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = (staging / name).stat().st_size, 0o644, int(mtime)
                with open(staging / name, "rb") as f:
                    tar.addfile(info, f)
        os.replace(part, output)
    finally:
        part.unlink(missing_ok=True)
    return output


# -- from an archive ------------------------------------------------------------------------------


@dataclass
class Member:
    name: str
    size: int
    sha256: str
    data: bytes | None  # kept when small enough to be read back


@dataclass
class Archive:
    path: str
    members: dict[str, Member] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        member = self.members.get(name)
        return None if member is None or member.data is None else member.data.decode("utf-8", "replace")

    def json(self, name: str) -> Any:
        text = self.text(name)
        if text is None:
            raise BundleError(f"{self.path}: no {name}")
        try:
            return json.loads(text)
        except ValueError as exc:
            raise BundleError(f"{self.path}: {name}: not JSON: {exc}") from None


class _Capped:
    """A read-only stream that refuses to give more than ``cap`` bytes in all."""

    def __init__(self, inner, cap: int):
        self.inner, self.cap, self.count = inner, cap, 0

    def read(self, size: int = -1) -> bytes:
        want = self.cap + 1 - self.count if size is None or size < 0 else min(size, self.cap + 1 - self.count)
        data = self.inner.read(max(want, 1))
        self.count += len(data)
        if self.count > self.cap:
            raise BundleError(f"more than {self.cap // MiB} MiB once decompressed: refused")
        return data


class _StrictInfo(tarfile.TarInfo):
    """Refuses an extended (pax or GNU long name) header larger than a bundle ever writes, before
    tarfile reads it into memory."""

    def _proc_member(self, tarfile_):
        extended = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
                    tarfile.GNUTYPE_LONGLINK)
        if self.type in extended and self.size > MAX_EXTENDED_HEADER:
            raise BundleError(f"an extended header of {self.size} bytes (more than {MAX_EXTENDED_HEADER}): refused")
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise BundleError(f"member {self.name!r} is a sparse file: refused")
        return super()._proc_member(tarfile_)


def read_archive(path: str | os.PathLike) -> Archive:
    """Every member of a bundle, hashed; raises BundleError for anything a bundle never holds."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise BundleError(f"{path}: cannot read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as raw:
        st = os.fstat(raw.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise BundleError(f"{path}: {_kind(st.st_mode)}, not a bundle file")
        if st.st_size > MAX_TOTAL:
            raise BundleError(f"{path}: larger than {MAX_TOTAL // MiB} MiB: not a bundle")
        archive = Archive(str(path))
        try:
            stream = _Capped(gzip.GzipFile(fileobj=raw, mode="rb"), MAX_TOTAL)
            with tarfile.open(fileobj=stream, mode="r|", tarinfo=_StrictInfo) as tar:
                for count, info in enumerate(tar, 1):
                    if count > MAX_MEMBERS:
                        raise BundleError(f"more than {MAX_MEMBERS} members: refused")
                    _check_member(info, archive)
                    archive.members[info.name] = _read_member(tar, info)
        except BundleError as exc:
            raise BundleError(f"{path}: refused: {exc}") from None
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError, UnicodeError) as exc:
            raise BundleError(f"{path}: not a bundle (a gzip'ed tar): {type(exc).__name__}: {exc}") from None
    if not archive.members:
        raise BundleError(f"{path}: an empty archive, not a bundle")
    return archive


def _check_member(info: tarfile.TarInfo, archive: Archive) -> None:
    name = info.name
    if info.issym() or info.islnk():
        raise BundleError(f"member {name!r} is a {'symbolic' if info.issym() else 'hard'} link to "
                          f"{info.linkname!r}: links are refused")
    if not info.isreg():
        raise BundleError(f"member {name!r} is not a regular file (tar type {info.type!r}): refused")
    if name.startswith("/") or ".." in name.split("/") or "\\" in name:
        raise BundleError(f"member {name!r}: a path out of the bundle (path traversal): refused")
    if "/" in name or name not in LIMITS:
        raise BundleError(f"member {name!r}: not a bundle member (a bundle holds {', '.join(ORDER)})")
    if name in archive.members:
        raise BundleError(f"member {name!r} appears twice: refused (which copy would be the record?)")
    if info.size > LIMITS[name]:
        raise BundleError(f"member {name!r}: {info.size} bytes, more than the {LIMITS[name]} it may hold")


def _read_member(tar: tarfile.TarFile, info: tarfile.TarInfo) -> Member:
    digest, size, keep = hashlib.sha256(), 0, io.BytesIO() if info.size <= KEEP_IN_MEMORY else None
    source = tar.extractfile(info)
    while chunk := source.read(CHUNK):
        size += len(chunk)
        if size > info.size:
            raise BundleError(f"member {info.name!r} holds more than its header says")
        digest.update(chunk)
        if keep is not None:
            keep.write(chunk)
    return Member(info.name, size, digest.hexdigest(), keep.getvalue() if keep is not None else None)


def parse_sums(text: str) -> dict[str, str]:
    """SHA256SUMS -> name: hex; raises BundleError on a line that is not '<64 hex>  <member name>'."""
    out = {}
    for number, line in enumerate(text.splitlines(), 1):
        digest, sep, name = line.partition("  ")
        name = name.removeprefix("*")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or name not in LIMITS:
            raise BundleError(f"{SUMS} line {number}: not '<sha256>  <bundle member>'")
        if name in out:
            raise BundleError(f"{SUMS} lists {name} twice")
        out[name] = digest
    return out


def contents_problems(archive: Archive) -> list[str]:
    """What does not match SHA256SUMS: a member listed and missing, present and not listed, or with
    another hash. SHA256SUMS itself is what the signature covers; the signature is not listed."""
    text = archive.text(SUMS)
    if text is None:
        return [f"no {SUMS}: not a bundle of `conformance bundle`"]
    try:
        listed = parse_sums(text)
    except BundleError as exc:
        return [str(exc)]
    problems = []
    for name, digest in listed.items():
        member = archive.members.get(name)
        if member is None:
            problems.append(f"{name}: listed in {SUMS}, missing from the bundle")
        elif member.sha256 != digest:
            problems.append(f"{name}: edited (sha256 {member.sha256[:16]}..., {SUMS} says {digest[:16]}...)")
    for name in archive.members:
        if name not in listed and name not in (SUMS, SIG):
            problems.append(f"{name}: in the bundle but not in {SUMS} (added after it was made)")
    for name in ("results.json", MANIFEST):
        if name not in listed:
            problems.append(f"{name}: not in the bundle")
    return problems
