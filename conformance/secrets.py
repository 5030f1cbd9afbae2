"""Secrets: `${ENV}` interpolation that remembers what it resolved, redaction, and leak scanning.

The rule everywhere: a secret's value never reaches a log, report, transcript or error message.
What we know to be secret: values resolved at secret-looking keys, the clouds.yaml credentials
of the profile's cloud, and every password / api_key / secret / token value in the CPI config.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

SECRET_KEY_RE = re.compile(r"pass(word)?|secret|api_?key|token|private_key|credential", re.IGNORECASE)
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
REDACTED = "<redacted>"
#: Shorter values would match by accident everywhere; such weak secrets are not scanned for.
MIN_SECRET_LEN = 4


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
    elif isinstance(doc, str) and SECRET_KEY_RE.search(key) and doc:
        found.add(doc)
    return found


class Redactor:
    """Knows the secret values; redacts them from text and secret-looking keys from documents."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LEN}, key=len, reverse=True)

    def add(self, *secrets: str) -> None:
        self._secrets = sorted({*self._secrets, *(s for s in secrets if s and len(s) >= MIN_SECRET_LEN)},
                               key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def doc(self, doc: Any, key: str = "") -> Any:
        if isinstance(doc, dict):
            return {k: self.doc(v, str(k)) for k, v in doc.items()}
        if isinstance(doc, list):
            return [self.doc(v, key) for v in doc]
        if isinstance(doc, str):
            return REDACTED if (SECRET_KEY_RE.search(key) and doc) else self.text(doc)
        return doc

    def leaks(self, **places: str) -> list[str]:
        """Names of the places (e.g. stdout=..., stderr=...) that contain a known secret.
        Only the place names come back, never the secret."""
        return [name for name, text in places.items() if text and any(s in text for s in self._secrets)]
