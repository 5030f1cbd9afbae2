"""Secrets: `${ENV}` interpolation that remembers what it resolved, redaction, and leak scanning.

The rule everywhere: a secret's value never reaches a log, report, transcript or error message.
What we know to be secret: values resolved at secret-looking keys, the clouds.yaml credentials
of the profile's cloud, and every password / api_key / secret / token value in the CPI config.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

#: Keys whose values are secrets: password, passwd, pwd, pass, secret, api_key / api-key / apikey,
#: token, private_key, ssh_key, signing_key, encryption_key, credential(s), ... in any case.
SECRET_KEY_RE = re.compile(
    r"pass(word|wd|phrase)?|pwd|secret|api[-_ ]?key|token|private[-_ ]?key|ssh[-_ ]?key|signing[-_ ]?key"
    r"|encryption[-_ ]?key|access[-_ ]?key|credential",
    re.IGNORECASE,
)
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
REDACTED = "<redacted>"
#: Shorter values would match by accident everywhere; such weak secrets are not scanned for.
MIN_SECRET_LEN = 4
#: Encoded forms (base64, hex) and split forms are looked for only for secrets this long.
MIN_ENCODED_LEN = 8
#: What may stand between the two halves of a split secret: whitespace, quotes (also JSON-escaped), +, commas, \n.
_GAP = r"(?:[\s\"'+,]|\\[nrt\"']){0,8}"


def interpolate(doc: Any, environ: Mapping[str, str], secrets: set[str], fail: Callable[[str, str], Any],
                path: str = "", key: str = "") -> Any:
    """Replace ``${VAR}`` in every string of ``doc``. Values at secret-looking keys go to ``secrets``.

    ``fail(path, var)`` is called for a variable that is not set (it should raise).
    """
    if isinstance(doc, dict):
        return {k: interpolate(v, environ, secrets, fail, f"{path}.{k}" if path else str(k), str(k))
                for k, v in doc.items()}
    if isinstance(doc, list):
        return [interpolate(v, environ, secrets, fail, f"{path}[{i}]", key) for i, v in enumerate(doc)]
    if not isinstance(doc, str):
        return doc

    def sub(match: re.Match) -> str:
        var = match.group(1)
        if var not in environ:
            fail(path, var)
        value = environ[var]
        if SECRET_KEY_RE.search(key):
            secrets.add(value)
        return value

    return _ENV_RE.sub(sub, doc)


def secrets_in(doc: Any, key: str = "") -> set[str]:
    """Every string value at a secret-looking key, anywhere in a JSON-like document."""
    found: set[str] = set()
    if isinstance(doc, dict):
        for k, v in doc.items():
            found |= secrets_in(v, str(k))
    elif isinstance(doc, list):
        for v in doc:
            found |= secrets_in(v, key)
    elif isinstance(doc, str | int | float) and not isinstance(doc, bool) and SECRET_KEY_RE.search(key) \
            and str(doc):
        found.add(str(doc))
    return found


def _char_pattern(char: str) -> str:
    """One character of a secret as it may be written: itself (any case, by the caller's flag), a JSON
    \\u escape, JSON's short escapes, URL percent-encoding of its UTF-8 bytes."""
    forms = [re.escape(char), rf"\\u{ord(char):04x}"] if ord(char) < 0x10000 else [re.escape(char)]
    forms.append("".join(f"%{b:02x}" for b in char.encode("utf-8")))
    forms += {"\"": [r'\\"'], "\\": [r"\\\\"], "/": [r"\\/"], " ": [r"\+"]}.get(char, [])
    return "(?:" + "|".join(forms) + ")"


def secret_pattern(secret: str) -> str:
    """A regex source matching ``secret`` and its common encodings: any letter case, JSON \\u escapes,
    URL-encoding (whole or partial), hex, base64 (standard and URL-safe, at any of the three byte
    alignments a longer encoded text may put it at), and -- for secrets of MIN_ENCODED_LEN or more --
    split in two by whitespace, quotes, + or commas."""
    gap = _GAP if len(secret) >= MIN_ENCODED_LEN else ""
    forms = ["(?i:" + gap.join(_char_pattern(c) for c in secret) + ")"]
    raw = secret.encode("utf-8")
    if len(secret) >= MIN_ENCODED_LEN:
        forms.append("(?i:" + re.escape(raw.hex()) + ")")
        for shift in range(3):
            chunk = raw[shift:]
            chunk = chunk[: len(chunk) // 3 * 3]
            if len(chunk) >= 6:
                forms.append(re.escape(base64.b64encode(chunk).decode()))
                forms.append(re.escape(base64.urlsafe_b64encode(chunk).decode()))
    return "|".join(forms)


class Redactor:
    """Knows the secret values; redacts them -- plain or encoded -- from text, and secret-looking keys
    from documents. Not covered: a secret cut in two with other text between the halves, or each half
    in a different place; encodings applied twice; base64 wrapped over lines."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets: list[str] = []
        self._pattern: re.Pattern | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        self._secrets = sorted({*self._secrets, *(s for s in secrets if s and len(s) >= MIN_SECRET_LEN)},
                               key=len, reverse=True)
        self._pattern = (re.compile("|".join(f"(?:{secret_pattern(s)})" for s in self._secrets))
                         if self._secrets else None)
        #: The longest text one match can span (for cutting windows that keep whole matches).
        self.span = max((len(s) * 12 + 8 * len(s) for s in self._secrets), default=0)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern is not None and text else text

    def head(self, text: str, limit: int) -> str:
        """The first ``limit`` characters of the redacted text (redacted before the cut)."""
        return self.text(text[: limit + self.span])[:limit]

    def tail(self, text: str, limit: int) -> str:
        """The last ``limit`` characters of the redacted text (redacted before the cut)."""
        return self.text(text[-(limit + self.span):])[-limit:] if limit else ""

    def doc(self, doc: Any, key: str = "") -> Any:
        if isinstance(doc, dict):
            return {self.text(str(k)) if isinstance(k, str) else k: self.doc(v, str(k)) for k, v in doc.items()}
        if isinstance(doc, list):
            return [self.doc(v, key) for v in doc]
        if isinstance(doc, str):
            return REDACTED if (SECRET_KEY_RE.search(key) and doc) else self.text(doc)
        if isinstance(doc, int | float) and not isinstance(doc, bool) and SECRET_KEY_RE.search(key):
            return REDACTED
        return doc

    def leaks(self, **places: str) -> list[str]:
        """Names of the places (e.g. stdout=..., stderr=...) that contain a known secret, in any of the
        forms ``text`` redacts. Only the place names come back, never the secret."""
        if self._pattern is None:
            return []
        return [name for name, text in places.items() if text and self._pattern.search(text)]
