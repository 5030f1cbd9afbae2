"""Domain expectations shared by the suites (assert-rewritten: failures show value diffs)."""

from __future__ import annotations

from conformance.cpi.errors import CpiError

#: What a lenient profile accepts where the docs name a specific error type (the official CPI
#: answers CloudError in many places).
LENIENT = {"CloudError", "CpiError", "Unknown"}


def error_type_ok(err: CpiError, expected: str, strict: bool) -> bool:
    return err.short_type == expected or (not strict and err.short_type in LENIENT)


def assert_error_type(err: CpiError, expected: str, strict: bool, what: str) -> None:
    allowed = [expected] + ([] if strict else sorted(LENIENT))
    assert err.known, f"{what}: the CPI answered an error type the Director does not know: {err.type}"
    assert error_type_ok(err, expected, strict), (
        f"{what}: expected {' or '.join(allowed)}, the CPI answered {err.short_type}: {err.message[:300]}"
        + (" (profile: features.strict_error_types is true)" if strict else "")
    )


def size_gib(size_mib: int) -> int:
    """What a CPI must create for a size in MiB: whole GiB, rounded up."""
    return -(-size_mib // 1024)


def applies(record_property, condition: bool, check: str, reason: str) -> bool:
    """Whether a check of a test applies to this profile; when it does not, it is recorded as not
    checked with the reason (results.json "not_checked", the report's "Not checked" list), so that
    a test that passed never seems to have passed a check it did not make.

        if applies(record_property, profile.cpi.api_version >= 2, "info.api_version >= 2",
                   "the profile speaks CPI API v1 (cpi.api_version)"):
            assert ...
    """
    if not condition:
        record_property("not_checked", f"{check}: {reason}")
    return condition
