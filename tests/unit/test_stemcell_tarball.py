"""Reading stemcell tarballs: the manifest, the `image` member, and root.img inside it, with
clear errors for files that are not stemcells."""

import io
import tarfile
from pathlib import Path

import pytest
import yaml

from conformance.stemcell import recipe, tarball
from conformance.stemcell.errors import StemcellFormatError

pytestmark = pytest.mark.unit


@pytest.fixture
def stemcell(tmp_path: Path) -> Path:
    root_img = tmp_path / "root.img"
    root_img.write_bytes(b"QFI\xfb" + b"\0" * 1000)
    image = tmp_path / "image"
    tarball.write_image(root_img, image)
    out = tmp_path / "stemcell.tgz"
    manifest = recipe.manifest("1.0-abc", tarball.sha1_of(image))
    tarball.write_stemcell(out, manifest, image, {"stemcell_dpkg_l.txt": root_img})
    return out


def test_read_manifest_round_trips(stemcell):
    manifest = tarball.read_manifest(stemcell)

    assert manifest == recipe.manifest("1.0-abc", manifest["sha1"])


def test_manifest_is_the_first_member(stemcell):
    with tarfile.open(stemcell) as tar:
        assert tar.getnames() == ["stemcell.MF", "image", "stemcell_dpkg_l.txt"]


def test_extract_image_then_root_image(stemcell, tmp_path):
    image = tarball.extract_image(stemcell, tmp_path / "out")
    root = tarball.extract_root_image(image, tmp_path / "root")

    assert image == tmp_path / "out" / "image"
    assert tarball.sha1_of(image) == tarball.read_manifest(stemcell)["sha1"], "image sha1 in stemcell.MF"
    assert root.read_bytes() == b"QFI\xfb" + b"\0" * 1000


def _tgz(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_reads_members_named_with_dot_slash(tmp_path):
    manifest = yaml.safe_dump({"name": "n", "version": "1", "cloud_properties": {}}).encode()
    path = _tgz(tmp_path / "s.tgz", {"./stemcell.MF": manifest, "./image": b"x"})

    assert tarball.read_manifest(path)["name"] == "n"
    assert tarball.extract_image(path, tmp_path / "o").read_bytes() == b"x"


@pytest.mark.parametrize(
    ("members", "problem"),
    [
        ({"image": b"x"}, "no stemcell.MF"),
        ({"stemcell.MF": b"- a list"}, "not a mapping"),
        ({"stemcell.MF": b"name: n\n"}, "lacks version, cloud_properties"),
        ({"stemcell.MF": b"name: [unclosed"}, "not YAML"),
    ],
)
def test_bad_stemcells_are_named(tmp_path, members, problem):
    path = _tgz(tmp_path / "bad.tgz", members)

    with pytest.raises(StemcellFormatError, match=problem):
        tarball.read_manifest(path)


def test_not_a_tarball(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("hello")

    with pytest.raises(StemcellFormatError, match="not a readable tarball"):
        tarball.extract_image(path, tmp_path)


def test_missing_image_member(tmp_path):
    path = _tgz(tmp_path / "s.tgz", {"stemcell.MF": b"name: n\n"})

    with pytest.raises(StemcellFormatError, match="no image in the tarball"):
        tarball.extract_image(path, tmp_path / "o")
