"""The stemcell cache: a stemcell of the current recipe is returned at once, without building;
older ones are pruned after a build."""

import os
import time

import pytest

from conformance.stemcell import build, recipe
from conformance.stemcell.errors import StemcellBuildError

pytestmark = pytest.mark.unit


def test_cached_stemcell_is_returned_without_building(tmp_path, monkeypatch):
    cached = build.stemcell_path(tmp_path)
    cached.write_bytes(b"a stemcell")
    monkeypatch.setattr(build, "_build", lambda *a: pytest.fail("rebuilt a cached stemcell"))
    lines = []

    started = time.monotonic()
    assert build.ensure_stemcell(tmp_path, progress=lines.append) == cached
    assert time.monotonic() - started < 1.0
    assert lines == [f"stemcell up to date: {cached}"]


def test_name_follows_the_recipe(tmp_path):
    version = recipe.stemcell_version(recipe.cache_key())

    assert build.stemcell_path(tmp_path) == tmp_path / f"conformance-debian-{version}.tgz"


def test_default_cache_dir_honours_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    assert build.default_cache_dir() == tmp_path / "cpi-conformance" / "stemcells"


@pytest.mark.skipif(os.geteuid() == 0, reason="checks the non-root refusal")
def test_building_needs_root(tmp_path):
    with pytest.raises(StemcellBuildError, match="needs root"):
        build.ensure_stemcell(tmp_path, progress=lambda line: None)


def test_prune_keeps_the_newest(tmp_path):
    names = [f"conformance-debian-1.0-{i:012d}.tgz" for i in range(5)]
    for age, name in enumerate(reversed(names)):
        path = tmp_path / name
        path.write_bytes(b"x")
        os.utime(path, (1000 - age, 1000 - age))
    (tmp_path / "build-1.0-000000000000.log").write_text("log")

    build._prune(tmp_path / names[4], progress=lambda line: None, keep=3)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[2:]), "current + 2 newest others"
