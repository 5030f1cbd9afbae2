"""Signed result bundles of a real run (the fake CPI, `conformance run --certify`, no cloud), through
the CLI as an operator and a third party type it, with real ssh-keygen keys: round trip naming the
signer, an edited outcome, a key not allowed, another suite code, hostile input, no ssh-keygen."""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conformance.report.results import canonical_digest

pytestmark = pytest.mark.component

ROOT = Path(__file__).parents[2]
FAKE_PROFILE = ROOT / "tests" / "fixtures" / "profiles" / "fake.yml"
NS = "cpi-conformance-bundle"


def conformance(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "conformance.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=timeout)


def keygen(folder: Path, name: str, comment: str, passphrase: str = "") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f", folder / name],
                   check=True, capture_output=True)
    return folder / name


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    alice, mallory = keygen(folder, "alice", "alice@example.org"), keygen(folder, "mallory", "mallory@example.org")
    allowed = folder / "allowed_signers"
    allowed.write_text(f'alice@example.org namespaces="{NS}" {" ".join(Path(f"{alice}.pub").read_text().split()[:2])}\n')
    return {"alice": alice, "mallory": mallory, "allowed": allowed, "folder": folder}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    done = conformance("run", "--profile", FAKE_PROFILE, "--report-dir", reports, "--certify")
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    (folder,) = reports.iterdir()
    return folder


@pytest.fixture(scope="module")
def signed(run_dir, keys, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundles") / "run.bundle.tar.gz"
    done = conformance("bundle", run_dir, "--sign-key", keys["alice"], "--output", out)
    assert done.returncode == 0, done.stderr
    return out


def verify(bundle, *args, env=None):
    return conformance("report", "verify", bundle, *args, env=env)


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def repack(path: Path, files: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buffer.getvalue()))
    return path


def sums(files: dict[str, bytes]) -> bytes:
    return "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in sorted(files.items())
                   if n not in ("SHA256SUMS", "SHA256SUMS.sig")).encode()


def test_bundle_round_trip_names_the_signer(signed, run_dir, keys):
    files = members(signed)
    assert list(files) == ["manifest.json", "SHA256SUMS", "SHA256SUMS.sig", "results.json", "certification.json",
                           "level.yml", "report.md", "report.html", "junit.xml", "profile.redacted.json",
                           "calls.jsonl", "ledger.jsonl"]
    assert files["results.json"] == (run_dir / "results.json").read_bytes()
    manifest = json.loads(files["manifest.json"])
    assert manifest["code_sha256"] == json.loads(files["results.json"])["tool"]["code_sha256"]
    assert manifest["tool"]["version"] and manifest["certification"]["level"] == "openstack-2026.1"
    assert "## Certification level openstack-2026.1: NOT CERTIFIED" in files["report.md"].decode()
    done = verify(signed, "--allowed-signers", keys["allowed"])
    assert done.returncode == 0, done.stderr
    assert "signature: good, signed by alice@example.org (ED25519 key SHA256:" in done.stdout
    assert f"{signed}: verified: signed by alice@example.org" in done.stdout
    assert "certification NOT CERTIFIED" in done.stdout, "the fake CPI implements little: genuine, not certified"
    assert verify(signed, "--allowed-signers", keys["allowed"], "--require-certified").returncode == 1


def test_verify_with_a_public_key_names_its_comment(signed, keys):
    done = verify(signed, "--key", f"{keys['alice']}.pub")
    assert done.returncode == 0 and "signed by alice@example.org (ED25519 key" in done.stdout


def test_a_third_party_checks_it_with_coreutils_and_ssh_keygen(signed, keys, tmp_path):
    subprocess.run(["tar", "xzf", signed, "-C", tmp_path], check=True)
    assert subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=tmp_path).returncode == 0
    done = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", keys["allowed"], "-I", "alice@example.org", "-n", NS,
                           "-s", "SHA256SUMS.sig"], stdin=open(tmp_path / "SHA256SUMS", "rb"), capture_output=True, cwd=tmp_path,
                          text=True)
    assert done.returncode == 0 and 'Good "cpi-conformance-bundle" signature for alice@example.org' in done.stdout


