"""Hostile and careless input: every malformed profile, CPI config and `cpi call` argument stops with
exit code 2 and one line naming the file (or option) and the key path, no traceback, within
TIME_LIMIT seconds and an address space of 1 GiB (tests/fixtures/bounded.py runs the real CLI).

Each case is (id, how to build the input, argv tail, what the first line must say)."""

from __future__ import annotations

import copy
import os
import socket
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
from bounded import TIME_LIMIT, conformance  # noqa: E402

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
BASE = yaml.safe_load((ROOT / "profiles" / "example.yml").read_text())
RAW = "@@RAW@@"
LOL = "\n".join(["lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                + [f"lol{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)])


def profile_text(raw: str | None = None, at: str = "", drop: str = "", **changes) -> str:
    """The example profile as YAML text, with ``changes`` (dotted__keys=value) applied, ``drop`` removed
    and, with ``at``, the raw YAML ``raw`` written at that key."""
    doc = copy.deepcopy(BASE)
    items = list(changes.items()) + ([(at, RAW)] if at else [])
    for dotted, value in items:
        target, *keys = doc, *dotted.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = value
    if drop:
        del doc[drop]
    text = yaml.safe_dump(doc, default_flow_style=False, sort_keys=False, width=10_000)
    return text.replace(f"'{RAW}'", raw or "").replace(RAW, raw or "")


def manual(**net) -> list[dict]:
    nets = copy.deepcopy(BASE["networks"]["manual"])
    nets[0].update(net)
    return nets


def lol_tree(depth: int) -> str:
    """A mapping ``depth`` levels deep in block style."""
    return "\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(depth)) + "  " * (depth + 1) + "leaf: 1"


