"""A suite test's MUST sentence, as results.json and the report carry it: the first paragraph of its
docstring, on one line."""

from types import SimpleNamespace

import pytest

from conformance.run import casing

pytestmark = pytest.mark.unit


def test_the_requirement_is_the_docstrings_first_paragraph_on_one_line():
    def a_test():
        """has_vm MUST answer true for a VM that exists
        (bosh.io has_vm: "True if VM is present").

        Steps: create a VM; call has_vm.
        """

    assert casing.requirement(SimpleNamespace(function=a_test)) == (
        'has_vm MUST answer true for a VM that exists (bosh.io has_vm: "True if VM is present").')


@pytest.mark.parametrize("doc", [None, "", "   \n  "])
def test_no_docstring_no_requirement(doc):
    def a_test():
        pass

    a_test.__doc__ = doc
    assert casing.requirement(SimpleNamespace(function=a_test)) is None
    assert casing.requirement(SimpleNamespace()) is None, "an item that is not a function (a doctest, a yaml case)"


def test_every_suite_test_states_a_requirement():
    """The suites are the contract: each test's docstring opens with a sentence that says MUST."""
    import importlib
    import inspect
    import pkgutil

    from conformance import suites

    found = 0
    for info in pkgutil.iter_modules(suites.__path__):
        module = importlib.import_module(f"conformance.suites.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("test_") and function.__module__ == module.__name__:
                found += 1
                sentence = casing.requirement(SimpleNamespace(function=function))
                assert sentence and "MUST" in sentence, f"{info.name}::{name}: {sentence!r}"
    assert found >= 40
