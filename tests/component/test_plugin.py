"""The pytest plugin, driven by pytester with the fake CPI profile."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.component

pytest_plugins = ["pytester"]
FAKE_PROFILE = Path(__file__).parents[1] / "fixtures" / "profiles" / "fake.yml"
SUITES_INI = Path(__file__).parents[2] / "conformance" / "suites" / "pytest.ini"
INI = "[pytest]\nconformance_require_case_ids = true\n"


def run(pytester, source: str, *args, profile=FAKE_PROFILE):
    pytester.makeini(INI)
    pytester.makepyfile(test_suite=source)
    return pytester.runpytest_subprocess("--profile", str(profile), "--report-dir", str(pytester.path / "reports"),
                                         "--rootdir", str(pytester.path), "-c", str(pytester.path / "tox.ini"),
                                         "-rsx", *args, str(pytester.path))


def test_missing_case_id_fails_collection(pytester):
    result = run(pytester, "def test_x(cpi):\n    pass\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_suite.py::test_x: no @pytest.mark.case*"])


def test_duplicate_case_id_fails_collection(pytester):
    source = (
        "import pytest\n"
        "@pytest.mark.case('0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10')\ndef test_a(): pass\n"
        "@pytest.mark.case('0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10')\ndef test_b(): pass\n"
    )
    result = run(pytester, source)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_b: case id 0b7f2d1c-* is also used by*test_a"])


def test_unregistered_marker_is_refused(pytester):
    source = "import pytest\n@pytest.mark.case('0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10')\n@pytest.mark.bogus\ndef test_a(): pass\n"
    result = run(pytester, source, "--strict-markers")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*'bogus' not found in `markers`*"])


def test_requires_skips_with_the_profile_key(pytester):
    source = (
        "import pytest\n"
        "@pytest.mark.case('0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10')\n@pytest.mark.requires('manual_networks>=2')\n"
        "def test_two(): pass\n"
        "@pytest.mark.case('5e3f8a2b-1d4c-4b6e-8f0a-2c9d7e6b5a41')\n@pytest.mark.requires('vip_network')\n"
        "def test_vip(): pass\n"
    )
    result = run(pytester, source)
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*profile: networks.manual has 1 network(s), the test needs >= 2*",
                                 "*profile: features.vip_network is false*"])


def test_failed_test_shows_the_cpi_transcript(pytester):
    source = (
        "import pytest\n@pytest.mark.case('0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10')\n"
        "def test_a(cpi):\n    cpi.info()\n    assert cpi.has_vm('vm-2'), 'has_vm of vm-2'\n"
    )
    result = run(pytester, source)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*- cpi-calls call -*", "*info * ok *", "*has_vm * ok *-> False"])


def test_known_failure_is_a_strict_xfail(pytester, tmp_path):
    profile = tmp_path / "p.yml"
    profile.write_text(FAKE_PROFILE.read_text().replace("{profile_dir}", str(FAKE_PROFILE.parent)).replace(
        "dummy_key", str(FAKE_PROFILE.parent / "dummy_key"))
        + "known_failures: {0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10: 'https://bugs.example/1'}\n")
    source = ("import pytest\n@pytest.mark.case('0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10')\n"
              "def test_a(): assert False\n"
              "@pytest.mark.case('5e3f8a2b-1d4c-4b6e-8f0a-2c9d7e6b5a41')\ndef test_b(): pass\n")
    result = run(pytester, source, profile=profile)
    result.assert_outcomes(xfailed=1, passed=1)
    result.stdout.fnmatch_lines(["*known failure: https://bugs.example/1*"])
    certify = run(pytester, source, "--certify", profile=profile)
    assert certify.ret == pytest.ExitCode.USAGE_ERROR
    certify.stderr.fnmatch_lines(["*--certify refuses known_failures overrides*"])


def test_certify_refuses_test_selection(pytester):
    source = "import pytest\n@pytest.mark.case('0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10')\ndef test_a(): pass\n"
    result = run(pytester, source, "--certify", "-k", "test_a")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--certify runs the full suite: -k and -m are refused*"])


def test_cleanup_fixture_runs_and_records_in_the_ledger(pytester):
    source = (
        "import pytest\n@pytest.mark.case('0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10')\n"
        "def test_a(cleanup):\n    cleanup.add('drop thing', print, 'dropped', resource=('thing', 't-1'))\n"
    )
    result = run(pytester, source, "--run-id", "20261121t000000-abcd")
    result.assert_outcomes(passed=1)
    ledger = (pytester.path / "reports" / "20261121t000000-abcd" / "ledger.jsonl").read_text()
    assert '"event": "created"' in ledger and '"event": "deleted"' in ledger


def test_keep_on_failure_abandons_cleanup(pytester):
    source = (
        "import pytest\n@pytest.mark.case('0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10')\n"
        "def test_a(cleanup):\n    cleanup.add('drop', print, resource=('thing', 't-1'))\n    assert False\n"
    )
    result = run(pytester, source, "--run-id", "20261121t000000-abcd", "--keep-on-failure")
    result.assert_outcomes(failed=1)
    ledger = (pytester.path / "reports" / "20261121t000000-abcd" / "ledger.jsonl").read_text()
    assert '"event": "abandoned"' in ledger and '"event": "deleted"' not in ledger


def test_xdist_workers_share_one_run_id(pytester):
    source = "".join(
        f"import pytest\n@pytest.mark.case('{cid}')\ndef test_{i}(run): print('RUN', run.run_id, run.worker)\n"
        for i, cid in enumerate(["0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10", "5e3f8a2b-1d4c-4b6e-8f0a-2c9d7e6b5a41"])
    )
    result = run(pytester, source, "-n", "2", "-s")
    result.assert_outcomes(passed=2)
    assert len(list((pytester.path / "reports").iterdir())) == 1


def test_a_run_with_a_profile_raises_no_warning(pytester):
    """The run's fixtures (conformance.run.session and conformance.run.fixtures, registered as plugin modules)
    set up and torn down with --profile leave no warning: none of them is an instance method, which
    pytest 9 deprecates (PytestRemovedIn10Warning) and pytest 10 refuses."""
    source = (
        "import pytest\n@pytest.mark.case('0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10')\n"
        "def test_a(run, profile, names, static_ips, cpi, cleanup, module_cleanup, session_cleanup,\n"
        "           conn, net_ids, lab, ssh, create_disk):\n"
        "    assert run.profile is profile and lab.cpi is cpi and conn is None\n"
        "    assert net_ids == {'a': 'net-a'} and len(static_ips['a']) > 0\n"
        "    cpi.info()\n"
    )
    result = run(pytester, source, "-n", "2")
    result.assert_outcomes(passed=1, warnings=0)
    assert "warnings summary" not in result.stdout.str()
    assert "PytestRemovedIn10Warning" not in result.stdout.str() + result.stderr.str()


@pytest.mark.skipif(not hasattr(pytest, "PytestRemovedIn10Warning"), reason="pytest < 9: no PytestRemovedIn10Warning")
def test_suites_ini_makes_a_pytest_deprecation_an_error(pytester):
    """conformance run's pytest.ini turns a pytest deprecation into an error: an instance-method
    session fixture (what the run's fixtures were) errors the test instead of warning."""
    pytester.makeconftest(
        "import pytest\n"
        "class Fixtures:\n"
        "    @pytest.fixture(scope='session')\n"
        "    def old_style(self):\n"
        "        return 1\n"
        "def pytest_configure(config):\n"
        "    config.pluginmanager.register(Fixtures(), 'old-style-fixtures')\n"
    )
    pytester.makepyfile(test_suite="def test_a(old_style): pass\n")
    result = pytester.runpytest_subprocess("-c", str(SUITES_INI), "--rootdir", str(pytester.path), str(pytester.path))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*PytestRemovedIn10Warning*instance methods are deprecated*"])


def test_prefixed_spellings_work_alone(pytester):
    """The --cfm- spellings (what `conformance run` passes) do what the short ones do."""
    pytester.makeini(INI)
    pytester.makepyfile(test_suite="import pytest\n@pytest.mark.case('0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10')\n"
                                   "def test_a(run):\n    assert run.keep_on_failure\n")
    result = pytester.runpytest_subprocess(
        "--cfm-profile", str(FAKE_PROFILE), "--cfm-report-dir", str(pytester.path / "r"),
        "--cfm-run-id", "20261121t000000-abcd", "--cfm-keep-on-failure",
        "--rootdir", str(pytester.path), "-c", str(pytester.path / "tox.ini"), str(pytester.path))
    result.assert_outcomes(passed=1)
    assert (pytester.path / "r" / "20261121t000000-abcd" / "results.json").is_file()


def test_a_reused_run_id_is_a_usage_error_and_xdist_workers_still_join_the_run(pytester):
    source = "".join(
        f"import pytest\n@pytest.mark.case('{cid}')\ndef test_{i}(run): pass\n"
        for i, cid in enumerate(["0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10", "5e3f8a2b-1d4c-4b6e-8f0a-2c9d7e6b5a41"]))
    first = run(pytester, source, "--run-id", "20261121t000000-abcd", "-n", "2")
    first.assert_outcomes(passed=2)  # the workers take the controller's run id: not refused
    run_dir = pytester.path / "reports" / "20261121t000000-abcd"
    ledger = (run_dir / "ledger.jsonl").read_bytes() if (run_dir / "ledger.jsonl").exists() else None
    again = run(pytester, source, "--run-id", "20261121t000000-abcd")
    assert again.ret == pytest.ExitCode.USAGE_ERROR
    again.stderr.fnmatch_lines([f"*--run-id 20261121t000000-abcd: {run_dir} already holds a run (results.json*"
                                "would mix its ledger and CPI calls*"])
    assert ledger == ((run_dir / "ledger.jsonl").read_bytes() if ledger is not None else None)


@pytest.mark.parametrize("order", ["ours first", "theirs first"])
def test_a_plugin_owning_profile_takes_it_in_either_load_order(pytester, monkeypatch, order):
    """Another plugin's --profile (pytest-profiling's is a flag) never crashes pytest: ours is then
    only --cfm-profile, --help says so, and --profile <a yml> is a usage error naming --cfm-profile."""
    pytester.makepyfile(theirs="def pytest_addoption(parser):\n"
                               "    parser.getgroup('theirs').addoption('--profile', action='store_true')\n")
    plugins = ["-p", "conformance.run.plugin", "-p", "theirs"]
    pytester.makeini(INI)
    pytester.makepyfile(test_suite="import pytest\n@pytest.mark.case('0b7f2d1c-5c7e-4f43-9a41-6f0c1e9b8a10')\n"
                                   "def test_a(run): pass\n")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    args = [*(plugins if order == "ours first" else plugins[2:] + plugins[:2]), "-p", "xdist.plugin",
            "--rootdir", str(pytester.path), "-c", str(pytester.path / "tox.ini")]
    helped = pytester.runpytest_subprocess(*args, "--help")
    assert helped.ret == 0
    assert "--profile belongs to the plugin module theirs here: use --cfm-profile" in " ".join(
        helped.stdout.str().split())
    refused = pytester.runpytest_subprocess(*args, "--profile", str(FAKE_PROFILE), str(pytester.path))
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines([f"*--profile {FAKE_PROFILE}: --profile belongs to the plugin module theirs here*"
                                  f"the conformance profile is --cfm-profile: --cfm-profile {FAKE_PROFILE}"])
    ran = pytester.runpytest_subprocess(*args, "--cfm-profile", str(FAKE_PROFILE), "--report-dir",
                                        str(pytester.path / "r"), str(pytester.path))
    ran.assert_outcomes(passed=1)
