"""The config drive: what the guest's agent reads at boot, checked against the CPI request and the cloud.

The BOSH agent of OpenStack stemcells finds its settings on a drive labelled config-2
(``ec2/latest/user-data``, ``ec2/latest/meta-data.json``: bosh-linux-stemcell-builder
stemcell_builder/stages/bosh_openstack_agent_settings/apply.sh writes the agent's ConfigDrive
source with DiskPaths /dev/disk/by-label/config-2 and those two paths; bosh-agent
infrastructure/config_drive_settings_source.go reads them) and falls back to the metadata
service; the Director waits for that agent after create_vm (steps/create_vm_step.rb). These tests
hold for a CPI configured with a config drive (the profile's features.config_drive).
"""

import pytest

from conformance.cloud import witness
from conformance.run import expect

pytestmark = [pytest.mark.capability("config_drive"), pytest.mark.slow]

#: The files the agent's ConfigDrive settings source reads.
AGENT_FILES = ("ec2/latest/meta-data.json", "ec2/latest/user-data")


@pytest.fixture(scope="module")
def drive(ssh, shared_vm):
    with ssh(shared_vm) as guest:
        return guest.config_drive()


def _registry_less(profile, vm) -> bool:
    """CPI API v2 with a stemcell of api_version 2 or more: the full agent settings go into user
    data (bosh.io CPI API v2, "Reference Table"); otherwise only the registry's address does."""
    return profile.cpi.api_version >= 2 and (vm.stemcell_api_version or 1) >= 2


@pytest.mark.case("47a3bcd1-af4f-4d3f-aec2-c2b597019ceb")
def test_config_drive_is_attached_with_label_config_2(drive, record_property):
    """The VM MUST have a drive labelled config-2 (iso9660 or vfat, per Nova's config_drive_format:
    nova/virt/configdrive.py labels both config-2) holding the files the agent reads (the OpenStack
    stemcell's agent.json, bosh_openstack_agent_settings/apply.sh: ConfigDrive source, DiskPaths
    /dev/disk/by-label/config-2, ec2/latest/meta-data.json and ec2/latest/user-data; bosh-agent
    ConfigDriveSettingsSource mounts the disk letting mount find its file system).

    Steps: find the drive by label over SSH, mount it read-only, list what it holds.
    """
    assert drive.label == "config-2" and drive.fstype in ("iso9660", "vfat"), f"{drive.device}: {drive.fstype}"
    missing = [f for f in AGENT_FILES if f not in drive.files]
    assert not missing, f"config drive lacks {missing}; it holds {sorted(drive.listing)}"
    if "openstack/latest/meta_data.json" not in drive.files:
        record_property("observation", "the config drive has no openstack/latest/meta_data.json")


@pytest.mark.case("9c83b8ca-7768-4080-aab1-182bd9fec139")
def test_meta_data_names_the_vm_and_carries_the_key_pair(drive, shared_vm, cloud, ssh_public_key, record_property):
    """The drive's metadata MUST carry the key pair whose private key the profile gives, where the
    agent reads it: ec2/latest/meta-data.json public-keys "0" openssh-key (bosh-agent
    infrastructure/config_drive_settings_source.go PublicSSHKeyForUsername; agent/bootstrap.go sets
    it up for vcap; the OpenStack CPI boots with default_key_name or cloud_properties.key_name,
    vm_factory.rb pick_key_name); and it MUST be the VM's own: openstack/latest/meta_data.json uuid
    = the server's id (nova/api/metadata/base.py), which the OpenStack CPI answers as the vm cid
    (server.rb Server#create).

    Steps: read both metadata files from the drive; compare with the SSH key and with Nova.
    """
    ec2 = drive.ec2_meta_data
    assert ec2 is not None, f"ec2/latest/meta-data.json missing; the drive holds {sorted(drive.listing)}"
    openssh = str(((ec2.get("public-keys") or {}).get("0") or {}).get("openssh-key") or "")
    assert ssh_public_key.split()[1] in openssh.split(), (
        "ec2 meta-data public-keys.0.openssh-key (what the agent sets up for vcap) lacks the profile's SSH key")
    meta = drive.meta_data
    for seen in cloud.checks("meta_data uuid is the server's id"):
        with seen as w:
            server = w.server(shared_vm.cid)
            assert server is not None, f"{w.name}: no server {shared_vm.cid}"
            assert meta.get("uuid") == server.id, f"meta_data uuid {meta.get('uuid')} vs {w.name} server {server.id}"
            if server.seen("name") and meta.get("name") != server.name:
                record_property("observation", f"meta_data name {meta.get('name')!r} vs {w.name}'s {server.name!r} "
                                               "(a CPI may rename a server at set_vm_metadata)")


