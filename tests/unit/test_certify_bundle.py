"""Result bundles as hostile input: run folders with links, special files and huge files, and
archives with path traversal, links, duplicates, oversized members and headers, all refused with
an error that names the member, quickly and without extracting anything."""

import gzip
import io
import json
import os
import tarfile
import threading
import time
from pathlib import Path

import pytest

from conformance.certify import bundle

pytestmark = pytest.mark.unit


def make_archive(path: Path, members, *, compress=True, fmt=tarfile.PAX_FORMAT) -> Path:
    """members: (TarInfo or name, bytes) pairs, written as they are (no sanitising)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for info, data in members:
            info = tarfile.TarInfo(info) if isinstance(info, str) else info
            if info.isreg():
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    path.write_bytes(gzip.compress(buffer.getvalue()) if compress else buffer.getvalue())
    return path


def good_members(**override):
    results = json.dumps({"run_id": "r1", "tests": []}).encode()
    manifest = json.dumps({"format": bundle.FORMAT, "format_version": 1, "run_id": "r1"}).encode()
    files = {"results.json": results, "manifest.json": manifest, **override}
    sums = "".join(f"{__import__('hashlib').sha256(d).hexdigest()}  {n}\n" for n, d in sorted(files.items()))
    return [*files.items(), ("SHA256SUMS", sums.encode())]


def link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def test_a_well_formed_archive_is_read_and_matches_its_sums(tmp_path):
    archive = bundle.read_archive(make_archive(tmp_path / "b.tgz", good_members()))
    assert sorted(archive.members) == ["SHA256SUMS", "manifest.json", "results.json"]
    assert bundle.contents_problems(archive) == []
    assert archive.json("results.json")["run_id"] == "r1"


def test_an_edited_member_and_an_added_one_are_named(tmp_path):
    members = good_members()
    members[0] = ("results.json", b'{"run_id": "r1", "tests": [], "edited": true}')
    members.append(("calls.jsonl", b"{}\n"))
    problems = bundle.contents_problems(bundle.read_archive(make_archive(tmp_path / "b.tgz", members)))
    assert any(p.startswith("results.json: edited (sha256 ") for p in problems)
    assert "calls.jsonl: in the bundle but not in SHA256SUMS (added after it was made)" in problems


@pytest.mark.parametrize("member, refusal", [
    (("../results.json", b"{}"), "member '../results.json': a path out of the bundle (path traversal): refused"),
    (("/etc/cron.d/x", b"x"), "member '/etc/cron.d/x': a path out of the bundle (path traversal): refused"),
    (("reports/results.json", b"{}"), "member 'reports/results.json': not a bundle member"),
    (("evil.sh", b"#!/bin/sh"), "member 'evil.sh': not a bundle member"),
    ((link("calls.jsonl", "/etc/shadow"), b""), "member 'calls.jsonl' is a symbolic link to '/etc/shadow': links are refused"),
    ((link("calls.jsonl", "results.json", tarfile.LNKTYPE), b""), "is a hard link to 'results.json': links are refused"),
    ((link("report.md", "", tarfile.FIFOTYPE), b""), "member 'report.md' is not a regular file"),
    ((link("report.md", "", tarfile.DIRTYPE), b""), "member 'report.md' is not a regular file"),
    (("results.json", b"{}"), "member 'results.json' appears twice: refused"),
    (("SHA256SUMS.sig", b"x" * (64 * 1024 + 1)), "member 'SHA256SUMS.sig': 65537 bytes, more than the 65536 it may hold"),
])
def test_hostile_members_are_refused_by_name(tmp_path, member, refusal):
    path = make_archive(tmp_path / "b.tgz", [*good_members(), member])
    with pytest.raises(bundle.BundleError) as info:
        bundle.read_archive(path)
    assert str(info.value).startswith(f"{path}: refused: ") and refusal in str(info.value)


def test_an_oversized_extended_header_is_refused_before_it_is_read(tmp_path):
    info = tarfile.TarInfo("results.json")
    info.pax_headers = {"comment": "x" * 200_000}
    path = make_archive(tmp_path / "b.tgz", [(info, b"{}")])
    with pytest.raises(bundle.BundleError, match="an extended header of 2000.. bytes"):
        bundle.read_archive(path)


def test_a_decompression_bomb_stops_at_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(bundle, "MAX_TOTAL", 4 * 1024 * 1024)
    path = make_archive(tmp_path / "b.tgz", [("calls.jsonl", b"\0" * (8 * 1024 * 1024))])
    assert path.stat().st_size < 100_000
    with pytest.raises(bundle.BundleError, match="more than 4 MiB once decompressed: refused"):
        bundle.read_archive(path)


@pytest.mark.parametrize("content, refusal", [
    (b"not a gzip at all", "not a bundle (a gzip'ed tar)"),
    (gzip.compress(b"\0" * 1024, mtime=0), "an empty archive, not a bundle"),
    (gzip.compress(b"garbage" * 200, mtime=0), "not a bundle (a gzip'ed tar)"),
], ids=["not-gzip", "empty-tar", "gzip-not-tar"])  # ids: xdist workers must collect the same names
def test_what_is_not_a_tar_says_so(tmp_path, content, refusal):
    path = tmp_path / "b.tgz"
    path.write_bytes(content)
    with pytest.raises(bundle.BundleError, match=refusal.replace("(", r"\(").replace(")", r"\)")):
        bundle.read_archive(path)


def test_a_fifo_given_as_the_archive_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "b.tgz"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(bundle.BundleError, match="a FIFO, not a bundle file"):
        bundle.read_archive(fifo)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("line", ["deadbeef  results.json", f"{'a' * 64}  ../x", f"{'a' * 64} results.json"])
def test_sums_lines_that_are_not_sha256sum_lines_are_refused(line):
    with pytest.raises(bundle.BundleError, match="SHA256SUMS line 1"):
        bundle.parse_sums(line + "\n")


# -- the run folder ----------------------------------------------------------------------------------


@pytest.fixture
def run_dir(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "results.json").write_text('{"run_id": "r1"}')
    (folder / "calls.jsonl").write_text("{}\n")
    return folder


@pytest.fixture
def staging(tmp_path):
    folder = tmp_path / "staging"
    folder.mkdir()
    return folder


def test_a_run_folder_is_copied_file_by_file(run_dir, staging):
    (run_dir / "allure-results").mkdir()  # what a bundle does not take is never opened
    os.symlink("/etc/passwd", run_dir / "allure-results" / "x")
    assert bundle.copy_run(run_dir, staging) == ["results.json", "calls.jsonl"]
    assert (staging / "results.json").read_text() == '{"run_id": "r1"}'


def test_a_symlink_out_of_the_run_folder_is_not_followed(run_dir, staging):
    (run_dir / "calls.jsonl").unlink()
    os.symlink("/etc/passwd", run_dir / "calls.jsonl")
    with pytest.raises(bundle.BundleError, match=r"/calls.jsonl: a symbolic link: refused"):
        bundle.copy_run(run_dir, staging)
    assert not (staging / "calls.jsonl").exists()


def test_a_fifo_in_the_run_folder_is_refused_without_blocking(run_dir, staging):
    os.mkfifo(run_dir / "ledger.jsonl")
    done = []
    worker = threading.Thread(target=lambda: done.append(_refusal(run_dir, staging)), daemon=True)
    worker.start()
    worker.join(5)
    assert done and "ledger.jsonl: a FIFO, not a regular file: refused" in done[0]


def _refusal(run_dir, staging) -> str:
    try:
        bundle.copy_run(run_dir, staging)
    except bundle.BundleError as exc:
        return str(exc)
    return "not refused"


def test_a_huge_file_is_refused_by_its_size_before_it_is_read(run_dir, staging):
    with open(run_dir / "calls.jsonl", "wb") as f:
        f.truncate(300 * 1024 * 1024)  # sparse: no disk, and reading it would take seconds
    started = time.monotonic()
    with pytest.raises(bundle.BundleError, match=r"calls.jsonl: 300 MiB, larger than the 256 MiB a bundle takes"):
        bundle.copy_run(run_dir, staging)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("setup, refusal", [
    (lambda d: (d / "results.json").unlink(), "results.json: not found"),
    (lambda d: ((d / "results.json").unlink(), (d / "results.json").mkdir()), "results.json: a directory, not a regular file"),
])
def test_a_folder_that_is_no_run_says_so(run_dir, staging, setup, refusal):
    setup(run_dir)
    with pytest.raises(bundle.BundleError, match=refusal):
        bundle.copy_run(run_dir, staging)


def test_write_archive_is_deterministic_and_refuses_to_overwrite(run_dir, staging, tmp_path):
    names = bundle.copy_run(run_dir, staging)
    (staging / "SHA256SUMS").write_text(bundle.sums_text(staging, names))
    first = bundle.write_archive(staging, [*names, "SHA256SUMS"], tmp_path / "a.tgz", mtime=100)
    second = bundle.write_archive(staging, [*names, "SHA256SUMS"], tmp_path / "b.tgz", mtime=100)
    assert first.read_bytes() == second.read_bytes()
    with pytest.raises(bundle.BundleError, match="exists"):
        bundle.write_archive(staging, names, first, mtime=100)
    archive = bundle.read_archive(first)
    assert [m for m in archive.members] == ["SHA256SUMS", "results.json", "calls.jsonl"]
