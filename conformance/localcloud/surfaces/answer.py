"""An answer the gateway makes itself (a refusal, a synthesized document), as plain data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict | list | str
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> tuple[bytes, str]:
        """(bytes, content type): JSON for a dict or list, plain text as webob's errors were."""
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=UTF-8"
        return json.dumps(self.body).encode(), "application/json"


def fault(status: int, name: str, message: str, **headers: str) -> Answer:
    """Nova's and Cinder's fault body (nova/api/openstack/wsgi.py, cinder/api/openstack/wsgi.py
    ``Fault``): ``{name: {"code": status, "message": message}}``; a status without a name of its own
    (406) is a "computeFault" in both."""
    return Answer(status, {name: {"code": status, "message": message}}, dict(headers))


def keystone_error(status: int, title: str, message: str) -> Answer:
    """Keystone's error body (keystone/common/wsgi.py ``render_exception``)."""
    return Answer(status, {"error": {"code": status, "title": title, "message": message}})


# webob.exc.HTTPNotFound's plain body: what a route the release did not have answered (paste's
# urlmap, Routes mapper) in Nova, Cinder and Neutron of the time.
NOT_FOUND = Answer(404, "404 Not Found\n\nThe resource could not be found.\n\n   ")
