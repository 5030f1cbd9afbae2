"""Target profiles: one YAML file per cloud + CPI, validated into frozen models before any cloud call.

    profile = load_profile("profiles/local.yml")                 # schema, addresses, ranges
    profile = load_profile("profiles/local.yml", resolve=True)   # + ${ENV}, clouds.yaml, CPI config

Every problem stops with ProfileError("profiles/x.yml", "networks.manual[1].static_ips[0]",
"10.9.0.5 is outside 10.10.2.0/24"). Credentials are never inline: a clouds.yaml entry (`cloud:`)
or `${ENV}` references, resolved only with ``resolve=True``. Values resolved from the environment at
secret-looking keys, and the credentials of the clouds.yaml entry, are gathered in
``Profile.secrets`` (never dumped, never printed) so that the CPI client can scan for leaks.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, PrivateAttr, ValidationError

from conformance import addresses
from conformance.errors import ProfileError
from conformance.releases import RELEASES, Release
from conformance.secrets import SECRET_KEY_RE, interpolate

#: Static IPs the suite needs on each manual network, per xdist worker.
STATIC_IPS_PER_WORKER = 4


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CpiSection(_Model):
    command: Annotated[list[str], Field(min_length=1)]
    config: str | None = None
    api_version: Literal[1, 2] = 2
    env: dict[str, str] = {}
    method_timeouts: dict[str, PositiveFloat] = {}


class StemcellSection(_Model):
    path: str | None = None
    build: bool = False
    light_image_id: str | None = None


class VmSection(_Model):
    cloud_properties: dict[str, Any]
    availability_zone: str | None = None


class _NetRef(_Model):
    name: str
    net_id: str | None = None
    net_name: str | None = None
    cloud_properties: dict[str, Any] = {}


class ManualNetwork(_NetRef):
    cidr: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address
    dns: list[ipaddress.IPv4Address] = []
    static_ips: Annotated[list[str], Field(min_length=1)]

    def static_pool(self) -> list[ipaddress.IPv4Address]:
        return addresses.expand(self.static_ips)


class DynamicNetwork(_NetRef):
    pass


class VipNetwork(_Model):
    name: str = "vip"
    floating_network: str
    addresses: list[str] = []


class Networks(_Model):
    manual: list[ManualNetwork] = []
    dynamic: DynamicNetwork | None = None
    vip: VipNetwork | None = None


class SshSection(_Model):
    user: str = "vcap"
    private_key: str
    via: Literal["floating_ip", "fixed_ip"] = "floating_ip"
    port: PositiveInt = 22


class DiskSection(_Model):
    size_mib: PositiveInt = 1024
    resize_to_mib: PositiveInt = 2048
    cloud_properties: dict[str, Any] = {}


class Features(_Model):
    cloud_witness: bool = True
    multi_nic: bool = True
    dynamic_network: bool = True
    vip_network: bool = True
    light_stemcell: bool = True
    reboot: bool = True
    native_disk_resize: bool = True
    snapshots: bool = True
    get_disks: bool = False
    config_drive: list[Literal["cdrom", "disk"]] = ["cdrom"]
    strict_error_types: bool = False


class Timeouts(_Model):
    poll: PositiveFloat = 2
    cpi_call: PositiveFloat = 900
    stemcell_upload: PositiveFloat = 1800
    vm_active: PositiveFloat = 600
    vm_delete: PositiveFloat = 300
    reboot: PositiveFloat = 600
    ssh_ready: PositiveFloat = 300
    ssh_command: PositiveFloat = 60
    disk_attach: PositiveFloat = 180
    disk_detach: PositiveFloat = 180
    volume_status: PositiveFloat = 300
    port_release: PositiveFloat = 120
    floating_ip: PositiveFloat = 120


class Profile(_Model):
    name: str
    description: str = ""
    cloud: str | None = None
    region: str | None = None
    release: Literal[tuple(RELEASES)]  # type: ignore[valid-type]
    cpi: CpiSection
    stemcell: StemcellSection
    vm: VmSection
    networks: Networks = Networks()
    ssh: SshSection
    disks: DiskSection = DiskSection()
    features: Features = Features()
    timeouts: Timeouts = Timeouts()
    known_failures: dict[str, str] = {}

    _source: str = PrivateAttr(default="")
    _secrets: frozenset[str] = PrivateAttr(default=frozenset())
    _cpi_config_doc: dict[str, Any] | None = PrivateAttr(default=None)

    @property
    def source(self) -> str:
        """The file this profile was loaded from."""
        return self._source

    @property
    def secrets(self) -> frozenset[str]:
        """Secret values known after resolution (empty before). Never print these."""
        return self._secrets

    @property
    def cpi_config_doc(self) -> dict[str, Any] | None:
        """The CPI config with its ${ENV} references resolved (after resolve=True), else None."""
        return self._cpi_config_doc

    @property
    def release_info(self) -> Release:
        return RELEASES[self.release]

    def command_with_dirs(self) -> list[str]:
        """The CPI command with ``{profile_dir}`` replaced by the profile file's folder."""
        folder = str(Path(self._source).parent.resolve())
        return [part.replace("{profile_dir}", folder) for part in self.cpi.command]

    def path(self, value: str) -> Path:
        """A path from the profile: ``~`` expanded, relative to the profile file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else Path(self._source).parent / p


def load_profile(file: str | os.PathLike, *, resolve: bool = False, environ=None, clouds=None) -> Profile:
    """Load, validate and (with ``resolve``) resolve a profile. Raises ProfileError.

    ``environ`` defaults to os.environ; ``clouds`` is a callable returning the clouds.yaml
    entries as a dict (default: openstacksdk's own loader, which reads files only).
    """
    name = str(file)
    raw = _read_yaml(name)
    secrets: set[str] = set()
    if resolve:
        raw = interpolate(raw, os.environ if environ is None else environ, secrets, _fail_env(name))
    try:
        profile = Profile.model_validate(raw)
    except ValidationError as exc:
        raise ProfileError(name, "", _format_validation(exc)) from None
    _check_networks(name, profile)
    profile._source = name
    if resolve:
        from conformance import profile_resolve

        secrets |= profile_resolve.resolve(name, profile, environ, clouds)
    profile._secrets = frozenset(s for s in secrets if s)
    return profile


def _read_yaml(name: str) -> dict:
    try:
        text = Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(name, "", f"cannot read: {exc.strerror}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProfileError(name, "", f"invalid YAML{where}: {problem}") from None
    if doc is None:
        raise ProfileError(name, "", "the file is empty (expected a mapping of profile keys)")
    if not isinstance(doc, dict):
        raise ProfileError(name, "", f"expected a mapping at top level, got a {_yaml_kind(doc)}")
    return doc


def _yaml_kind(doc: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(doc), type(doc).__name__
    )


def _fail_env(name: str):
    def fail(path: str, var: str):
        raise ProfileError(name, path, f"environment variable ${{{var}}} is not set")

    return fail


def key_path(loc: tuple) -> str:
    """('networks', 'manual', 1, 'static_ips', 0) -> 'networks.manual[1].static_ips[0]'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _format_validation(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif "input" in err and err["type"].endswith("_type"):
            msg = f"{msg}, got {_yaml_kind(err['input'])} {err['input']!r}"[:200]
        lines.append(f"{key_path(loc)}: {msg}")
    return "\n".join(lines) if len(lines) == 1 else "\n  " + "\n  ".join(lines)


def _check_networks(name: str, profile: Profile) -> None:
    problems = addresses.check_manual_networks(profile.networks.manual, STATIC_IPS_PER_WORKER)
    problems += addresses.check_vip(profile.networks.vip)
    for ref_path, ref in _net_refs(profile):
        if (ref.net_id is None) == (ref.net_name is None):
            problems.append((ref_path, "give exactly one of net_id or net_name"))
    if profile.stemcell.path is None and not profile.stemcell.build and profile.stemcell.light_image_id is None:
        problems.append(("stemcell", "give path (a stemcell tarball), build: true, or light_image_id"))
    if profile.disks.resize_to_mib <= profile.disks.size_mib:
        problems.append(("disks.resize_to_mib", f"must be larger than disks.size_mib ({profile.disks.size_mib})"))
    for case_id in profile.known_failures:
        if not addresses.is_uuid(case_id):
            problems.append((f"known_failures.{case_id}", "keys must be test case ids (uuid)"))
    if problems:
        path, problem = problems[0]
        more = "".join(f"\n{name}: {p}: {m}" for p, m in problems[1:])
        raise ProfileError(name, path, problem + more)


def _net_refs(profile: Profile):
    for i, net in enumerate(profile.networks.manual):
        yield f"networks.manual[{i}]", net
    if profile.networks.dynamic is not None:
        yield "networks.dynamic", profile.networks.dynamic


def redacted(profile: Profile) -> dict[str, Any]:
    """A copy safe for reports: values at secret-looking keys replaced."""

    def scrub(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: scrub(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v, key) for v in value]
        if isinstance(value, str) and SECRET_KEY_RE.search(key) and key != "private_key":
            return "<redacted>"
        if isinstance(value, str) and value in profile.secrets:
            return "<redacted>"
        return value

    return scrub(profile.model_dump(mode="json"))
