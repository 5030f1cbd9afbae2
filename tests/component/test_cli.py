"""The command line as a user runs it: real processes, exit codes, messages without tracebacks."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.component

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "profiles" / "example.yml"
FAKE_CPI = ROOT / "tests" / "fixtures" / "cpis" / "fake_cpi.py"
FAKE_PROFILE = ROOT / "tests" / "fixtures" / "profiles" / "fake.yml"


def conformance(*args, env=None, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "conformance.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)


def test_profile_check_passes_for_the_example():
    done = conformance("profile", "check", EXAMPLE)
    assert done.returncode == 0, done.stderr
    assert "profiles/example.yml: ok: profile 'example'" in done.stdout


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["networks"]["manual"][1].update(static_ips=["10.9.0.5"]),
         "networks.manual[1].static_ips[0]: 10.9.0.5 is outside 10.10.2.0/24"),
        (lambda d: d.update(colour="blue"), "colour: unknown key"),
        (lambda d: d["timeouts"].update(vm_active="soon"), "timeouts.vm_active: Input should be a valid number"),
    ],
)
def test_broken_profile_exits_2_with_one_line_and_no_traceback(tmp_path, mutate, message):
    doc = yaml.safe_load(EXAMPLE.read_text())
    mutate(doc)
    broken = tmp_path / "x.yml"
    broken.write_text(yaml.safe_dump(doc))
    done = conformance("profile", "check", broken)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"conformance profile: {broken}: {message}")
    assert "Traceback" not in done.stderr


def test_resolve_reports_missing_clouds_yaml_entry(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OS_CLIENT_CONFIG_FILE": str(tmp_path / "none.yaml")}
    done = conformance("profile", "check", "--resolve", EXAMPLE, env={**env, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2 and "cloud: no entry 'mycloud' in clouds.yaml" in done.stderr


def test_cpi_call_against_a_protocol_speaking_executable():
    done = conformance("cpi", "call", "--cpi", f"{sys.executable} {FAKE_CPI} ok", "info")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"]["api_version"] == 2
    assert "duration:" in done.stderr and "info" in done.stderr and " ok " in done.stderr


def test_cpi_call_with_arguments_and_a_cpi_error():
    done = conformance("cpi", "call", "--cpi", f"{sys.executable} {FAKE_CPI} vm-not-found", "has_vm", '["vm-9"]')
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"]["type"] == "Bosh::Clouds::VMNotFound"


def test_cpi_call_broken_answer_exits_non_zero():
    done = conformance("cpi", "call", "--cpi", f"{sys.executable} {FAKE_CPI} not-json", "info")
    assert done.returncode == 1 and "stdout is not JSON" in done.stderr


def test_cpi_call_with_profile():
    done = conformance("cpi", "call", "--profile", FAKE_PROFILE, "has_vm", '["vm-1"]')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"result": True}


def test_cpi_call_flags_a_leak_without_printing_it(tmp_path):
    cfg = tmp_path / "cpi.json"
    cfg.write_text(json.dumps({"cloud": {"properties": {"openstack": {"api_key": "${CANARY_PW}"}}}}))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CANARY_PW": "canary-Secret-123"}
    cmd = f"{sys.executable} {FAKE_CPI} leak-config {{cpi_config}}"
    done = conformance("cpi", "call", "--cpi", cmd, "--cpi-config", cfg, "ping", env=env)
    assert done.returncode == 3, done.stderr
    assert "SECRET LEAK: the CPI wrote a configured secret in stdout" in done.stderr
    assert "canary-Secret-123" not in done.stdout + done.stderr
    assert "api_key=<redacted>" in done.stdout


def test_unknown_json_arguments_are_a_usage_error():
    done = conformance("cpi", "call", "--cpi", "true", "info", "{not json")
    assert done.returncode == 2 and "arguments is not JSON" in done.stderr


def test_run_against_the_fake_cpi_writes_the_report_folder(tmp_path):
    done = conformance("run", "--profile", FAKE_PROFILE, "--report-dir", tmp_path, "-k", "info or unknown_method")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (run_dir,) = tmp_path.iterdir()
    assert (run_dir / "junit.xml").is_file() and (run_dir / "allure-results").is_dir()
    calls = [json.loads(line) for line in (run_dir / "calls.jsonl").read_text().splitlines()]
    assert {c["method"] for c in calls} >= {"info", "cfm_no_such_method"}
    assert f"report: {run_dir.resolve()}" in done.stdout


def test_run_with_a_broken_profile_exits_2_before_pytest(tmp_path):
    broken = tmp_path / "x.yml"
    broken.write_text("- not a mapping\n")
    done = conformance("run", "--profile", broken, "--report-dir", tmp_path / "r")
    assert done.returncode == 2 and "expected a mapping at top level" in done.stderr
    assert not (tmp_path / "r").exists()


def test_run_writes_results_json_that_follows_its_schema(tmp_path):
    import jsonschema

    from conformance.report.results import canonical_digest

    done = conformance("run", "--profile", FAKE_PROFILE, "--report-dir", tmp_path, "-k", "info or unknown_method")
    assert done.returncode == 0, done.stdout[-2000:]
    (run_dir,) = tmp_path.iterdir()
    doc = json.loads((run_dir / "results.json").read_text())
    schema = json.loads((ROOT / "conformance" / "report" / "results.schema.json").read_text())
    jsonschema.validate(doc, schema)
    assert doc["summary"] == {"passed": 3} and doc["cpi"]["info"]["api_version"] == 2
    assert all(t["case_id"] and t["capability"] == "contract" and t["cpi_calls"] for t in doc["tests"])
    assert doc["digest"]["canonical"] == canonical_digest(doc), "digest over the canonical content"


def test_resolve_reports_a_cpi_command_that_does_not_exist(tmp_path):
    """`profile check --resolve` finds the CPI executable as a run would (a missing binary used to pass)."""
    import shutil

    import yaml

    fake = Path(ROOT) / "tests" / "fixtures" / "profiles" / "fake.yml"
    doc = yaml.safe_load(fake.read_text())
    doc["cpi"]["command"] = [str(tmp_path / "no-such-cpi"), "ok"]
    shutil.copy(fake.parent / "dummy_key", tmp_path / "dummy_key")
    (tmp_path / "p.yml").write_text(yaml.safe_dump(doc))
    done = conformance("profile", "check", "--resolve", tmp_path / "p.yml")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"p.yml: cpi.command: the CPI executable {tmp_path / 'no-such-cpi'} does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_version_names_the_distribution_and_its_one_version():
    from conformance import __version__

    done = conformance("--version")
    assert done.returncode == 0 and done.stdout == f"cpi-conformance {__version__}\n"


def test_profile_init_writes_the_example_and_never_overwrites_without_force(tmp_path):
    target = tmp_path / "profiles" / "mycloud.yml"
    done = conformance("profile", "init", target)
    assert done.returncode == 0, done.stderr
    assert target.read_text() == EXAMPLE.read_text(), "the packaged example is profiles/example.yml"
    assert conformance("profile", "check", target).returncode == 0
    target.write_text("name: mine\n")
    again = conformance("profile", "init", target)
    assert again.returncode == 2 and target.read_text() == "name: mine\n"
    assert again.stderr.strip() == f"conformance profile: init: {target} exists: not overwritten (--force replaces it)"
    assert conformance("profile", "init", "--force", target).returncode == 0
    assert target.read_text() == EXAMPLE.read_text()


def test_profile_init_writes_profile_yml_by_default(tmp_path):
    done = conformance("profile", "init", env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "profile.yml").read_text() == EXAMPLE.read_text()


def test_the_example_has_one_source_in_the_package():
    assert EXAMPLE.is_symlink() and EXAMPLE.resolve() == ROOT / "conformance" / "profile" / "example.yml"
