"""Build the test stemcell once per recipe, and find it in the cache afterwards.

    path = ensure_stemcell()            # ~/.cache/cpi-conformance/stemcells/conformance-debian-<v>.tgz

The file name carries a hash of every input (see recipe.py), so an existing file is complete and
current: it is returned at once. A build works in a temporary directory beside the result, under
a lock, and renames its tarball into place as its last act; a killed build leaves only a
`.build-*` directory, whose mounts and loop devices the next build releases before deleting it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from conformance.stemcell import disk, recipe, rootfs, tarball
from conformance.stemcell.errors import StemcellBuildError
from conformance.stemcell.host import Runner, apt_mirror, ensure_tools
from conformance.stemcell.mounts import release_under

Progress = Callable[[str], object]
LOCK_TIMEOUT = 3600.0
KEEP_BUILDS = 3  # the current stemcell and the two before it


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cpi-conformance" / "stemcells"


def stemcell_path(cache_dir: Path | None = None) -> Path:
    """Where the stemcell of the current recipe is (or will be) in the cache."""
    version = recipe.stemcell_version(recipe.cache_key())
    return (cache_dir or default_cache_dir()) / recipe.tarball_name(version)


def ensure_stemcell(cache_dir: Path | None = None, force: bool = False, progress: Progress = print) -> Path:
    """The path of the stemcell tarball for the current recipe, building it if needed (as root)."""
    final = stemcell_path(cache_dir)
    if final.is_file() and not force:
        progress(f"stemcell up to date: {final}")
        return final
    if os.geteuid() != 0:
        raise StemcellBuildError("start", "building the stemcell needs root (debootstrap, losetup, mount)")
    final.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(final.parent / ".build.lock"), timeout=LOCK_TIMEOUT):
        if final.is_file() and not force:  # another process built it while we waited
            progress(f"stemcell up to date: {final}")
            return final
        _sweep_killed_builds(final.parent, progress)
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
        started = time.monotonic()
        try:
            _build(work, final, progress)
        finally:
            _remove_work_dir(work)
        progress(f"stemcell ready after {time.monotonic() - started:.0f}s (work directory removed): {final}")
        _prune(final, progress)
    return final


def _prune(final: Path, progress: Progress, keep: int = KEEP_BUILDS) -> None:
    """Delete all but the ``keep`` newest stemcells of earlier recipes (and their build logs)."""
    older = [p for p in final.parent.glob(f"{recipe.FILE_PREFIX}*.tgz") if p != final]
    for old in sorted(older, key=lambda p: p.stat().st_mtime, reverse=True)[keep - 1 :]:
        version = old.name.removeprefix(recipe.FILE_PREFIX).removesuffix(".tgz")
        progress(f"removing an older stemcell: {old}")
        old.unlink(missing_ok=True)
        (final.parent / f"build-{version}.log").unlink(missing_ok=True)


def _build(work: Path, final: Path, progress: Progress) -> None:
    version = final.name.removeprefix(recipe.FILE_PREFIX).removesuffix(".tgz")
    log_path = final.parent / f"build-{version}.log"
    log_path.write_text("")
    runner = Runner(log_path)
    started = time.monotonic()
    progress(f"building stemcell {version} in {work} (log: {log_path})")
    root, raw, qcow2 = work / "root", work / "root.raw", work / "root.img"
    with _step(runner, "build tools", progress):
        ensure_tools(runner, progress)
    with _step(runner, "debootstrap", progress):
        mirror = apt_mirror()
        progress(f"  {recipe.SUITE} from {mirror}: {len(recipe.PACKAGES)} packages + minbase")
        rootfs.debootstrap(runner, root, mirror)
    with _step(runner, "configure guest", progress):
        rootfs.configure(runner, root)
        dpkg_list = work / "stemcell_dpkg_l.txt"
        dpkg_list.write_text(runner.run(["chroot", str(root), "dpkg", "-l"]))
    with _step(runner, "raw disk", progress):
        disk.make_raw_disk(runner, root, raw, recipe.DISK_MIB, work / "mnt")
    with _step(runner, "qcow2", progress):
        disk.to_qcow2(runner, raw, qcow2)
        raw.unlink()
    with _step(runner, "tarball", progress):
        _package(work, qcow2, dpkg_list, version, final)
    progress(
        f"stemcell built in {time.monotonic() - started:.0f}s: {final} "
        f"({final.stat().st_size / 2**20:.0f} MiB; qcow2 {qcow2.stat().st_size / 2**20:.0f} MiB)"
    )


def _package(work: Path, qcow2: Path, dpkg_list: Path, version: str, final: Path) -> None:
    image = work / "image"
    tarball.write_image(qcow2, image)
    manifest = recipe.manifest(version, tarball.sha1_of(image))
    staged = work / final.name
    tarball.write_stemcell(staged, manifest, image, {"stemcell_dpkg_l.txt": dpkg_list})
    os.replace(staged, final)  # the one moment the result appears, complete


@contextmanager
def _step(runner: Runner, name: str, progress: Progress) -> Iterator[None]:
    runner.step = name
    progress(f"[stemcell] {name} ...")
    started = time.monotonic()
    yield
    progress(f"[stemcell] {name} done in {time.monotonic() - started:.1f}s")


def _sweep_killed_builds(cache_dir: Path, progress: Progress) -> None:
    for stale in sorted(cache_dir.glob(".build-*")):
        progress(f"removing the remains of an interrupted build: {stale}")
        _remove_work_dir(stale)


def _remove_work_dir(work: Path) -> None:
    """Release mounts and loop devices below ``work``, then delete it; never delete through a
    mount that is still there."""
    busy = release_under(work)
    if busy:
        raise StemcellBuildError(
            "cleanup", f"still in use, not deleted: {', '.join(busy)}; unmount/detach them and remove {work}"
        )
    shutil.rmtree(work, ignore_errors=True)
