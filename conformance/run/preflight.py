"""Runner preflight: what the machine running the suite needs for a profile's tests, checked before
the first cloud call (`conformance run` stops with exit 2 on a missing thing; `conformance preflight`
lists every check).

Each check is one small function returning a Check; none calls the cloud and each subprocess has a
deadline of a few seconds. The checks cover every test the profile enables (``features``,
``networks``, ``ssh.via``), not a -k/-m selection: which tests a selection keeps is only known once
pytest has collected them, and a profile that enables a test means to run it.

What the runner side runs or reads, and who needs it:

    the CPI executable (cpi.command[0], and its #! interpreter)   every test
    the SSH private key (ssh.private_key), parsed by paramiko     the tests that SSH into VMs
    the stemcell tarball (stemcell.path)                          the tests that boot VMs
    ping (conformance.run.netcheck)                               the vip network tests
    ip, and a route to the floating IPs (networks.vip.addresses)  SSH via floating_ip, the vip tests
    a writable report folder (--report-dir)                       the run's records

A building stemcell (``stemcell.build: true``) needs the build's own tools: `conformance host check
stemcell` lists those.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from conformance.core.errors import RunnerError
from conformance.cpi.client import DEFAULT_PATH
from conformance.profile import addresses
from conformance.profile.resolve import CPI_CONFIG_PLACEHOLDER
from conformance.run import netcheck, requirements

TOOL_TIMEOUT = 5.0  # seconds for one `ip` call
IP_HINT = "Debian: apt-get install iproute2"
EVERY_TEST = "every test (cpi.command)"
SSH_TESTS = "the tests that SSH into VMs (ssh.private_key)"
VM_TESTS = "the tests that boot VMs (stemcell.path)"
VIP_TESTS = "the vip network tests (features.vip_network)"
SSH_VIA_FIP = "SSH into VMs (ssh.via: floating_ip)"


@dataclass(frozen=True)
class Check:
    """One thing the runner needs: ``status`` ok, missing (the run stops) or warning (said, not fatal)."""

    what: str
    needed_by: str
    status: str = "ok"
    text: str = ""  # ok: what was found; otherwise: the problem, with a hint

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def line(self) -> str:
        """The one line `conformance run` prints for a problem."""
        warning = "warning: " if self.status == "warning" else ""
        return f"runner: {warning}{self.text}: needed by {self.needed_by}"

    def row(self) -> str:
        """The line `conformance preflight` prints for every check."""
        return f"{self.status:<8} {self.what}: {self.text} (needed by {self.needed_by})"


def ok(what: str, needed_by: str, found: str) -> Check:
    return Check(what, needed_by, "ok", found)


def missing(what: str, needed_by: str, problem: str) -> Check:
    return Check(what, needed_by, "missing", problem)


def checks(profile, report_dir: str | os.PathLike | None = None) -> list[Check]:
    """Every check the profile's tests need, in the order a user would fix them."""
    found = [check_cpi_command(profile), check_ssh_key(profile)]
    if profile.stemcell.path:
        found.append(check_stemcell(profile))
    if vip_tests_enabled(profile):
        found.append(check_ping())
    found += check_routes(profile)
    if "libvirt" in profile.witness_options:
        found.append(check_virsh(profile.witness_options["libvirt"].get("virsh", "virsh")))
    if report_dir is not None:
        found.append(check_report_dir(report_dir))
    return found


def problems(found: list[Check]) -> list[Check]:
    return [c for c in found if not c.ok]


def vip_tests_enabled(profile) -> bool:
    """The vip network tests run (and ping floating IPs from the runner) when the profile meets their
    ``requires("vip_network")``, exactly as the plugin's skip marks decide."""
    return requirements.unmet(profile, "vip_network") is None


