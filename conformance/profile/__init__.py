"""The target profile: one YAML file per cloud + CPI, read and validated before any cloud call.

    model       the schema (frozen pydantic models) and load_profile
    resolve     what loading with resolve=True looks up outside the file: clouds.yaml, CPI config, SSH key
    addresses   static IP pools: parse, check, split per worker
    releases    what each OpenStack release offers

Knows neither pytest nor the run; imports only conformance.core. The names below are the
profile's public face: ``from conformance.profile import load_profile, Profile``.
"""

from conformance.profile.model import (
    MAX_SECONDS,
    MIN_SECONDS,
    STATIC_IPS_PER_WORKER,
    CpiSection,
    DiskSection,
    DynamicNetwork,
    Features,
    ManualNetwork,
    Networks,
    Profile,
    SshSection,
    StemcellSection,
    Timeouts,
    VipNetwork,
    VmSection,
    key_path,
    load_profile,
    redacted,
)

__all__ = [
    "MAX_SECONDS", "MIN_SECONDS", "STATIC_IPS_PER_WORKER", "CpiSection", "DiskSection", "DynamicNetwork",
    "Features", "ManualNetwork", "Networks", "Profile", "SshSection", "StemcellSection", "Timeouts",
    "VipNetwork", "VmSection", "key_path", "load_profile", "redacted",
]
