"""Random passwords, generated once per install and kept 0600 in the state directory.

Every value here is a secret: `redact` replaces each of them in any text before that text is
printed or written to a log, so a failing command line or a log tail never shows one.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from conformance.localcloud.layout import write_private

# One password per account. Database users, RabbitMQ, Keystone users, shared secrets.
NAMES = (
    "db_keystone", "db_glance", "db_placement", "db_nova", "db_neutron", "db_cinder",
    "rabbit", "admin", "test_user",
    "svc_glance", "svc_placement", "svc_nova", "svc_neutron", "svc_cinder",
    "metadata_secret",
)  # fmt: skip

MASK = "********"


def generate() -> str:
    """URL-safe characters only: the passwords end up inside mysql+pymysql:// and rabbit:// URLs."""
    return secrets.token_urlsafe(24)


class Passwords:
    def __init__(self, values: dict[str, str]):
        self._values = dict(values)

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __repr__(self) -> str:  # never show a value, even in a traceback
        return f"Passwords({sorted(self._values)})"

    @classmethod
    def load_or_create(cls, path: Path) -> Passwords:
        """Keep what exists, add what is missing; write 0600 only when something was added."""
        values = json.loads(path.read_text()) if path.exists() else {}
        missing = [n for n in NAMES if n not in values]
        for name in missing:
            values[name] = generate()
        if missing:
            write_private(path, json.dumps(values, indent=2, sort_keys=True) + "\n")
        return cls(values)

    def redact(self, text: str) -> str:
        for value in sorted(self._values.values(), key=len, reverse=True):
            if value:
                text = text.replace(value, MASK)
        return text
