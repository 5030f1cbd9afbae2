"""The pytest plugin (pytest11 entry point `conformance`). Filled in below as the suite grows."""


def pytest_addoption(parser):
    group = parser.getgroup("conformance")
    group.addoption("--profile", default=None, help="target profile YAML (profiles/*.yml)")