# (id, profile file content (str or bytes), expected key path and problem in the message)
PROFILE_CASES = [
    ("non-utf8", b"name: \xff\n", "not UTF-8 text: byte 0xff at line 1, column 7"),
    ("latin1-later-line", profile_text().encode() + b"# caf\xe9\n", "not UTF-8 text: byte 0xe9"),
    ("utf16", profile_text().encode("utf-16"), "not UTF-8 text: byte 0xff"),
    ("nul-byte", b"name: a\x00b\n", "invalid YAML"),
    ("too-large", b"name: x\n" + b"#" * (2 * 1024 * 1024) + b"\n", "larger than 1024 KiB"),
    ("flow-nested-100k", "a: " + "[" * 100_000, "nested deeper than 64 levels"),
    ("flow-map-nested-100k", "a: " + "{a: " * 100_000, "nested deeper than 64 levels"),
    ("block-nested-80", "a:" + lol_tree(80), "nested deeper than 64 levels"),
    ("billion-laughs-top", LOL, "more than 50000 values once its aliases are expanded"),
    ("billion-laughs-cloud-properties", LOL + "\n" + profile_text("*l8", at="vm__cloud_properties__x"),
     "more than 50000 values once its aliases are expanded"),
    ("recursive-alias", "a: &a [*a]\n", "a YAML alias refers to a node that contains it"),
    ("recursive-map-alias", "a: &a {b: *a}\n", "a YAML alias refers to a node that contains it"),
    ("too-many-aliases", "x: &x 1\nl: [" + ", ".join(["*x"] * 101) + "]\n", "more than 100 YAML aliases"),
    ("alias-expands-deep", "a: &a " + "[" * 60 + "]" * 60 + "\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n",
     "b" + "[0]" * 4),
    ("undefined-alias", "a: *nothing\n", "invalid YAML"),
    ("int-5000-digits-name", profile_text("9" * 5000, at="name"), "name: a number of 5000 characters"),
    ("int-5000-digits-timeout", profile_text("9" * 5000, at="timeouts__poll"), "timeouts.poll: a number of 5000"),
    ("float-5000-digits", profile_text("1." + "5" * 5000, at="timeouts__poll"), "timeouts.poll: a number of 5002"),
    ("hex-int-long", profile_text("0x" + "f" * 4000, at="ssh__port"), "ssh.port: a number of 4002"),
    ("duplicate-top-key", profile_text() + "name: again\n", "name: duplicate key (first at line 1"),
    ("duplicate-nested-key", profile_text().replace("  port: 22\n", "  port: 22\n  port: 2222\n"),
     "ssh.port: duplicate key"),
    ("duplicate-in-list-item", profile_text().replace("  - name: net-a\n", "  - name: net-a\n    name: net-z\n"),
     "networks.manual[0].name: duplicate key"),
    ("python-tag", "name: !!python/object:os.system [id]\n", "invalid YAML"),
    ("unhashable-key", "? [a, b]\n: c\n", "invalid YAML"),
    ("tab-indent", "name: a\ncpi:\n\tcommand: [x]\n", "invalid YAML"),
    ("unclosed", "name: [unclosed\n", "invalid YAML"),
    ("top-level-list", "- a\n- b\n", "expected a mapping at top level, got a list"),
    ("top-level-number", "42\n", "expected a mapping at top level, got a number"),
    ("empty", "", "the file is empty"),
    ("long-unknown-key", profile_text() + "k" * 1000 + ": 1\n", "k" * 60 + "...: unknown key"),
    ("overlong-key", profile_text() + "k" * 100_000 + ": 1\n", "invalid YAML (line"),
    ("unknown-key", profile_text() + "colour: blue\n", "colour: unknown key"),
    ("timeout-inf", profile_text(".inf", at="timeouts__vm_active"), "timeouts.vm_active: Input should be a finite"),
    ("timeout-minus-inf", profile_text("-.inf", at="timeouts__vm_active"), "timeouts.vm_active: Input should be a finite"),
    ("timeout-nan", profile_text(".nan", at="timeouts__vm_active"), "timeouts.vm_active: Input should be a finite"),
    ("timeout-1e400", profile_text("1.0e+400", at="timeouts__vm_active"), "timeouts.vm_active: Input should be a finite"),
    ("timeout-1e400-yaml-string", profile_text("1e400", at="timeouts__vm_active"),
     "timeouts.vm_active: Input should be a valid number, got string '1e400'"),
    ("timeout-1e-300", profile_text("1.0e-300", at="timeouts__poll"), "timeouts.poll: Input should be greater than or"),
    ("timeout-zero", profile_text("0", at="timeouts__poll"), "timeouts.poll: Input should be greater than or"),
    ("timeout-negative", profile_text("-5", at="timeouts__cpi_call"), "timeouts.cpi_call: Input should be greater"),
    ("timeout-a-year", profile_text("31536000", at="timeouts__cpi_call"), "timeouts.cpi_call: Input should be less"),
    ("timeout-true", profile_text("true", at="timeouts__ssh_ready"), "timeouts.ssh_ready: Input should be a valid number"),
    ("timeout-string", profile_text("soon", at="timeouts__ssh_ready"), "timeouts.ssh_ready: Input should be a valid number"),
    ("method-timeout-inf", profile_text(".inf", at="cpi__method_timeouts__create_vm"),
     "cpi.method_timeouts.create_vm: Input should be a finite number"),
    ("method-timeout-bool", profile_text("false", at="cpi__method_timeouts__create_vm"),
     "cpi.method_timeouts.create_vm: Input should be a valid number"),
    ("port-70000", profile_text("70000", at="ssh__port"), "ssh.port: Input should be less than or equal to 65535"),
    ("port-zero", profile_text("0", at="ssh__port"), "ssh.port: Input should be greater than or equal to 1"),
    ("port-true", profile_text("true", at="ssh__port"), "ssh.port: Input should be a valid integer"),
    ("port-string", profile_text("'22'", at="ssh__port"), "ssh.port: Input should be a valid integer"),
    ("port-float", profile_text("22.5", at="ssh__port"), "ssh.port: Input should be a valid integer"),
    ("disk-size-huge", profile_text("1000000000000", at="disks__size_mib"), "disks.size_mib: Input should be less"),
    ("disk-size-true", profile_text("true", at="disks__size_mib"), "disks.size_mib: Input should be a valid integer"),
    ("api-version-true", profile_text("true", at="cpi__api_version"), "cpi.api_version: expected 1 or 2, got boolean"),
    ("api-version-3", profile_text("3", at="cpi__api_version"), "cpi.api_version: Input should be 1 or 2"),
    ("command-empty", profile_text("[]", at="cpi__command"), "cpi.command: List should have at least 1 item"),
    ("command-string", profile_text("my-cpi", at="cpi__command"), "cpi.command: Input should be a valid list"),
    ("static-range-slash-8", profile_text(networks__manual=manual(cidr="10.0.0.0/8", gateway="10.0.0.1",
                                                                   static_ips=["10.0.0.2-10.255.255.254"])),
     "networks.manual[0].static_ips: names 16777213 addresses: at most 65536"),
    ("static-range-everything", profile_text(networks__manual=manual(cidr="0.0.0.0/0", gateway="0.0.0.1",
                                                                      static_ips=["0.0.0.2-255.255.255.254"])),
     "networks.manual[0].static_ips: names 4294967293 addresses"),
    ("static-many-ranges", profile_text(networks__manual=manual(
        cidr="10.0.0.0/8", gateway="10.0.0.1",
        static_ips=[f"10.{i}.0.0-10.{i}.255.255" for i in range(1, 101)])),
     "networks.manual[0].static_ips: names 6553600 addresses"),
    ("static-range-reversed", profile_text(networks__manual=manual(static_ips=["10.10.1.60-10.10.1.20"])),
     "networks.manual[0].static_ips[0]: 10.10.1.60-10.10.1.20: the range ends before it starts"),
    ("static-three-parts", profile_text(networks__manual=manual(static_ips=["10.10.1.20-10.10.1.30-10.10.1.40"])),
     "networks.manual[0].static_ips[0]: '10.10.1.20-10.10.1.30-10.10.1.40' is not an IPv4 address"),
    ("static-huge-entry", profile_text(networks__manual=manual(static_ips=["1" * 100_000])),
     "networks.manual[0].static_ips[0]: '111111111111"),
    ("static-2000-entries", profile_text(networks__manual=manual(static_ips=["10.10.1.20"] * 2000)),
     "networks.manual[0].static_ips: List should have at most 1024 items"),
    ("cidr-slash-33", profile_text(networks__manual=manual(cidr="10.10.1.0/33")), "networks.manual[0].cidr"),
    ("gateway-outside", profile_text(networks__manual=manual(gateway="10.99.0.1")),
     "networks.manual[0].gateway: 10.99.0.1 is outside 10.10.1.0/24"),
    ("twenty-networks", profile_text(networks__manual=[copy.deepcopy(BASE["networks"]["manual"][0])] * 20),
     "networks.manual: List should have at most 16 items"),
    ("same-name-manual-dynamic", profile_text(networks__dynamic__name="net-a"),
     "networks.dynamic.name: 'net-a' is the name of networks.manual[0] too"),
    ("same-name-manual-vip", profile_text(networks__vip__name="net-b"),
     "networks.vip.name: 'net-b' is the name of networks.manual[1] too"),
    ("same-name-dynamic-vip", profile_text(networks__vip__name="dyn"),
     "networks.vip.name: 'dyn' is the name of networks.dynamic too"),
    ("same-name-two-manual", profile_text(networks__manual=manual(name="net-b")),
     "networks.manual[1].name: 'net-b' is used by networks.manual[0] too"),
    ("floating-ip-without-vip", profile_text(networks__vip=None), "ssh.via: floating_ip needs a vip network"),
    ("floating-ip-no-networks", profile_text(networks={}), "ssh.via: floating_ip needs a vip network"),
    ("vip-address-garbage", profile_text(networks__vip__addresses=["not-an-ip"]),
     "networks.vip.addresses[0]: 'not-an-ip' is not an IPv4 address"),
    ("vip-range-too-big", profile_text(networks__vip__addresses=["172.24.0.1-172.24.255.254"]),
     "networks.vip.addresses: names 65534 floating IPs: at most 256"),
    ("known-failure-not-uuid", profile_text(known_failures={"abc": "bug"}),
     "known_failures.abc: keys must be test case ids"),
    ("numeric-secret-in-env", profile_text(cpi__env={"OS_PASSWORD": 73510926}),
     "cpi.env.OS_PASSWORD: Input should be a valid string (value withheld"),
    ("list-secret-in-env", profile_text(cpi__env={"API_KEY": ["hunter2-secret-value"]}),
     "cpi.env.API_KEY: Input should be a valid string (value withheld"),
    ("required-missing", profile_text(drop="ssh"), "ssh: required key is missing"),
    ("name-a-mapping", profile_text(name={"a": list(range(5000))}), "name: Input should be a valid string, got "
                                                                    "dict of 1 item(s)"),
]


