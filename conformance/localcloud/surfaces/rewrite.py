"""Every URL of the real services, in bodies and headers, turned into the surface's own.

A client that follows a version document's link, a Location header, a 'next' link or a catalog URL
must land on the gateway again, never on the newer API behind it. ``UrlMap`` holds (upstream prefix,
surface prefix) pairs, the longest upstream prefix first, and replaces a prefix only at a URL
boundary (``http://127.0.0.1:8774`` does not match ``http://127.0.0.1:87745``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# the upstream service roots of the local cloud, by the gateway's path prefix
UPSTREAM = {
    "identity": "http://127.0.0.1:5000",
    "compute": "http://127.0.0.1:8774",
    "volume": "http://127.0.0.1:8776",
    "network": "http://127.0.0.1:9696",
    "image": "http://127.0.0.1:9292",
    "placement": "http://127.0.0.1:8778",
}


@dataclass(frozen=True)
class UrlMap:
    pairs: tuple[tuple[str, str], ...]

    @classmethod
    def build(cls, surface_root: str, upstream: dict[str, str], extra: tuple[tuple[str, str], ...] = ()) -> UrlMap:
        """``surface_root`` like ``http://127.0.0.1:15101``; each upstream root maps to root/<service>."""
        pairs = [(url.rstrip("/"), f"{surface_root.rstrip('/')}/{service}") for service, url in upstream.items()]
        pairs += list(extra)
        return cls(tuple(sorted(pairs, key=lambda p: len(p[0]), reverse=True)))

    def with_pairs(self, *pairs: tuple[str, str]) -> UrlMap:
        return UrlMap(tuple(sorted((*pairs, *self.pairs), key=lambda p: len(p[0]), reverse=True)))

    def url(self, text: str) -> str:
        for upstream, surface in self.pairs:
            if text.startswith(upstream):
                rest = text[len(upstream):]
                if not rest or rest[0] in "/?#" or upstream.endswith("/"):
                    return surface + rest
        return text

    def text(self, text: str) -> str:
        """URLs inside a longer string (an error message naming one)."""
        return _URL.sub(lambda m: self.url(m.group(0)), text)

    def json(self, value):
        """A copy of a decoded JSON document with every string URL rewritten (keys kept)."""
        if isinstance(value, str):
            return self.url(value) if value.startswith("http") else value
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        return value


_URL = re.compile(r"https?://[^\s\"'<>]+")

URL_HEADERS = ("location", "content-location")


def headers(url_map: UrlMap, items: dict[str, str]) -> dict[str, str]:
    return {k: url_map.url(v) if k.lower() in URL_HEADERS else v for k, v in items.items()}
