"""The ebtables guard: a --among-src delete becomes flush + DROP; everything else passes through."""

import os
import subprocess

import pytest

from conformance.localcloud import ebtables

pytestmark = pytest.mark.unit


@pytest.fixture
def guard(tmp_path):
    """The guard script with a recording stand-in for ebtables-nft."""
    log = tmp_path / "calls"
    real = tmp_path / "ebtables-nft"
    real.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    real.chmod(0o755)
    script = tmp_path / "ebtables"
    script.write_text(ebtables.SCRIPT.replace(ebtables.REAL, str(real)))
    script.chmod(0o755)
    return script, log


def run(guard, *args):
    script, log = guard
    subprocess.run([str(script), *args], check=True, env={"PATH": os.environ["PATH"]})
    return log.read_text().splitlines()


def test_among_src_delete_becomes_flush_and_drop(guard):
    calls = run(guard, "-t", "nat", "--concurrent", "-D", "neutronMAC-tap1", "-i", "tap1", "--among-src",
                "fa:16:3e:14:ed:0", "-j", "RETURN")
    assert calls == ["-t nat --concurrent -F neutronMAC-tap1", "-t nat --concurrent -A neutronMAC-tap1 -j DROP"]


@pytest.mark.parametrize("args", [["-t", "nat", "--concurrent", "-L"],
                                  ["-t", "nat", "--concurrent", "-D", "PREROUTING", "-i", "tap1", "-j", "x"],
                                  ["-t", "nat", "--concurrent", "-I", "c", "--among-src", "a", "-j", "RETURN"]])
def test_other_commands_pass_through_unchanged(guard, args):
    assert run(guard, *args) == [" ".join(args)]
