"""The layers are enforced, not described: lint-imports (tox -e imports) fails on a module placed in
the wrong layer, on a new module outside every layer, and on a suite that reaches a witness's code."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.component

ROOT = Path(__file__).parents[2]
LINT = Path(sys.executable).absolute().parent / "lint-imports"


@pytest.fixture
def tree(tmp_path):
    """A copy of the package and its contracts, to break on purpose."""
    shutil.copytree(ROOT / "conformance", tmp_path / "conformance",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "files", "templates"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def lint(folder: Path) -> subprocess.CompletedProcess:
    if not LINT.exists():
        pytest.fail(f"{LINT} is missing: the test environment installs import-linter (pip install -e .[test])")
    return subprocess.run([str(LINT)], cwd=folder, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(folder)})


def test_the_real_tree_keeps_every_contract(tree):
    done = lint(tree)
    assert done.returncode == 0, done.stdout[-3000:]


def test_a_toolbox_module_that_imports_the_run_breaks_the_layers(tree):
    (tree / "conformance/core/sneaky.py").write_text("from conformance.run import lab  # noqa\n")
    done = lint(tree)
    assert done.returncode != 0 and "conformance.core.sneaky -> conformance.run.lab" in done.stdout, done.stdout[-3000:]


def test_a_new_flat_module_outside_every_layer_breaks_the_layers(tree):
    (tree / "conformance/helpers.py").write_text("X = 1\n")
    done = lint(tree)
    assert done.returncode != 0 and "conformance.helpers" in done.stdout, done.stdout[-3000:]


def test_a_suite_that_reaches_the_openstack_witness_breaks_its_contract(tree):
    suite = tree / "conformance/suites/test_vm_lifecycle.py"
    suite.write_text(suite.read_text() + "\nfrom conformance.cloud import openstack  # noqa\n")
    done = lint(tree)
    assert done.returncode != 0 and "conformance.suites.test_vm_lifecycle -> conformance.cloud.openstack" in (
        done.stdout), done.stdout[-3000:]
