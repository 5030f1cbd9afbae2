"""The stemcell recipe: its manifest says what a real OpenStack KVM stemcell says, and its cache
key changes exactly when an input of the build changes."""

from pathlib import Path

import pytest

from conformance.stemcell import recipe

pytestmark = pytest.mark.unit


def test_manifest_has_the_fields_a_director_and_cpi_read():
    manifest = recipe.manifest("1.0-abc", image_sha1="f" * 40)

    assert {k: manifest[k] for k in ("name", "version", "bosh_protocol", "api_version")} == {
        "name": "bosh-openstack-kvm-conformance-debian-bookworm-go_agent",
        "version": "1.0-abc",
        "bosh_protocol": 1,
        "api_version": 2,
    }, "stemcell.MF identity"
    assert manifest["operating_system"] == "debian-bookworm"
    assert manifest["stemcell_formats"] == ["openstack-qcow2"]
    assert manifest["sha1"] == "f" * 40


def test_manifest_cloud_properties_describe_the_qcow2_image():
    props = recipe.manifest("1.0-abc", image_sha1="0" * 40, disk_mib=1024)["cloud_properties"]

    assert props == {
        "name": recipe.NAME,
        "version": "1.0-abc",
        "infrastructure": "openstack",
        "hypervisor": "kvm",
        "disk": 1024,
        "disk_format": "qcow2",
        "container_format": "bare",
        "os_type": "linux",
        "os_distro": "debian",
        "architecture": "x86_64",
        "auto_disk_config": True,
    }, "cloud_properties the CPI passes to Glance"


@pytest.fixture
def inputs(tmp_path: Path) -> list[Path]:
    agent, unit = tmp_path / "agent", tmp_path / "agent.service"
    agent.write_text("#!/bin/sh\necho hello\n")
    unit.write_text("[Service]\n")
    return [agent, unit]


def test_cache_key_is_stable_for_equal_inputs(inputs):
    assert recipe.cache_key(["a", "b"], inputs) == recipe.cache_key(["b", "a"], list(reversed(inputs)))


@pytest.mark.parametrize(
    "change",
    ["agent file", "package list", "build version", "disk size", "suite"],
)
def test_cache_key_changes_when_an_input_changes(inputs, change):
    before = recipe.cache_key(["a", "b"], inputs)
    packages, kwargs = ["a", "b"], {}
    if change == "agent file":
        inputs[0].write_text("#!/bin/sh\necho changed\n")
    elif change == "package list":
        packages.append("c")
    elif change == "build version":
        kwargs["build_version"] = recipe.BUILD_VERSION + 1
    elif change == "disk size":
        kwargs["disk_mib"] = recipe.DISK_MIB * 2
    else:
        kwargs["suite"] = "trixie"

    assert recipe.cache_key(packages, inputs, **kwargs) != before, change


def test_default_inputs_cover_the_agent_and_the_shaping_modules():
    names = {path.name for path in recipe.recipe_files()}

    assert {"conformance-agent", "conformance-agent.service", "rootfs.py", "disk.py"} <= names


def test_version_and_file_name_carry_the_key():
    version = recipe.stemcell_version("0123456789abcdef" * 4)

    assert version == f"{recipe.BUILD_VERSION}.0-0123456789ab"
    assert recipe.tarball_name(version) == f"conformance-debian-{version}.tgz"
