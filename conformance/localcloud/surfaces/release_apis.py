"""What the API surface of Liberty, Mitaka and Newton looked like, figure by figure, with sources.

Microversion maximums are conformance.profile.releases' (one table for the suite and the gateway);
they were checked against the tagged sources (Liberty = nova 12.0.0 / cinder 7.0.0 / keystone 8.0.0
/ glance 11.0.0 / neutron 7.0.0, Mitaka = 13.0.0 / 8.0.0 / 9.0.0 / 12.0.0 / 8.0.0, Newton = 14.0.0 /
9.0.0 / 10.0.0 / 13.0.0 / 9.0.0):

- Nova: ``_MAX_API_VERSION`` in nova/api/openstack/api_version_request.py is 2.12, 2.25, 2.38, as
  nova/api/openstack/compute/rest_api_version_history.rst marks "2.12 (Maximum in Liberty)",
  "2.25 (Maximum in Mitaka)", "2.38 (Maximum in Newton)".
- Cinder: cinder 7.0.0 has no api_version_request.py and no /v3 (v1 and v2 only); 8.0.0 has
  ``_MAX_API_VERSION = "3.0"``, 9.0.0 ``"3.15"`` (cinder/api/openstack/rest_api_version_history.rst:
  "3.0 (Maximum in Mitaka)", "3.15 (Maximum in Newton)").
- Keystone: keystone/version/controllers.py (keystone/controllers.py in 8.0.0) answers v3 as
  v3.4 (2015-03-30), v3.6 (2016-04-04), v3.7 (2016-10-06); v2.0 "stable" in Liberty and Mitaka,
  "deprecated" (updated 2016-08-04) in Newton.
- Glance: glance/api/versions.py lists v2.0-v2.3 (CURRENT v2.3) in 11.0.0 and 12.0.0, v2.0-v2.4
  (CURRENT v2.4) in 13.0.0.
- Neutron: the aliases of neutron/extensions/*.py (``get_alias``) at each tag, below.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.profile.releases import RELEASES

UNDERLYING = "zed"  # what the local cloud really runs (Debian 12's packages)

# neutron/extensions/*.py get_alias() at 7.0.0 (constants resolved from neutron/common/constants.py)
_NEUTRON_LIBERTY = frozenset({
    "address-scope", "agent", "allowed-address-pairs", "dhcp_agent_scheduler", "dns-integration",
    "dvr", "external-net", "extra_dhcp_opt", "extraroute", "flavors", "router", "ext-gw-mode", "l3-ha",
    "l3_agent_scheduler", "metering", "multi-provider", "net-mtu", "binding", "port-security",
    "provider", "qos", "quotas", "rbac-policies", "router-service-type", "security-group",
    "service-type", "subnet_allocation", "vlan-transparent",
})  # fmt: skip
# ... at 8.0.0: Liberty's plus these
_NEUTRON_MITAKA = _NEUTRON_LIBERTY | {
    "auto-allocated-topology", "availability_zone", "bgp", "bgp_dragent_scheduler", "default-subnetpools",
    "network_availability_zone", "network-ip-availability", "router_availability_zone",
    "standard-attr-description", "tag", "timestamp_core",
}  # fmt: skip
# ... at 9.0.0: bgp moved out to neutron-dynamic-routing, timestamp_core became standard-attr-timestamp
_NEUTRON_NEWTON = (_NEUTRON_MITAKA - {"bgp", "bgp_dragent_scheduler", "timestamp_core"}) | {
    "ip_allocation", "l2_adjacency", "l3-flavors", "pagination", "project-id", "standard-attr-revisions",
    "segment", "sorting", "subnet-service-types", "standard-attr-timestamp", "trunk", "trunk-details",
}  # fmt: skip

# top-level Neutron collections (under /v2.0/) and the extension that brought each: a release
# without the extension answers 404 for them, as Neutron does for a resource it does not know
NEUTRON_COLLECTIONS = {
    "trunks": "trunk", "segments": "segment", "network-ip-availabilities": "network-ip-availability",
    "auto-allocated-topology": "auto-allocated-topology", "availability_zones": "availability_zone",
    "address-groups": "address-group", "local-ips": "local_ip", "logs": "logging", "loggable-resources":
    "logging", "ndp-proxies": "l3-ndp-proxy", "port_forwardings": "floating-ip-port-forwarding",
    "network-segment-ranges": "network-segment-range", "conntrack_helpers": "l3-conntrack-helper",
    "floatingip_pools": "floatingip-pools",
}  # fmt: skip


@dataclass(frozen=True)
class CinderVersion:
    id: str
    status: str
    updated: str


@dataclass(frozen=True)
class SurfaceRelease:
    name: str
    port: int                            # the gateway's loopback port
    nova_max: str
    cinder_max: str | None               # None: no Cinder v3 (Liberty)
    # the unversioned root's list (cinder/api/versions.py), less v1.0: the releases listed it
    # (SUPPORTED, SUPPORTED, DEPRECATED), today's Cinder has no v1 to serve it with
    cinder_versions: tuple[CinderVersion, ...]
    glance_max_minor: int                # v2.0 .. v2.<n>
    keystone_v3: tuple[str, str]         # (id, updated)
    keystone_v2: tuple[str, str]         # (status, updated)
    neutron_extensions: frozenset[str]
    service_types: tuple[str, ...]       # what the catalog offers (besides identity)
    identity_path: str                   # the catalog's identity endpoint, under /identity
    attached_extend: bool                # Cinder 3.42 + Nova 2.51: Pike and later

    @property
    def label(self) -> str:
        return f"{self.name} over {UNDERLYING}"


_V1 = "2014-06-28T12:20:21Z"
SURFACES: dict[str, SurfaceRelease] = {
    s.name: s
    for s in (
        SurfaceRelease(
            "liberty", 15101, RELEASES["liberty"].nova_max_microversion, RELEASES["liberty"].cinder_max_microversion,
            (CinderVersion("v2.0", "CURRENT", "2012-11-21T11:33:21Z"),),
            3, ("v3.4", "2015-03-30T00:00:00Z"), ("stable", "2014-04-17T00:00:00Z"), _NEUTRON_LIBERTY,
            ("compute", "network", "image", "volumev2"), "/v2.0", False,
        ),
        SurfaceRelease(
            "mitaka", 15102, RELEASES["mitaka"].nova_max_microversion, RELEASES["mitaka"].cinder_max_microversion,
            (CinderVersion("v2.0", "SUPPORTED", _V1), CinderVersion("v3.0", "CURRENT", "2016-02-08T12:20:21Z")),
            3, ("v3.6", "2016-04-04T00:00:00Z"), ("stable", "2014-04-17T00:00:00Z"), _NEUTRON_MITAKA,
            ("compute", "network", "image", "volumev2", "volumev3"), "/v3", False,
        ),
        SurfaceRelease(
            "newton", 15103, RELEASES["newton"].nova_max_microversion, RELEASES["newton"].cinder_max_microversion,
            (CinderVersion("v2.0", "SUPPORTED", _V1), CinderVersion("v3.0", "CURRENT", "2016-02-08T12:20:21Z")),
            4, ("v3.7", "2016-10-06T00:00:00Z"), ("deprecated", "2016-08-04T00:00:00Z"), _NEUTRON_NEWTON,
            ("compute", "network", "image", "volumev2", "volumev3", "placement"), "/v3", False,
        ),
    )
}  # fmt: skip
