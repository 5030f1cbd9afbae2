"""Redaction: a secret is withheld in its common encodings, before any cut, in keys and values."""

import base64
import urllib.parse

import pytest

from conformance.core.secrets import REDACTED, SECRET_KEY_RE, Redactor, secrets_in

pytestmark = pytest.mark.unit

SECRET = "Unit-Canary/42+xyz=Q&w"


@pytest.mark.parametrize("leak", [
    SECRET, SECRET.upper(), SECRET.lower(),
    base64.b64encode(SECRET.encode()).decode(),
    base64.b64encode(b"a:" + SECRET.encode()).decode(),
    base64.b64encode(b"ab:" + SECRET.encode()).decode(),
    base64.urlsafe_b64encode(b"x" + SECRET.encode()).decode(),
    urllib.parse.quote(SECRET, safe=""), urllib.parse.quote_plus(SECRET), SECRET.encode().hex().upper(),
    "".join(f"\\u{ord(c):04x}" for c in SECRET), SECRET[:5] + "\\u" + f"{ord(SECRET[5]):04X}" + SECRET[6:],
    f'"{SECRET[:9]}" + "{SECRET[9:]}"', f"{SECRET[:9]}\n  {SECRET[9:]}", f'{SECRET[:9]}\\", \\"{SECRET[9:]}',
], ids=lambda leak: leak[:24])
def test_every_form_is_seen_and_redacted(leak):
    redactor = Redactor([SECRET])
    text = f"before {leak} after"
    assert redactor.leaks(here=text) == ["here"]
    assert REDACTED in redactor.text(text)
    assert redactor.leaks(here=redactor.text(text)) == []


@pytest.mark.parametrize("cut", range(1, len(SECRET)))
def test_no_prefix_survives_a_cut(cut):
    """head/tail redact first: a secret straddling the cut leaves none of its characters behind."""
    redactor = Redactor([SECRET])
    head_text = "x" * (200 - cut) + SECRET + "y" * 50
    tail_text = "y" * 50 + SECRET + "x" * (100 - cut)
    assert SECRET[:cut] not in redactor.head(head_text, 200)
    assert SECRET[-cut:] not in redactor.tail(tail_text, 100)


def test_keys_and_numbers_at_secret_keys_are_redacted():
    redactor = Redactor([SECRET])
    doc = redactor.doc({SECRET: 1, "pwd": 123456, "nested": {"api-key": "k", "note": f"is {SECRET}"}})
    assert doc == {REDACTED: 1, "pwd": REDACTED, "nested": {"api-key": REDACTED, "note": f"is {REDACTED}"}}


@pytest.mark.parametrize("key", ["password", "passwd", "pwd", "api_key", "api-key", "apikey", "API_KEY", "secret",
                                 "token", "ssh_key", "private_key", "signing_key", "encryption_key", "credential",
                                 "access_key", "passphrase"])
def test_secret_key_names(key):
    assert SECRET_KEY_RE.search(key)
    assert secrets_in({key: "value-1"}) == {"value-1"}


def test_numeric_secrets_are_known_too():
    assert secrets_in({"password": 73510926}) == {"73510926"}