@pytest.mark.parametrize("content, expected", [c[1:] for c in PROFILE_CASES], ids=[c[0] for c in PROFILE_CASES])
def test_malformed_profile_exits_2_naming_the_key_path(tmp_path, content, expected):
    """A malformed profile MUST stop `profile check` with exit 2 and a first line naming the file and
    the key path, no traceback, in bounded time and memory."""
    path = tmp_path / "x.yml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    done = conformance("profile", "check", path)
    assert_refused(done, f"conformance profile: {path}: {expected}")


def assert_refused(done, first_line_start: str, code: int = 2) -> None:
    assert done.returncode == code, done.output[-2000:]
    assert "Traceback" not in done.output, done.output[-2000:]
    first = done.stderr.splitlines()[0] if done.stderr else ""
    assert first.startswith(first_line_start), done.stderr[:2000]
    assert len(done.stderr) < 4000, "the message is bounded, not the document formatted into it"
    assert done.seconds < TIME_LIMIT


def test_numeric_secret_is_not_echoed(tmp_path):
    """A value at a secret-looking key MUST NOT appear in the error, even when it has the wrong type."""
    path = tmp_path / "x.yml"
    path.write_text(profile_text(cpi__env={"OS_PASSWORD": 73510926}))
    done = conformance("profile", "check", path)
    assert done.returncode == 2 and "73510926" not in done.output


