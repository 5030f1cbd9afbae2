"""``@pytest.mark.requires(...)``: what a test needs from the profile, and the skip reason if it is missing.

Each requirement is a feature name (``multi_nic``, ``snapshots``, ...), a count over networks
(``manual_networks>=2``) or a config-drive mode (``config_drive:disk``). The reason always names
the profile key, so a reader knows what to change.
"""

from __future__ import annotations

import operator
import re

_COUNT_RE = re.compile(r"^(manual_networks)\s*(>=|==|>)\s*(\d+)$")
_OPS = {">=": operator.ge, "==": operator.eq, ">": operator.gt}
#: Features that also need a section of networks to be filled in.
_NEEDS_NETWORK = {"dynamic_network": "dynamic", "vip_network": "vip"}


def unmet(profile, requirement: str) -> str | None:
    """None when the profile meets ``requirement``; else the reason, naming the profile key."""
    requirement = requirement.strip()
    count = _COUNT_RE.match(requirement)
    if count:
        have = len(profile.networks.manual)
        if not _OPS[count.group(2)](have, int(count.group(3))):
            return f"profile: networks.manual has {have} network(s), the test needs {count.group(2)} {count.group(3)}"
        return None
    if requirement.startswith("config_drive:"):
        mode = requirement.split(":", 1)[1]
        if mode not in profile.features.config_drive:
            return f"profile: features.config_drive does not list {mode!r}"
        return None
    if requirement == "ssh_via_floating_ip":
        return None if profile.ssh.via == "floating_ip" else "profile: ssh.via is not floating_ip"
    if not hasattr(profile.features, requirement):
        raise ValueError(f"unknown requirement {requirement!r} in @pytest.mark.requires")
    if not getattr(profile.features, requirement):
        return f"profile: features.{requirement} is false"
    section = _NEEDS_NETWORK.get(requirement)
    if section and getattr(profile.networks, section) is None:
        return f"profile: networks.{section} is not set"
    return None


def first_unmet(profile, requirements) -> str | None:
    for requirement in requirements:
        reason = unmet(profile, requirement)
        if reason:
            return reason
    return None
