"""Hostile CPIs through `conformance cpi call` and `conformance run`: a broken answer is a clear
failure naming the call (never a traceback), and a configured secret the CPI leaks -- in any of the
forms below -- reaches no output, no report file and no temp file.

Real processes: the CLI under RLIMIT_AS 1 GiB and a time bound (tests/fixtures/bounded.py), the CPIs
of tests/fixtures/cpis/ (hostile_cpi.py answers badly, leaky_cpi.py leaks its api_key)."""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
from bounded import TIME_LIMIT, conformance  # noqa: E402

pytestmark = pytest.mark.component

FIXTURES = Path(__file__).parents[1] / "fixtures"
HOSTILE = FIXTURES / "cpis" / "hostile_cpi.py"
LEAKY = FIXTURES / "cpis" / "leaky_cpi.py"
#: The canary: long, with characters that URL-encoding, JSON and base64 all treat differently.
CANARY = "Cfm-Canary/7Qx9+Zr2w=Lp4t&Vb"

ANSWERS = [
    ("invalid-utf8", "not UTF-8: byte 0xff at offset 34"),
    ("overlong-utf8", "not UTF-8: byte 0xc0"),
    ("float-1e999", "the number 1e999 is out of range"),
    ("float-minus-1e999", "the number -1e999 is out of range"),
    ("nan", "NaN is not a JSON number"),
    ("infinity", "Infinity is not a JSON number"),
    ("big-int", "an integer of 5000 digits"),
    ("nested-1000", "nested deeper than 100 levels"),
    ("nested-100k", "nested deeper than 100 levels"),
    ("nested-101-objects", "nested deeper than 100 levels"),
    ("lone-surrogate", "a string holds a lone UTF-16 surrogate (\\ud800)"),
    ("error-type-nested", "nested deeper than 100 levels"),
    ("message-invalid-utf8", "not UTF-8: byte 0xff"),
    ("log-1e999", "the number 1e999 is out of range"),
    ("bom", "Expecting value: line 1 column 1"),
    ("utf16", "not UTF-8: byte 0xff at offset 0"),
    ("nul-bytes", "Expecting value"),
]


@pytest.mark.parametrize("mode, problem", ANSWERS, ids=[m for m, _ in ANSWERS])
def test_hostile_answer_is_a_broken_answer_naming_the_call(mode, problem):
    """A CPI answer that is not valid, bounded JSON MUST fail `cpi call` with exit 1 and a first line
    naming the method and request id and the broken rule; no traceback, bounded time and memory."""
    done = conformance("cpi", "call", "--cpi", f"{sys.executable} {HOSTILE} {mode}", "info")
    assert done.returncode == 1, done.output[-2000:]
    assert "Traceback" not in done.output
    first = done.stderr.splitlines()[0]
    assert re.match(r"error: CPI info \(request cpi-\d{6}\) gave a broken answer: stdout is not JSON: ", first), first
    assert problem in first, first
    assert len(done.stderr) < 8000 and done.seconds < TIME_LIMIT


def test_huge_error_type_is_cut():
    """A megabyte error type MUST NOT be printed whole."""
    done = conformance("cpi", "call", "--cpi", f"{sys.executable} {HOSTILE} error-type-huge", "info")
    assert done.returncode == 1 and "Traceback" not in done.output
    assert "(1000 chars) (not an error type the Director knows)" in done.stderr.splitlines()[0]
    assert len(done.output) < 20_000 and done.seconds < TIME_LIMIT


def test_binary_stderr_of_a_good_answer_is_fine():
    done = conformance("cpi", "call", "--cpi", f"{sys.executable} {HOSTILE} stderr-binary", "info")
    assert done.returncode == 0 and json.loads(done.stdout)["result"] == {"stemcell_formats": []}
    assert "Traceback" not in done.output


# -- the canary ------------------------------------------------------------------------------------


