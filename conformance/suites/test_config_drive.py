"""The config drive: what the guest reads at boot, checked against the CPI request and the cloud."""

import pytest

pytestmark = [pytest.mark.capability("config_drive"), pytest.mark.slow]


@pytest.fixture(scope="module")
def drive(ssh, shared_vm):
    with ssh(shared_vm) as guest:
        return guest.config_drive()


@pytest.mark.case("47a3bcd1-af4f-4d3f-aec2-c2b597019ceb")
def test_config_drive_is_attached_with_label_config_2(drive):
    """The VM MUST have a drive labelled config-2 (iso9660 or vfat) holding openstack/latest.

    Steps: find the drive by label over SSH, mount it read-only, list what it holds.
    """
    assert drive.label == "config-2" and drive.fstype in ("iso9660", "vfat"), f"{drive.device}: {drive.fstype}"
    assert "openstack/latest/meta_data.json" in drive.files, sorted(drive.files)


@pytest.mark.case("9c83b8ca-7768-4080-aab1-182bd9fec139")
def test_meta_data_names_the_vm_and_carries_the_key_pair(drive, shared_vm, cloud, ssh_public_key):
    """meta_data.json MUST name the VM (uuid = vm cid, name = Nova's name) and hold the key pair
    whose private key the profile gives.

    Steps: read openstack/latest/meta_data.json from the drive; compare with Nova and the SSH key.
    """
    meta = drive.meta_data
    server = cloud.server(shared_vm.cid)
    assert (meta.get("uuid"), meta.get("name")) == (shared_vm.cid, server.name), "meta_data uuid/name vs Nova"
    keys = [k.split()[1] for k in (meta.get("public_keys") or {}).values() if len(k.split()) > 1]
    assert ssh_public_key.split()[1] in keys, "meta_data public_keys lacks the profile's SSH key"


@pytest.mark.case("0baca5e4-bb24-45e7-8f86-5ab11a9012b2")
def test_user_data_carries_the_agent_settings(drive, shared_vm, cloud):
    """user_data MUST carry the agent settings the CPI was asked to write: agent_id, every network
    with its IP and the MAC of its Neutron port, disks and env.

    Steps: parse openstack/latest/user_data; compare with the create_vm request and Neutron.
    """
    settings = drive.user_data
    assert settings.get("agent_id") == shared_vm.agent_id, "user_data agent_id"
    networks = settings.get("networks") or {}
    assert set(networks) == set(shared_vm.networks), "networks in user_data vs create_vm request"
    mac_by_ip = cloud.mac_by_ip(shared_vm.cid)
    for name, ip in shared_vm.ips.items():
        assert networks[name].get("ip") == ip, f"user_data networks.{name}.ip"
        assert (networks[name].get("mac") or "").lower() == mac_by_ip.get(ip), f"user_data networks.{name}.mac"
    assert "system" in (settings.get("disks") or {}), "user_data disks.system"
    assert settings.get("env", {}).get("bosh", {}).get("group"), "user_data env as passed to create_vm"


@pytest.mark.case("51fb12e9-821b-4eaa-8807-178cc77070d7")
def test_network_data_matches_neutron_ports(drive, shared_vm, cloud, profile):
    """network_data.json (Liberty and later) MUST list one link per Neutron port, by MAC, and each
    static network with its fixed IP.

    Steps: parse openstack/latest/network_data.json; compare links and networks with Neutron.
    """
    if not profile.release_info.network_data_json:
        pytest.skip(f"profile: release {profile.release} writes no network_data.json")
    data = drive.network_data
    assert data is not None, "openstack/latest/network_data.json is missing"
    macs = {link.get("ethernet_mac_address", "").lower() for link in data.get("links", [])}
    assert macs == set(cloud.mac_by_ip(shared_vm.cid).values()), "network_data links vs Neutron port MACs"
    static = {n.get("ip_address") for n in data.get("networks", []) if n.get("type") == "ipv4"}
    assert static <= set(shared_vm.ips.values()), "static networks in network_data vs requested IPs"


@pytest.mark.case("fd228b92-c822-47a2-b555-0eeb9bc98c60")
def test_ec2_view_agrees_with_the_openstack_view(drive):
    """ec2/latest/user-data (what the BOSH agent reads) MUST hold the same settings as
    openstack/latest/user_data.

    Steps: read both from the drive and compare.
    """
    assert drive.ec2_user_data is not None, f"ec2/latest/user-data missing; drive has {sorted(drive.files)}"
    assert drive.ec2_user_data == drive.user_data, "ec2 user-data vs openstack user_data"


@pytest.mark.case("0021808e-9831-4eb0-9d6b-d3e437cb2afc")
@pytest.mark.requires("config_drive:disk")
def test_config_drive_as_a_disk(create_vm, ssh):
    """With config_drive: disk the drive MUST still be found by its label config-2 and carry the
    agent settings.

    Steps: boot a VM with context config_drive=disk; read the drive over SSH.
    """
    vm = create_vm(context={"config_drive": "disk"})
    with ssh(vm) as guest:
        drive = guest.config_drive()
    assert drive.label == "config-2" and drive.user_data.get("agent_id") == vm.agent_id, drive.device