def edited_outcome(files: dict[str, bytes]) -> dict[str, bytes]:
    doc = json.loads(files["results.json"])
    failed = next(t for t in doc["tests"] if t["outcome"] == "failed")
    failed["outcome"] = "passed"
    doc["digest"]["canonical"] = canonical_digest(doc)  # what the forger did
    return {**files, "results.json": json.dumps(doc).encode()}


def test_one_outcome_changed_fails_verification(signed, keys, tmp_path):
    files = edited_outcome(members(signed))
    done = verify(repack(tmp_path / "edited.tgz", files), "--allowed-signers", keys["allowed"])
    assert done.returncode == 1 and "contents: results.json: edited (sha256" in done.stderr
    files["SHA256SUMS"] = sums(files)  # the list recomputed too: now the signature no longer matches it
    done = verify(repack(tmp_path / "resummed.tgz", files), "--allowed-signers", keys["allowed"])
    assert done.returncode == 1
    assert "signature: the signature does not verify" in done.stderr and "NOT verified: signature:" in done.stderr
    assert "verified: signed by" not in done.stdout


def test_a_key_not_among_the_allowed_signers_fails(run_dir, keys, tmp_path):
    out = tmp_path / "mallory.tgz"
    assert conformance("bundle", run_dir, "--sign-key", keys["mallory"], "-o", out).returncode == 0
    fingerprint = subprocess.run(["ssh-keygen", "-l", "-f", f"{keys['mallory']}.pub"], capture_output=True,
                                 text=True).stdout.split()[1]
    done = verify(out, "--allowed-signers", keys["allowed"])
    assert done.returncode == 1
    assert f"signature: signed by ED25519 key {fingerprint}, which is not among the allowed signers" in done.stderr
    forged = edited_outcome(members(out))
    forged["SHA256SUMS"] = sums(forged)
    forged["SHA256SUMS.sig"] = members(out)["SHA256SUMS.sig"]
    assert verify(repack(tmp_path / "f.tgz", forged), "--key", f"{keys['mallory']}.pub").returncode == 1


def test_an_unsigned_bundle_is_not_verified(run_dir, keys, tmp_path):
    out = tmp_path / "unsigned.tgz"
    done = conformance("bundle", run_dir, "-o", out)
    assert done.returncode == 0 and "not signed (--sign-key KEY)" in done.stdout
    done = verify(out, "--allowed-signers", keys["allowed"])
    assert done.returncode == 1 and "signature: none" in done.stderr


def test_other_suite_code_is_reported_and_can_be_accepted(run_dir, keys, tmp_path):
    other = tmp_path / "other-run"
    shutil.copytree(run_dir, other)
    doc = json.loads((other / "results.json").read_text())
    doc["tool"]["code_sha256"] = "f" * 64  # as if an older release of the suite had made the run
    doc["digest"]["canonical"] = canonical_digest(doc)
    (other / "results.json").write_text(json.dumps(doc))
    out = tmp_path / "other.tgz"
    done = conformance("bundle", other, "--sign-key", keys["alice"], "-o", out)
    assert done.returncode == 0 and "a verifier with this tool needs --accept-other-code" in done.stdout
    done = verify(out, "--allowed-signers", keys["allowed"])
    assert done.returncode == 1
    assert "suite code: the run was made by suite code sha256 ffffffffffffffff..." in done.stderr
    assert "verify with the same release of cpi-conformance, or pass --accept-other-code" in done.stderr
    done = verify(out, "--allowed-signers", keys["allowed"], "--accept-other-code")
    assert done.returncode == 0 and "accepted (--accept-other-code)" in done.stdout


def resign(files: dict[str, bytes], key: Path, folder: Path) -> dict[str, bytes]:
    """What a signer who cheats does: the list recomputed and signed again with a key that is allowed."""
    files["SHA256SUMS"] = sums(files)
    folder.mkdir(exist_ok=True)
    (folder / "SHA256SUMS").write_bytes(files["SHA256SUMS"])
    subprocess.run(["ssh-keygen", "-Y", "sign", "-f", key, "-n", NS, folder / "SHA256SUMS"], check=True,
                   capture_output=True)
    files["SHA256SUMS.sig"] = (folder / "SHA256SUMS.sig").read_bytes()
    return files