@pytest.mark.case("0baca5e4-bb24-45e7-8f86-5ab11a9012b2")
def test_user_data_carries_the_agent_settings(drive, shared_vm, cloud, profile, record_property):
    """Registry-less, user_data MUST carry the agent settings of the create_vm request: agent_id,
    every requested network with its IP, disks.system and env as passed (bosh.io CPI API v2
    "Agent/VM Bootstrap Settings" and create_vm "environment ... The CPI adds it to the VM's user
    data"); a network's ``mac``, when present, MUST be its Neutron port's (the agent configures
    the NIC with that MAC).

    Steps: parse openstack/latest/user_data; compare with the create_vm request and Neutron.
    """
    if not _registry_less(profile, shared_vm):
        pytest.skip("CPI API v1 or a stemcell without api_version 2: user data holds the registry, not the settings")
    settings = drive.user_data
    assert settings.get("agent_id") == shared_vm.agent_id, "user_data agent_id vs create_vm agent_id"
    networks = settings.get("networks") or {}
    assert set(networks) == set(shared_vm.networks), "networks in user_data vs create_vm request"
    macs = {name: (networks[name].get("mac") or "").lower() for name in shared_vm.ips}
    for name, ip in shared_vm.ips.items():
        assert networks[name].get("ip") == ip, f"user_data networks.{name}.ip"
    given = {name: mac for name, mac in macs.items() if mac}
    if expect.applies(record_property, bool(given), "user_data networks.*.mac are the VM's NICs",
                      "the CPI put no mac in the agent settings of any manual network"):
        for seen in cloud.checks("user_data networks.*.mac are MACs of the VM's NICs"):
            with seen as w:
                on_vm = {nic.mac for nic in w.nics(shared_vm.cid)}
                assert set(given.values()) <= on_vm, f"user_data MACs {given} vs {w.name} NICs {sorted(on_vm)}"
        for seen in cloud.checks("user_data networks.*.mac is the MAC of the port holding that network's IP"):
            with seen as w:
                by_ip = witness.macs_by_ip(w.nics(shared_vm.cid))
                for name, mac in given.items():
                    ip = shared_vm.ips[name]
                    assert mac == by_ip.get(ip), f"user_data networks.{name}.mac {mac} vs {w.name} {by_ip.get(ip)}"
    assert "system" in (settings.get("disks") or {}), "user_data disks.system"
    bosh = (settings.get("env") or {}).get("bosh") or {}
    wanted = {k: shared_vm.env["bosh"][k] for k in ("group", "groups", "tags") if k in shared_vm.env["bosh"]}
    assert {k: bosh.get(k) for k in wanted} == wanted, "user_data env.bosh vs create_vm env"


@pytest.mark.case("51fb12e9-821b-4eaa-8807-178cc77070d7")
def test_network_data_matches_neutron_ports(drive, shared_vm, cloud, profile):
    """network_data.json (Nova, Liberty and later) MUST list one link per Neutron port of the VM,
    by MAC, and each static network with its fixed IP: a check of the cloud for its operators, as
    the agent does not read it (it takes its networks from user data): Nova writes it from the
    server's ports (nova/api/metadata/base.py, network_data.json, metadata 2015-10-15), and the
    ports are the ones the CPI made for the requested networks (bosh-openstack-cpi-release
    manual_network.rb ManualNetwork#prepare creates one per manual network).

    Steps: parse openstack/latest/network_data.json; compare links and networks with Neutron.
    """
    if not profile.release_info.network_data_json:
        pytest.skip(f"profile: release {profile.release} writes no network_data.json")
    data = drive.network_data
    assert data is not None, "openstack/latest/network_data.json is missing"
    macs = {link.get("ethernet_mac_address", "").lower() for link in data.get("links", [])}
    for seen in cloud.checks("network_data links are the VM's NICs, by MAC"):
        with seen as w:
            on_vm = {nic.mac for nic in w.nics(shared_vm.cid)}
            assert macs == on_vm, f"network_data links vs {w.name} NIC MACs"
    static = {n.get("ip_address") for n in data.get("networks", []) if n.get("type") == "ipv4"}
    assert static <= set(shared_vm.ips.values()), "static networks in network_data vs requested IPs"


@pytest.mark.case("fd228b92-c822-47a2-b555-0eeb9bc98c60")
def test_ec2_view_agrees_with_the_openstack_view(drive):
    """ec2/latest/user-data (what the BOSH agent reads: UserDataPath of the OpenStack stemcell's
    ConfigDrive source, bosh_openstack_agent_settings/apply.sh; bosh-agent
    infrastructure/settings_source_factory.go) MUST hold the same settings as
    openstack/latest/user_data, which the other tests read (Nova writes the server's one user data
    into both: nova/api/metadata/base.py InstanceMetadata).

    Steps: read both from the drive and compare.
    """
    assert drive.ec2_user_data is not None, f"ec2/latest/user-data missing; drive has {sorted(drive.listing)}"
    assert drive.ec2_user_data == drive.user_data, "ec2 user-data vs openstack user_data"


@pytest.mark.case("0021808e-9831-4eb0-9d6b-d3e437cb2afc")
@pytest.mark.requires("config_drive:disk")
@pytest.mark.boots(context={"config_drive": "disk"})
def test_config_drive_as_a_disk(boot_vm, ssh, profile, record_property):
    """With config_drive: disk (a CPI-config property, which the Director sends in every request's
    context: external_cpi.rb) the drive MUST still be found by its label config-2 and, registry-
    less, carry the agent settings (the agent's ConfigDrive source looks for the label).

    Steps: boot a VM with context config_drive=disk; read the drive over SSH.
    """
    vm = boot_vm()
    with ssh(vm) as guest:
        drive = guest.config_drive()
    assert drive.label == "config-2", drive.device
    if expect.applies(record_property, _registry_less(profile, vm), "the drive's user_data carries the agent settings",
                      "CPI API v1 or a stemcell without api_version 2: user data holds the registry"):
        assert drive.user_data.get("agent_id") == vm.agent_id, f"user_data agent_id on {drive.device}"
