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

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
)

from conformance.core import safeload
from conformance.core.errors import ProfileError
from conformance.core.secrets import SECRET_KEY_RE, Redactor, interpolate
from conformance.profile import addresses
from conformance.profile.releases import RELEASES, Release

#: Static IPs the suite needs on each manual network, per xdist worker.
STATIC_IPS_PER_WORKER = 4
#: The longest wait a profile may ask for (a day): beyond it a number is a typo, not a timeout.
MAX_SECONDS = 86400.0
#: The shortest: under 10 ms a timeout or poll interval is a typo too.
MIN_SECONDS = 0.01
#: Validation errors listed before "(and N more)".
MAX_LISTED_ERRORS = 10


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"expected 1 or 2, got boolean {str(value).lower()}")
    return value


#: Seconds: a finite number (not a boolean, not a string) between MIN_SECONDS and MAX_SECONDS.
Seconds = Annotated[float, Field(strict=True, ge=MIN_SECONDS, le=MAX_SECONDS, allow_inf_nan=False)]
Port = Annotated[int, Field(strict=True, ge=1, le=65535)]
#: Disk sizes in MiB: up to 16 TiB.
SizeMib = Annotated[int, Field(strict=True, ge=1, le=16 * 1024 * 1024)]
ApiVersion = Annotated[Literal[1, 2], BeforeValidator(_no_bool)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CpiSection(_Model):
    command: Annotated[list[str], Field(min_length=1)]
    config: str | None = None
    api_version: ApiVersion = 2
    env: dict[str, str] = {}
    method_timeouts: dict[str, Seconds] = {}


class StemcellSection(_Model):
    path: str | None = None
    build: bool = False
    light_image_id: str | None = None


class VmSection(_Model):
    cloud_properties: dict[str, Any]
    availability_zone: str | None = None
    # VMs the run may create ahead of the tests that boot them, at once, across its workers
    # (conformance.run.prepare); 0: every VM is booted when its test asks (a cloud with a tight quota)
    prepare_ahead: Annotated[int, Field(ge=0, le=64)] = 2


class _NetRef(_Model):
    name: str
    net_id: str | None = None
    net_name: str | None = None
    cloud_properties: dict[str, Any] = {}


class ManualNetwork(_NetRef):
    cidr: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address
    dns: Annotated[list[ipaddress.IPv4Address], Field(max_length=16)] = []
    static_ips: Annotated[list[str], Field(min_length=1, max_length=1024)]

    def static_pool(self) -> list[ipaddress.IPv4Address]:
        return addresses.expand(self.static_ips)


class DynamicNetwork(_NetRef):
    pass


class VipNetwork(_Model):
    name: str = "vip"
    floating_network: str
    addresses: Annotated[list[str], Field(max_length=256)] = []


class Networks(_Model):
    manual: Annotated[list[ManualNetwork], Field(max_length=16)] = []
    dynamic: DynamicNetwork | None = None
    vip: VipNetwork | None = None


class SshSection(_Model):
    user: str = "vcap"
    private_key: str
    via: Literal["floating_ip", "fixed_ip"] = "floating_ip"
    port: Port = 22


class DiskSection(_Model):
    size_mib: SizeMib = 1024
    resize_to_mib: SizeMib = 2048
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
    poll: Seconds = 2
    cpi_call: Seconds = 900
    stemcell_upload: Seconds = 1800
    vm_active: Seconds = 600
    vm_delete: Seconds = 300
    reboot: Seconds = 600
    ssh_ready: Seconds = 300
    ssh_command: Seconds = 60
    disk_attach: Seconds = 180
    disk_detach: Seconds = 180
    volume_status: Seconds = 300
    port_release: Seconds = 120
    floating_ip: Seconds = 120
    image_delete: Seconds = 300


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
    #: The cloud witnesses, in order: name -> options (conformance.cloud.witness). None: the
    #: OpenStack witness when there is a clouds.yaml entry and features.cloud_witness; {}: none.
    witnesses: dict[str, dict[str, Any] | None] | None = None

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
    def witness_options(self) -> dict[str, dict[str, Any]]:
        """The witnesses the run builds, in order: name -> options."""
        if self.witnesses is not None:
            return {name: dict(options or {}) for name, options in self.witnesses.items()}
        return {"openstack": {}} if self.cloud is not None and self.features.cloud_witness else {}

    @property
    def cloud_api(self) -> bool:
        """An OpenStack API to sweep leftovers with and fingerprint (the clouds.yaml entry ``cloud``),
        whichever witnesses check the cloud."""
        return self.cloud is not None

    def with_witnesses(self, names: str) -> Profile:
        """This profile with other witnesses (``--witnesses libvirt,openstack``; ``none`` for none),
        each with the options the profile gives it. Raises ProfileError."""
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        if wanted == ["none"]:
            wanted = []
        elif not wanted or "none" in wanted:
            raise ProfileError(self.source, "--witnesses", f"{names!r}: name one or more witnesses "
                                                           "(comma-separated), or none")
        if "openstack" in wanted and self.cloud is None:
            raise ProfileError(self.source, "--witnesses", "the OpenStack witness reads the cloud of the "
                                                           "clouds.yaml entry `cloud`, and the profile has none")
        given = self.witnesses or {}
        return self.model_copy(update={"witnesses": {name: dict(given.get(name) or {}) for name in wanted}})

    def with_prepare_ahead(self, count: int) -> Profile:
        """This profile with another ``vm.prepare_ahead`` (``--prepare-ahead N``). Raises ProfileError."""
        try:
            vm = VmSection.model_validate({**self.vm.model_dump(), "prepare_ahead": count})
        except ValidationError as exc:
            raise ProfileError(self.source, "--prepare-ahead", f"{count!r}: a whole number from 0 to 64") from exc
        return self.model_copy(update={"vm": vm})

    @property
    def witnessed(self) -> bool:
        """At least one cloud witness checks the cloud's side of each step."""
        return bool(self.witness_options)

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
        raise ProfileError(name, "", Redactor(secrets).text(_format_validation(exc))) from None
    _check_networks(name, profile)
    profile._source = name
    if resolve:
        from conformance.profile import resolve as profile_resolve  # `resolve` is this function's flag

        try:
            secrets |= profile_resolve.resolve(name, profile, environ, clouds)
        except ProfileError as exc:  # a value from ${ENV} at a secret key (an SSH key path) is withheld
            raise ProfileError(exc.file, exc.path, Redactor(secrets).text(exc.problem)) from None
    profile._secrets = frozenset(s for s in secrets if s)
    return profile


def _read_yaml(name: str) -> dict:
    """The file's mapping, read within safeload's limits (size, encoding, depth, aliases, numbers,
    duplicate keys, regular files only)."""
    try:
        doc = safeload.load_yaml_file(name)
    except safeload.LoadError as exc:
        raise ProfileError(name, exc.path, exc.problem) from None
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
            text = str(part)
            out += ("." if out else "") + (text if len(text) <= 60 else text[:60] + "...")
    return out


def _format_validation(exc: ValidationError) -> str:
    lines = []
    errors = exc.errors(include_url=False, include_context=False)
    for err in errors[:MAX_LISTED_ERRORS]:
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"].removeprefix("Value error, ")[:200]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif any(isinstance(p, str) and SECRET_KEY_RE.search(p) for p in loc):
            msg += " (value withheld: a secret-looking key)"
        elif "input" in err and err["type"].endswith("_type"):
            msg += f", got {_yaml_kind(err['input'])} {_excerpt(err['input'])}"
        lines.append(f"{key_path(loc)}: {msg}")
    if len(errors) > MAX_LISTED_ERRORS:
        lines.append(f"(and {len(errors) - MAX_LISTED_ERRORS} more)")
    return "\n".join(lines) if len(lines) == 1 else "\n  " + "\n  ".join(lines)


def _excerpt(value: Any) -> str:
    """A short repr of a scalar; only the kind of a list or mapping (never its formatted tree)."""
    if isinstance(value, dict | list):
        return f"of {len(value)} item(s)"
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "..."


def _check_networks(name: str, profile: Profile) -> None:
    problems = addresses.check_manual_networks(profile.networks.manual, STATIC_IPS_PER_WORKER)
    problems += addresses.check_vip(profile.networks.vip)
    problems += _check_network_names(profile.networks)
    if profile.ssh.via == "floating_ip" and profile.networks.vip is None:
        problems.append(("ssh.via", "floating_ip needs a vip network (networks.vip); "
                                    "or set ssh.via: fixed_ip"))
    for ref_path, ref in _net_refs(profile):
        if (ref.net_id is None) == (ref.net_name is None):
            problems.append((ref_path, "give exactly one of net_id or net_name"))
    if profile.witnesses is not None and not profile.features.cloud_witness:
        problems.append(("witnesses", "features.cloud_witness is false: leave witnesses out, or list them here "
                                      "and drop features.cloud_witness"))
    if "openstack" in profile.witness_options and profile.cloud is None:
        problems.append(("witnesses.openstack", "the OpenStack witness reads the cloud of the clouds.yaml entry "
                                                "`cloud`, and there is none"))
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


def _check_network_names(networks: Networks) -> list[tuple[str, str]]:
    """One name per network across manual, dynamic and vip: create_vm's networks are keyed by name."""
    named = [(f"networks.manual[{i}].name", net.name) for i, net in enumerate(networks.manual)]
    if networks.dynamic is not None:
        named.append(("networks.dynamic.name", networks.dynamic.name))
    if networks.vip is not None:
        named.append(("networks.vip.name", networks.vip.name))
    first: dict[str, str] = {}
    problems = []
    for path, name in named:
        if name in first and not path.startswith("networks.manual"):
            problems.append((path, f"{name!r} is the name of {first[name].removesuffix('.name')} too"))
        first.setdefault(name, path)
    return problems


def _net_refs(profile: Profile):
    for i, net in enumerate(profile.networks.manual):
        yield f"networks.manual[{i}]", net
    if profile.networks.dynamic is not None:
        yield "networks.dynamic", profile.networks.dynamic


def redacted(profile: Profile) -> dict[str, Any]:
    """A copy safe for reports: values at secret-looking keys replaced."""

    redactor = Redactor(profile.secrets)

    def scrub(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {redactor.text(k) if isinstance(k, str) else k: scrub(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v, key) for v in value]
        if isinstance(value, str | int | float) and not isinstance(value, bool) and SECRET_KEY_RE.search(key) \
                and key != "private_key":
            return "<redacted>"
        if isinstance(value, str) and value in profile.secrets:
            return "<redacted>"
        return redactor.text(value) if isinstance(value, str) else value

    return scrub(profile.model_dump(mode="json"))