def test_a_level_edited_inside_a_bundle_does_not_count(signed, keys, tmp_path):
    """Even signed by an allowed key, the run is judged against the verifier's own copy of the level."""
    files = members(signed)
    files["level.yml"] = files["level.yml"].replace(b"flagged: {}", b"flagged: {}\n# looser")
    files["certification.json"] = files["certification.json"].replace(b'"NOT CERTIFIED"', b'"CERTIFIED"')
    done = verify(repack(tmp_path / "l.tgz", resign(files, keys["alice"], tmp_path)), "--allowed-signers", keys["allowed"])
    assert done.returncode == 1 and "signature: good, signed by alice@example.org" in done.stdout
    assert "certification: the bundle's level openstack-2026.1 is not this tool's copy of it" in done.stderr
    assert "certification: the bundle says CERTIFIED, judged again it is NOT CERTIFIED" in done.stderr
    files["level.yml"] = b"level: [broken"
    done = verify(repack(tmp_path / "b.tgz", resign(files, keys["alice"], tmp_path / "b")), "--allowed-signers",
                  keys["allowed"])
    assert done.returncode == 1 and "certification: the bundle's level.yml: invalid YAML" in done.stderr


def test_a_hostile_archive_is_refused(keys, tmp_path):
    path = repack(tmp_path / "evil.tgz", {"../../etc/cron.d/evil": b"* * * * * root sh\n"})
    done = verify(path, "--allowed-signers", keys["allowed"])
    assert done.returncode == 1 and "a path out of the bundle (path traversal): refused" in done.stderr
    assert f"{path}: NOT verified: refused" in done.stderr and "Traceback" not in done.stderr


def test_a_run_folder_with_a_link_out_is_not_bundled(run_dir, tmp_path):
    copy = tmp_path / "linked"
    shutil.copytree(run_dir, copy)
    (copy / "ledger.jsonl").unlink()
    os.symlink("/etc/shadow", copy / "ledger.jsonl")
    done = conformance("bundle", copy, "-o", tmp_path / "x.tgz")
    assert done.returncode == 1 and "ledger.jsonl: a symbolic link: refused" in done.stderr
    assert not (tmp_path / "x.tgz").exists() and not (tmp_path / "x.tgz.part").exists()


def test_an_edited_run_is_not_bundled(run_dir, tmp_path):
    copy = tmp_path / "edited"
    shutil.copytree(run_dir, copy)
    doc = json.loads((copy / "results.json").read_text())
    doc["tests"][0]["outcome"] = "passed" if doc["tests"][0]["outcome"] != "passed" else "failed"
    (copy / "results.json").write_text(json.dumps(doc))
    done = conformance("bundle", copy, "-o", tmp_path / "x.tgz")
    assert done.returncode == 1 and "digest mismatch: edited or partial" in done.stderr


def test_no_ssh_keygen_is_a_runner_error_not_a_no(signed, keys, tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # nothing on PATH; python runs by its full path
    done = verify(signed, "--allowed-signers", keys["allowed"], env=env)
    assert done.returncode == 2, done.stderr
    assert "not checked: test runner: ssh-keygen is not installed" in done.stderr
    assert "apt-get install openssh-client" in done.stderr and "NOT verified" not in done.stderr
    done = conformance("bundle", signed.parent, "--sign-key", keys["alice"], env=env)
    assert "ssh-keygen is not installed" in done.stderr


def test_a_private_key_and_its_passphrase_stay_out_of_everything(run_dir, tmp_path):
    secret = "correct horse battery staple"
    key = keygen(tmp_path, "locked", "locked@example.org", passphrase=secret)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "SSH_AUTH_SOCK": ""}
    out = tmp_path / "locked.tgz"
    done = subprocess.run([sys.executable, "-m", "conformance.cli", "bundle", run_dir, "--sign-key", key, "-o", out],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, stdin=subprocess.DEVNULL,
                          start_new_session=True)  # no terminal: ssh-keygen cannot ask, and says so
    assert done.returncode == 1 and "ssh-keygen could not sign with" in done.stderr
    assert secret not in done.stdout + done.stderr and not out.exists() and list(scratch.iterdir()) == []
    good = tmp_path / "good.tgz"
    open_key = keygen(tmp_path, "open", "open@example.org")
    assert conformance("bundle", run_dir, "--sign-key", open_key, "-o", good).returncode == 0
    private = open_key.read_bytes()
    blob = b"".join(members(good).values())
    assert private not in blob and b"PRIVATE KEY" not in blob