# -- special files ----------------------------------------------------------------------------------


def special(tmp_path: Path, kind: str) -> Path:
    if kind == "fifo":
        os.mkfifo(tmp_path / "fifo")  # nobody ever writes: reading it would block forever
        return tmp_path / "fifo"
    if kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(tmp_path / "sock"))
        return tmp_path / "sock"
    if kind == "symlink-to-zero":
        (tmp_path / "zero").symlink_to("/dev/zero")
        return tmp_path / "zero"
    if kind == "missing":
        return tmp_path / "nothing.yml"
    return {"dev-zero": Path("/dev/zero"), "dev-urandom": Path("/dev/urandom"), "directory": tmp_path,
            "dev-null": Path("/dev/null")}[kind]


SPECIAL = [("fifo", "is a FIFO, not a regular file"), ("socket", "cannot read: No such device or address"),
           ("symlink-to-zero", "is a character device"), ("dev-zero", "is a character device"),
           ("dev-urandom", "is a character device"), ("dev-null", "is a character device"),
           ("directory", "is a directory, not a regular file"), ("missing", "cannot read: No such file")]


@pytest.mark.parametrize("kind, expected", SPECIAL, ids=[k for k, _ in SPECIAL])
def test_special_file_as_profile_is_refused_without_blocking(tmp_path, kind, expected):
    """A FIFO, a device, a socket or a directory given as the profile MUST be refused at once."""
    path = special(tmp_path, kind)
    assert_refused(conformance("profile", "check", path), f"conformance profile: {path}: {expected}")


# -- CPI configs (cpi call --cpi-config, and a profile's cpi.config on --resolve) --------------------

FAKE_CPI = ROOT / "tests" / "fixtures" / "cpis" / "fake_cpi.py"
CONFIG_CASES = [
    ("non-utf8", b'{"a": "\xff"}', "not UTF-8 text: byte 0xff at line 1, column 8"),
    ("nested-100k", b"[" * 100_000 + b"]" * 100_000, "nested deeper than 64 levels"),
    ("nested-900", b'{"a": ' + b"[" * 900 + b"]" * 900 + b"}", "nested deeper than 64 levels"),
    ("nested-objects-70", b'{"a": ' * 70 + b"1" + b"}" * 70, "nested deeper than 64 levels"),
    ("int-5000-digits", b'{"port": ' + b"9" * 5000 + b"}", "a number of 5000 digits"),
    ("nan", b'{"timeout": NaN}', "NaN is not a JSON number"),
    ("infinity", b'{"timeout": Infinity}', "Infinity is not a JSON number"),
    ("1e999", b'{"timeout": 1e999}', "the number 1e999 is out of range"),
    ("top-level-list", b"[1, 2]", "expected a JSON object at top level"),
    ("invalid-json", b'{"a": ', "not valid JSON: Expecting value"),
    ("too-large", b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}', "larger than 1024 KiB"),
    ("missing-env", b'{"cloud": {"properties": {"openstack": {"api_key": "${CFM_NOT_SET_ANYWHERE}"}}}}',
     "cloud.properties.openstack.api_key: environment variable ${CFM_NOT_SET_ANYWHERE} is not set"),
]


