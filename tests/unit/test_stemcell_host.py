"""The build host: which apt mirror debootstrap uses, and which build tools are missing."""

from pathlib import Path

import pytest

from conformance.stemcell import host

pytestmark = pytest.mark.unit


def _apt(tmp_path: Path, sources_list: str = "", **files: str) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(sources_list)
    for name, text in files.items():
        (tmp_path / "sources.list.d" / name.replace("_", ".")).write_text(text)
    return tmp_path


def test_mirror_from_one_line_sources(tmp_path):
    apt = _apt(
        tmp_path,
        "# deb http://old/debian bookworm main\n"
        "deb-src http://src/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main\n",
    )

    assert host.apt_mirror(apt) == "http://mirror.example/debian"


def test_mirror_from_deb822_sources_skips_other_suites(tmp_path):
    apt = _apt(
        tmp_path,
        debian_sources="Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb\n# a comment\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
    )

    assert host.apt_mirror(apt) == "http://deb.example/debian"


def test_disabled_stanzas_and_files_are_ignored(tmp_path):
    apt = _apt(
        tmp_path,
        other_sources="Types: deb\nEnabled: no\nURIs: http://off.example/debian\nSuites: bookworm\n",
        **{"x_list_disabled-by-farm": "deb http://off2.example/debian bookworm main\n"},
    )

    assert host.apt_mirror(apt) == host.DEFAULT_MIRROR


def test_missing_tools_maps_binaries_to_packages():
    present = {"debootstrap", "sfdisk", "mkfs.ext4", "losetup"}

    missing = host.missing_tools(which=lambda tool: tool if tool in present else None)

    assert set(missing) >= {"extlinux", "qemu-utils"}
    assert not set(missing) & {"debootstrap", "fdisk", "e2fsprogs", "mount"}