# -- the CPI executable ------------------------------------------------------------------------
def check_cpi_command(profile, environ=None) -> Check:
    """cpi.command[0] (``{profile_dir}`` filled in) exists and is executable, found as the CPI client
    finds it: a path, or a name on the CPI's PATH (cpi.env's PATH, else this process's)."""
    environ = os.environ if environ is None else environ
    word = profile.command_with_dirs()[0]
    if CPI_CONFIG_PLACEHOLDER in word:
        return ok("CPI executable", EVERY_TEST, f"not checked: {word} is only known at run time")
    search = profile.cpi.env.get("PATH", environ.get("PATH", DEFAULT_PATH))
    if "/" in word:
        problem = _file_problem(Path(word), "the CPI executable", executable=True)
        path = Path(word)
    else:
        found = shutil.which(word, path=search)
        problem = None if found else f"the CPI executable {word!r} is not on the CPI's PATH ({search}){_venv_hint(word)}"
        path = Path(found) if found else None
    problem = problem or _interpreter_problem(path, search)
    return missing("CPI executable", EVERY_TEST, problem) if problem else ok("CPI executable", EVERY_TEST, str(path))


def check_virsh(command: str, which=shutil.which) -> Check:
    """The libvirt witness reads the hypervisor through virsh (Debian: libvirt-clients)."""
    needed_by = "the libvirt witness's cloud checks (profile witnesses.libvirt)"
    found = which(command)
    if found:
        return ok("virsh", needed_by, found)
    return missing("virsh", needed_by, f"{command} is not installed (Debian: apt-get install libvirt-clients)")


def _venv_hint(word: str) -> str:
    """A console script of this installation (conformance-openstack-cpi) sits beside its python."""
    beside = Path(sys.executable).parent / word
    return f" (it is in {beside.parent}: activate that virtualenv or put it on PATH)" if beside.is_file() else ""


def _interpreter_problem(path: Path, search: str) -> str | None:
    """A script's #! interpreter (and the program `env` looks up on the CPI's PATH) is there."""
    try:
        with path.open("rb") as fh:
            head = fh.readline(512)
    except OSError:  # an unreadable binary can still run; a script could not, and says so when run
        return None
    if not head.startswith(b"#!"):
        return None
    words = head[2:].decode("utf-8", errors="replace").split()
    if not words:
        return f"the CPI executable {path} has an empty #! line"
    interpreter = Path(words[0])
    if not (interpreter.is_file() and os.access(interpreter, os.X_OK)):
        return f"{interpreter}, the interpreter of the CPI executable {path} (#! line), is not installed"
    program = next((w for w in words[1:] if not w.startswith("-") and "=" not in w), None)
    if interpreter.name == "env" and program and shutil.which(program, path=search) is None:
        return f"{program}, the interpreter of the CPI executable {path} (#!{interpreter} {program}), " \
               "is not on the CPI's PATH"
    return None


# -- files the profile names -------------------------------------------------------------------
def _file_problem(path: Path, label: str, *, executable: bool = False) -> str | None:
    if not path.exists():
        return f"{label} {path} does not exist"
    if not path.is_file():
        return f"{label} {path} is not a regular file"
    if not os.access(path, os.X_OK if executable else os.R_OK):
        return f"{label} {path} is not {'executable' if executable else 'readable'} by this user (uid {os.getuid()})"
    return None


def check_ssh_key(profile) -> Check:
    """ssh.private_key is a readable file that paramiko loads without a passphrase (as the suite
    does: no prompt, nothing of the key printed)."""
    from conformance.guest.errors import GuestKeyError
    from conformance.guest.ssh import load_key

    path = profile.path(profile.ssh.private_key)
    problem = _file_problem(path, "the SSH key")
    if problem is None:
        try:
            key = load_key(str(path))
        except GuestKeyError as exc:
            problem = f"the SSH key {path} cannot be used: {exc.detail}"
        else:
            return ok("SSH key", SSH_TESTS, f"{path} ({key.get_name()})")
    return missing("SSH key", SSH_TESTS, problem)


def check_stemcell(profile) -> Check:
    """stemcell.path is a readable tar archive (a BOSH stemcell tarball)."""
    path = profile.path(profile.stemcell.path)
    problem = _file_problem(path, "the stemcell tarball")
    if problem is None and not tarfile.is_tarfile(path):
        problem = f"the stemcell tarball {path} is not a tar archive"
    return missing("stemcell", VM_TESTS, problem) if problem else ok("stemcell", VM_TESTS, str(path))


