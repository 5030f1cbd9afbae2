"""The BOSH stemcell tarball: `stemcell.MF` (YAML) + `image` (a tgz holding root.img).

Readers are used by the suite and the reference CPI; they use only the standard library and
PyYAML (already required by openstacksdk) and copy members out by name, never extracting
arbitrary paths. The Director hands a CPI the extracted `image` file itself as image_path;
``extract_root_image`` takes root.img out of it.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
from pathlib import Path

import yaml

from conformance.stemcell.errors import StemcellFormatError

MANIFEST = "stemcell.MF"
IMAGE = "image"
ROOT_IMAGE = "root.img"
_COPY_CHUNK = 4 * 1024 * 1024


def read_manifest(path: str | Path) -> dict:
    """The parsed stemcell.MF of the stemcell tarball at ``path``."""
    with _open(path) as tar:
        data = _member(tar, path, MANIFEST).read()
    try:
        manifest = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise StemcellFormatError(str(path), f"{MANIFEST} is not YAML: {exc}") from exc
    if not isinstance(manifest, dict):
        raise StemcellFormatError(str(path), f"{MANIFEST} is not a mapping")
    missing = [key for key in ("name", "version", "cloud_properties") if key not in manifest]
    if missing:
        raise StemcellFormatError(str(path), f"{MANIFEST} lacks {', '.join(missing)}")
    return manifest


def extract_image(path: str | Path, dest: str | Path) -> Path:
    """Copy the `image` member of the stemcell tarball into directory ``dest``; returns its path."""
    return _extract(path, IMAGE, Path(dest))


def extract_root_image(image_path: str | Path, dest: str | Path) -> Path:
    """Copy root.img out of a stemcell's `image` tgz (what a CPI uploads) into ``dest``."""
    return _extract(image_path, ROOT_IMAGE, Path(dest))


def write_image(root_img: Path, out: Path) -> None:
    """`image`: a gzip tar with root.img. Level 1: the qcow2 inside is compressed already."""
    with tarfile.open(out, "w:gz", compresslevel=1) as tar:
        tar.add(root_img, arcname=ROOT_IMAGE, filter=_plain)


def write_stemcell(out: Path, manifest: dict, image: Path, extras: dict[str, Path] | None = None) -> None:
    """The stemcell tarball: stemcell.MF first (readers find it without reading the image)."""
    staged = out.with_name(out.name + ".MF")
    staged.write_text(yaml.safe_dump(manifest, sort_keys=False))
    with tarfile.open(out, "w:gz", compresslevel=1) as tar:
        tar.add(staged, arcname=MANIFEST, filter=_plain)
        tar.add(image, arcname=IMAGE, filter=_plain)
        for name, path in (extras or {}).items():
            tar.add(path, arcname=name, filter=_plain)
    staged.unlink()


def sha1_of(path: Path) -> str:
    digest = hashlib.sha1()  # noqa: S324 - the stemcell.MF field is sha1 by definition
    with open(path, "rb") as f:
        while chunk := f.read(_COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _open(path: str | Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise StemcellFormatError(str(path), f"not a readable tarball: {exc}") from exc


def _member(tar: tarfile.TarFile, path: str | Path, name: str):
    """The file object of member ``name`` (also found as ./name)."""
    for info in tar:
        if info.name.removeprefix("./") == name:
            if not info.isfile():
                raise StemcellFormatError(str(path), f"{name} is not a regular file")
            return tar.extractfile(info)
    raise StemcellFormatError(str(path), f"no {name} in the tarball")


def _extract(path: str | Path, name: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / name
    with _open(path) as tar:
        source = _member(tar, path, name)
        with open(target, "wb") as out:
            shutil.copyfileobj(source, out, _COPY_CHUNK)
    return target


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Members owned by root with fixed modes, whoever built them."""
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode = 0o644
    return info
