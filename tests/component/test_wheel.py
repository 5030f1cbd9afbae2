"""The wheel as a user installs it: built from this tree, installed non-editable with its
dependencies from the package index into a fresh venv, then used from a folder outside the checkout:
--version, profile init and check, a run against the fake CPI, its report. Needs the package index
(pip's cache makes it quick: about a minute on the dev machine)."""

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from conformance import __version__

pytestmark = pytest.mark.component

ROOT = Path(__file__).parents[2]
FAKE_PROFILE = ROOT / "tests" / "fixtures" / "profiles" / "fake.yml"


def sh(*argv, cwd, timeout=600):
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")})
    assert done.returncode == 0, f"{argv}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_the_wheel_installs_with_its_dependencies_and_works_outside_the_checkout(tmp_path):
    """One test, so that xdist builds and installs the wheel once (a module fixture would run once
    per worker, and two in-tree builds would share build/)."""
    bin_dir, work, wheel = install(tmp_path)
    check_contents(wheel)
    check_commands(bin_dir, work)
    check_run_and_report(bin_dir, work)


def install(base: Path) -> tuple[Path, Path, Path]:
    """(the venv's bin folder, a work folder outside the checkout, the wheel)."""
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", base / "dist", ROOT, cwd=base)
    (wheel,) = (base / "dist").glob("cpi_conformance-*.whl")
    venv.EnvBuilder(with_pip=True).create(base / "venv")
    bin_dir = base / "venv" / "bin"
    sh(bin_dir / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel, cwd=base)
    work = base / "work"
    work.mkdir()
    return bin_dir, work, wheel


def check_contents(wheel: Path) -> None:
    assert wheel.name == f"cpi_conformance-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        meta = whl.read(f"cpi_conformance-{__version__}.dist-info/METADATA").decode()
    assert {"conformance/profile/example.yml", "conformance/suites/pytest.ini",
            "conformance/report/results.schema.json"} <= names
    assert f"Version: {__version__}\n" in meta and "License-Expression: Apache-2.0\n" in meta
    assert "Classifier: Framework :: Pytest\n" in meta and "Project-URL: " in meta
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    stale = [n for n in names if n.endswith(".py") and not (ROOT / n).is_file()]
    assert not stale, "modules from an old build/ folder, not in the tree"


def check_commands(bin_dir: Path, work: Path) -> None:
    where = sh(bin_dir / "python", "-c", "import conformance; print(conformance.__file__)", cwd=work)
    assert "site-packages" in where.stdout and str(ROOT) not in where.stdout, "the wheel, not the checkout"
    assert sh(bin_dir / "conformance", "--version", cwd=work).stdout == f"cpi-conformance {__version__}\n"
    sh(bin_dir / "conformance", "profile", "init", "x.yml", cwd=work)
    assert (work / "x.yml").read_text() == (ROOT / "profiles" / "example.yml").read_text()
    checked = sh(bin_dir / "conformance", "profile", "check", "x.yml", cwd=work)
    assert checked.stdout.startswith("x.yml: ok: profile 'example'")


def check_run_and_report(bin_dir: Path, work: Path) -> None:
    env_path = f"{bin_dir}:{os.environ['PATH']}"  # the fake CPI runs as python3 from the venv
    done = subprocess.run([bin_dir / "conformance", "run", "--profile", FAKE_PROFILE, "--report-dir", "reports",
                           "-k", "info"], capture_output=True, text=True, cwd=work, timeout=300,
                          env={**os.environ, "PATH": env_path, "CONFORMANCE_NO_REPORT": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (run_dir,) = (work / "reports").iterdir()
    assert json.loads((run_dir / "results.json").read_text())["tool"]["version"] == __version__
    assert not (run_dir / "report.html").exists()
    report = sh(bin_dir / "conformance", "report", run_dir, cwd=work)
    assert (run_dir / "report.html").is_file() and (run_dir / "report.md").is_file(), report.stdout