def check_report_dir(folder: str | os.PathLike) -> Check:
    """The report folder exists or can be made, and this user may write in it."""
    needed_by = "the run's records (--report-dir)"
    path = Path(folder).absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        return missing("report folder", needed_by, f"the report folder {folder}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        return missing("report folder", needed_by,
                       f"the report folder {folder} cannot be written ({existing} is read-only for uid {os.getuid()})")
    return ok("report folder", needed_by, str(path))


# -- ping and routes ---------------------------------------------------------------------------
def check_ping(ping: Callable[..., bool] = netcheck.ping) -> Check:
    """ping is installed and may run here (it answers for 127.0.0.1), as netcheck.ping runs it."""
    try:
        answered = ping("127.0.0.1", count=1, timeout=2)
    except RunnerError as exc:
        return missing("ping", VIP_TESTS, exc.detail)
    if not answered:
        return missing("ping", VIP_TESTS, "ping 127.0.0.1 got no answer: ping cannot be used here")
    return ok("ping", VIP_TESTS, "answers for 127.0.0.1")


def route_users(profile) -> str | None:
    """Who reaches floating IPs from the runner: SSH via floating_ip, the vip tests; None: nobody."""
    users = [SSH_VIA_FIP] if profile.ssh.via == "floating_ip" else []
    users += [VIP_TESTS] if vip_tests_enabled(profile) else []
    return " and ".join(users) or None


def check_routes(profile, run=subprocess.run, which=shutil.which) -> list[Check]:
    """A route from this machine to each floating IP entry of networks.vip.addresses (its first
    address), from `ip -j route get`. Floating IPs the cloud allocates are unknown before the run."""
    needed_by = route_users(profile)
    if needed_by is None:
        return []
    entries = list(profile.networks.vip.addresses) if profile.networks.vip else []
    if not entries:
        return [ok("route to floating IPs", needed_by,
                   "not checked: networks.vip.addresses is empty (the cloud allocates floating IPs during the run)")]
    ip = which("ip", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if ip is None:
        return [missing("ip", needed_by, f"ip is not installed ({IP_HINT})")]
    defaults, _ = ip_json(run, ip, "route", "show", "default")
    found = []
    for entry in dict.fromkeys(entries):
        address = str(addresses.parse_entry(entry)[0])
        routes, error = ip_json(run, ip, "route", "get", address)
        found.append(judge_route(address, (routes or [None])[0], defaults or [], error, needed_by))
    return found


def ip_json(run, ip: str, *args: str) -> tuple[list | None, str]:
    """``ip -j ARGS`` parsed, or (None, what went wrong)."""
    try:
        done = run([ip, "-j", *args], capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, f"`ip {' '.join(args)}` did not answer in {TOOL_TIMEOUT:g}s"
    if done.returncode != 0:
        return None, (done.stderr.strip() or f"exit {done.returncode}").splitlines()[-1]
    try:
        return json.loads(done.stdout or "[]"), ""
    except ValueError:
        return None, f"`ip -j {' '.join(args)}` printed no JSON"


def judge_route(address: str, route: dict | None, defaults: list[dict], error: str, needed_by: str) -> Check:
    """No route (or an unreachable/blackhole one) is missing. A route through the default gateway is a
    warning for a private address (the floating network is usually a route of its own, e.g. the local
    cloud's bridge br-ex) and fine for a public one (a cloud with internet-routed floating IPs)."""
    what = f"route to {address}"
    if route is None or route.get("type") in ("unreachable", "blackhole", "prohibit"):
        said = error or f"route type {(route or {}).get('type')}"
        return missing(what, needed_by, f"no route to the floating IP {address} (networks.vip.addresses): {said} "
                       "(add a route to the cloud's external network, or run the suite where it is reachable)")
    via, dev = route.get("gateway"), route.get("dev")
    through_default = via and any(d.get("gateway") == via and d.get("dev") == dev for d in defaults)
    if through_default and not ipaddress.ip_address(address).is_global:
        return Check(what, needed_by, "warning",
                     f"the floating IP {address} (networks.vip.addresses) is routed through the default gateway "
                     f"{via} (dev {dev}), not to the cloud's external network (add a route for the floating IP "
                     "range unless that gateway forwards to it; the local cloud's is its bridge br-ex)")
    return ok(what, needed_by, f"dev {dev}" + (f" via {via}" if via else ""))