@pytest.mark.parametrize("content, expected", [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_malformed_cpi_config_exits_2_naming_the_file(tmp_path, content, expected):
    """A malformed CPI config MUST stop `cpi call --cpi-config` with exit 2, naming the file."""
    config = tmp_path / "cpi.json"
    config.write_bytes(content)
    done = conformance("cpi", "call", "--cpi", f"{sys.executable} {FAKE_CPI} ok", "--cpi-config", config, "info")
    assert_refused(done, f"conformance cpi: --cpi-config: cpi.config: {config}: {expected}")


@pytest.mark.parametrize("kind, expected", SPECIAL[:5] + SPECIAL[6:], ids=[k for k, _ in SPECIAL[:5] + SPECIAL[6:]])
def test_special_file_as_cpi_config_is_refused(tmp_path, kind, expected):
    """A FIFO, a device or a directory given as the CPI config MUST be refused at once."""
    path = special(tmp_path, kind)
    done = conformance("cpi", "call", "--cpi", f"{sys.executable} {FAKE_CPI} ok", "--cpi-config", path, "info")
    assert_refused(done, f"conformance cpi: --cpi-config: cpi.config: {path}: {expected}")


@pytest.mark.parametrize("kind, expected", [("fifo", "is a FIFO"), ("dev-zero", "is a character device")])
def test_special_file_as_profile_cpi_config_is_refused_on_resolve(tmp_path, kind, expected):
    """`profile check --resolve` MUST refuse a FIFO or /dev/zero as cpi.config, naming the key."""
    path = tmp_path / "x.yml"
    path.write_text(profile_text(cloud=None, cpi__config=str(special(tmp_path, kind))))
    done = conformance("profile", "check", "--resolve", path)
    assert_refused(done, f"conformance profile: {path}: cpi.config: ")
    assert expected in done.stderr


def test_ssh_key_path_from_env_is_not_echoed(tmp_path):
    """An SSH key path that came from ${ENV} is a secret's value: the error MUST NOT repeat it."""
    path = tmp_path / "x.yml"
    path.write_text(profile_text(cloud=None, cpi__config=None, cpi__command=["cpi"],
                                 ssh__private_key="${CFM_KEY_PATH}"))
    hidden = "/nonexistent/CFM-hidden-key-path"
    done = conformance("profile", "check", "--resolve", path, env={**os.environ, "CFM_KEY_PATH": hidden})
    assert_refused(done, f"conformance profile: {path}: ssh.private_key: <redacted>: no readable file there")
    assert "CFM-hidden-key-path" not in done.output


# -- cpi call arguments -----------------------------------------------------------------------------

ARG_CASES = [
    ("timeout-zero", ["--timeout", "0"], "--timeout: 0 is not a number of seconds"),
    ("timeout-negative", ["--timeout", "-1"], "--timeout: -1 is not a number of seconds"),
    ("timeout-nan", ["--timeout", "nan"], "--timeout: nan is not a number of seconds"),
    ("timeout-inf", ["--timeout", "inf"], "--timeout: inf is not a number of seconds"),
    ("timeout-1e400", ["--timeout", "1e400"], "--timeout: inf is not a number of seconds"),
    ("timeout-a-year", ["--timeout", "31536000"], "--timeout: 3.1536e+07 is not a number of seconds"),
    ("cpi-empty", ["--cpi", ""], "--cpi: the command is empty"),
    ("cpi-blank", ["--cpi", "   "], "--cpi: the command is empty"),
    ("cpi-unclosed-quote", ["--cpi", 'my-cpi "unclosed'], "--cpi: cannot split the command line"),
    ("arguments-nested-100k", ["ARGS", "[" * 50_000 + "]" * 50_000], "arguments: nested deeper than 64"),
    ("arguments-nan", ["ARGS", "[NaN]"], "arguments: NaN is not a JSON number"),
    ("arguments-1e999", ["ARGS", "[1e999]"], "arguments: the number 1e999 is out of range"),
    ("arguments-int-5000", ["ARGS", "[" + "1" * 5000 + "]"], "arguments: a number of 5000 digits"),
    ("arguments-object", ["ARGS", "{}"], "arguments must be a JSON list"),
    ("arguments-not-json", ["ARGS", "[vm-1]"], "arguments is not JSON: Expecting value"),
    ("context-list", ["--context", "[]"], "--context must be a JSON object"),
    ("context-nested", ["--context", '{"a": ' * 100 + "1" + "}" * 100], "--context: nested deeper than 64"),
]


@pytest.mark.parametrize("extra, expected", [c[1:] for c in ARG_CASES], ids=[c[0] for c in ARG_CASES])
def test_bad_cpi_call_arguments_exit_2(extra, expected):
    """`cpi call` MUST refuse an unusable timeout, command, argument list or context with exit 2."""
    argv = ["cpi", "call"]
    if "--cpi" not in extra:
        argv += ["--cpi", f"{sys.executable} {FAKE_CPI} ok"]
    options = [x for x in extra if x != "ARGS"][: 2 if extra[0] != "ARGS" else 0]
    tail = [extra[1]] if extra[0] == "ARGS" else []
    done = conformance(*argv, *options, "has_vm", *tail)
    assert_refused(done, f"conformance cpi: {expected}")