def canary_forms(secret: str = CANARY) -> set[str]:
    """The forms the canary is searched for, made here independently of conformance.core.secrets."""
    raw = secret.encode()
    found = {secret.lower(), raw.hex(), urllib.parse.quote(secret, safe="").lower(),
             urllib.parse.quote_plus(secret).lower(), "".join(f"\\u{ord(c):04x}" for c in secret)}
    for shift in range(3):
        chunk = raw[shift:][: (len(raw) - shift) // 3 * 3]
        found |= {base64.b64encode(chunk).decode(), base64.urlsafe_b64encode(chunk).decode()}
    return found


def canary_in(text: str) -> list[str]:
    """Which forms of the canary ``text`` holds: as written, lower-cased, and with whitespace, quotes,
    '+', ',' and JSON-escaped newlines and quotes removed (a secret split in two)."""
    squeezed = re.sub(r"""\\[nrt"']|[\s"'+,]""", "", text)
    hits = []
    for form in canary_forms():
        plain_form = form.lower() == form
        for candidate in (text, squeezed):
            haystack = candidate.lower() if plain_form else candidate
            if form in haystack:
                hits.append(form)
                break
    # the canary's own '+' would be squeezed away: look for the squeezed canary too
    if CANARY.replace("+", "").lower() in squeezed.lower():
        hits.append("split")
    return hits


def new_temp_files(since: float) -> list[Path]:
    found = []
    for folder, _, names in os.walk("/tmp"):
        for name in names:
            path = Path(folder) / name
            try:
                st = path.lstat()
            except OSError:
                continue
            if path.is_file() and not path.is_symlink() and st.st_mtime >= since and st.st_size < 64 * 1024 * 1024:
                found.append(path)
    return found


def assert_no_canary(since: float, done, *folders: Path) -> None:
    assert canary_in(done.stdout) == [], done.stdout[-3000:]
    assert canary_in(done.stderr) == [], done.stderr[-3000:]
    files = [p for f in folders for p in f.rglob("*") if p.is_file()] + new_temp_files(since)
    assert files, "the search looked at no file at all"
    leaked = {str(p): hits for p in files if (hits := canary_in(_text(p)))}
    assert leaked == {}, "the canary in a file"


def _text(path: Path) -> str:
    """The file's bytes as text; "" for a file another program removed meanwhile (a database's
    temporary table in /tmp, seen when the cloud tier ran beside this one)."""
    try:
        return path.read_bytes().decode("latin-1")
    except FileNotFoundError:
        return ""


def config_file(tmp_path: Path) -> Path:
    config = tmp_path / "cpi.json"
    config.write_text(json.dumps({"cloud": {"plugin": "openstack", "properties": {"openstack": {
        "auth_url": "http://keystone.invalid/v3", "username": "admin", "api_key": "${CFM_CANARY}"}}}}))
    return config


LEAK_FORMS = ["plain", "base64", "base64-urlsafe", "urlencoded", "hex", "upper", "split", "split-newline",
              "json-escaped", "json-escaped-broken", "dict-key", "error-type", "wrong-shape", "straddle-excerpt",
              "straddle-stderr", "straddle-log", "all"]


@pytest.mark.parametrize("form", LEAK_FORMS)
def test_leaked_canary_reaches_no_output_and_no_file(tmp_path, form):
    """Whatever form a CPI leaks its configured secret in, `cpi call` MUST report the leak (exit 3,
    value withheld) and the secret MUST appear in no output and no temp file."""
    since = time.time() - 1
    env = {**os.environ, "CFM_CANARY": CANARY}
    done = conformance("cpi", "call", "--cpi", f"{sys.executable} {LEAKY} {form} {{cpi_config}}",
                       "--cpi-config", config_file(tmp_path), "info", env=env)
    assert "Traceback" not in done.output
    assert done.returncode == 3, done.output[-3000:]
    assert "SECRET LEAK: the CPI wrote a configured secret in" in done.stderr
    assert_no_canary(since, done, tmp_path)


def test_leaked_canary_in_a_whole_run_reaches_no_report_file(tmp_path):
    """`conformance run` against a CPI that leaks every form MUST keep the secret out of the report
    folder, the console and temp files, and fail the tests that saw the leak."""
    since = time.time() - 1
    doc = yaml.safe_load((FIXTURES / "profiles" / "fake.yml").read_text())
    doc["cpi"].update(command=[sys.executable, str(LEAKY), "all", "{cpi_config}"], config=str(config_file(tmp_path)))
    doc["ssh"]["private_key"] = str(FIXTURES / "profiles" / "dummy_key")
    profile = tmp_path / "leaky.yml"
    profile.write_text(yaml.safe_dump(doc))
    reports = tmp_path / "reports"
    done = conformance("run", "--profile", profile, "--report-dir", reports, "-k", "info or unknown_method",
                       env={**os.environ, "CFM_CANARY": CANARY}, time_limit=120)
    assert "Traceback" not in done.stderr
    assert done.returncode == 1, done.output[-3000:]
    assert "leaked a configured secret" in done.stdout
    (run_dir,) = reports.iterdir()
    assert (run_dir / "results.json").is_file() and (run_dir / "calls.jsonl").is_file()
    assert_no_canary(since, done, reports)


def test_the_canary_search_finds_every_form_the_leaky_cpi_writes():
    """The canary tests can fail: the search above sees each form leaky_cpi.py writes."""
    sys.path.insert(0, str(LEAKY.parent))
    import leaky_cpi

    written = {**leaky_cpi.forms(CANARY), "json-escaped": leaky_cpi.raw_json_escaped(CANARY),
               "in-json": json.dumps({"message": leaky_cpi.forms(CANARY)["split"]})}
    missed = [name for name, text in written.items() if not canary_in(text)]
    assert missed == []


def test_killed_cpi_call_leaves_no_rendered_config_on_disk(tmp_path):
    """`cpi call` killed with SIGKILL during a call MUST leave no file holding the secret: the rendered
    CPI config lives in a memfd of the process, read by the CPI as /proc/<pid>/fd/<n>."""
    import signal
    import subprocess

    since = time.time() - 1
    fake = FIXTURES / "cpis" / "fake_cpi.py"
    proc = subprocess.Popen([sys.executable, "-m", "conformance.cli", "cpi", "call", "--cpi",
                             f"{sys.executable} {fake} slow {{cpi_config}}", "--cpi-config", str(config_file(tmp_path)),
                             "info"], env={**os.environ, "CFM_CANARY": CANARY}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=FIXTURES.parents[1])
    time.sleep(0.8)  # the CPI (slow: answers after 1.5 s) is running with the config
    proc.send_signal(signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=TIME_LIMIT)
    assert proc.returncode == -signal.SIGKILL
    time.sleep(1.0)  # the orphaned CPI answers into a closed pipe and ends
    leaked = {str(p) for p in new_temp_files(since) if canary_in(p.read_bytes().decode("latin-1"))}
    assert leaked == set()
    assert not canary_in(stdout.decode("latin-1") + stderr.decode("latin-1"))
