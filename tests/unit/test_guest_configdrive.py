"""The config drive reader's pure parts: the script's output format, the JSON helpers and their
errors; and the SSH key loader's errors, which must never carry key material."""

from __future__ import annotations

import base64
import os
import subprocess

import paramiko
import pytest

from conformance.guest import ConfigDrive, ConfigDriveError, GuestKeyError, configdrive
from conformance.guest.ssh import fingerprint, load_key

pytestmark = pytest.mark.unit


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_read_output_gives_the_listing_and_the_wanted_files():
    meta, settings = _b64('{"uuid": "u-1"}'), _b64('{"agent_id": "ä-1"}')
    output = (
        "list openstack/latest/meta_data.json\n"
        "list openstack/2012-08-10/meta_data.json\n"
        "list openstack/latest/user_data\n"
        f"file openstack/latest/meta_data.json {meta}\n"
        f"file openstack/latest/user_data {settings}\n"
    )

    listing, files = configdrive.parse_read_output(output)

    assert listing == (
        "openstack/2012-08-10/meta_data.json",
        "openstack/latest/meta_data.json",
        "openstack/latest/user_data",
    )
    assert files == {"openstack/latest/meta_data.json": '{"uuid": "u-1"}',
                     "openstack/latest/user_data": '{"agent_id": "ä-1"}'}


def test_read_output_keeps_an_empty_file_and_refuses_bad_base64():
    assert configdrive.parse_read_output("file ec2/latest/user-data \n")[1] == {"ec2/latest/user-data": ""}
    with pytest.raises(ValueError, match="ec2/latest/user-data"):
        configdrive.parse_read_output("file ec2/latest/user-data not*base64\n")


def test_read_script_is_valid_sh_that_mounts_read_only_and_always_cleans_up():
    script = configdrive.read_script("/dev/sr0")

    assert subprocess.run(["sh", "-n", "-c", script]).returncode == 0, "sh syntax"
    assert "mount -o ro /dev/sr0" in script and "trap" in script
    assert all(name in script for name in configdrive.FILES)
    assert subprocess.run(["sh", "-n", "-c", configdrive.find_device_script()]).returncode == 0


def _drive(files: dict[str, str]) -> ConfigDrive:
    return ConfigDrive("/dev/sr0", "config-2", "iso9660", files, tuple(sorted(files)), host="10.0.0.5")


def test_helpers_parse_json_and_optional_files_are_none():
    drive = _drive({"openstack/latest/meta_data.json": '{"uuid": "u"}',
                    "openstack/latest/user_data": '{"agent_id": "a"}'})

    assert (drive.meta_data, drive.user_data) == ({"uuid": "u"}, {"agent_id": "a"})
    assert (drive.network_data, drive.ec2_user_data) == (None, None)


def test_a_missing_required_file_names_the_drive_and_what_it_holds():
    drive = _drive({"openstack/latest/meta_data.json": "{}"})

    with pytest.raises(ConfigDriveError) as caught:
        _ = drive.user_data

    message = str(caught.value)
    assert "10.0.0.5" in message and "/dev/sr0 has no openstack/latest/user_data" in message
    assert "openstack/latest/meta_data.json" in message, "the listing is the evidence"


def test_user_data_that_is_not_json_is_an_error_with_its_start():
    with pytest.raises(ConfigDriveError, match="not JSON.*#cloud-config"):
        _ = _drive({"openstack/latest/user_data": "#cloud-config\nusers: []\n"}).user_data


def test_key_errors_name_the_path_never_the_content(tmp_path):
    secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END OPENSSH PRIVATE KEY-----\n"
    broken = tmp_path / "broken"
    broken.write_text(secret)

    with pytest.raises(GuestKeyError) as caught:
        load_key(str(broken))
    with pytest.raises(GuestKeyError, match="no such file"):
        load_key(str(tmp_path / "absent"))

    assert str(broken) in str(caught.value) and "c2VjcmV0" not in str(caught.value)


def test_an_encrypted_key_without_passphrase_says_so_and_loads_with_it(tmp_path):
    key = paramiko.RSAKey.generate(2048)
    path = tmp_path / "encrypted"
    key.write_private_key_file(str(path), password="s3cret-pass")

    with pytest.raises(GuestKeyError, match="encrypted") as caught:
        load_key(str(path))

    assert "s3cret-pass" not in str(caught.value)
    assert fingerprint(load_key(str(path), "s3cret-pass")) == fingerprint(key)


def test_a_key_is_read_once_until_its_file_changes(tmp_path):
    path = tmp_path / "id_rsa"
    first = paramiko.RSAKey.generate(2048)
    first.write_private_key_file(str(path))
    assert load_key(str(path)) is load_key(str(path))  # checked once: about 0.2 s a 3072-bit load
    second = paramiko.RSAKey.generate(2048)
    second.write_private_key_file(str(path))
    os.utime(path, ns=(1, 1))  # another mtime even on a coarse clock
    assert fingerprint(load_key(str(path))) == fingerprint(second)
    path.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot base64\n-----END OPENSSH PRIVATE KEY-----\n")
    os.utime(path, ns=(2, 2))
    with pytest.raises(GuestKeyError, match="not a private key"):  # a broken file is never served from memory
        load_key(str(path))


def test_fingerprint_is_openssh_sha256(tmp_path):
    key = paramiko.RSAKey.generate(2048)
    (tmp_path / "k.pub").write_text(f"ssh-rsa {key.get_base64()} test\n")

    expected = subprocess.run(["ssh-keygen", "-l", "-f", str(tmp_path / "k.pub")], capture_output=True,
                              text=True, check=True).stdout.split()[1]

    assert fingerprint(key) == expected
