"""Release API surfaces: Liberty, Mitaka and Newton's APIs emulated in front of the local cloud (Zed).

One gateway process per release (``python -m conformance.localcloud.surfaces --release liberty``)
listens on a loopback port of its own and serves, under path prefixes like a devstack of the time
(``/identity``, ``/compute``, ``/volume``, ``/network``, ``/image``, ``/placement``), the API surface
that release had: its version documents and maximum microversions, its catalog's service types,
Keystone v2.0 tokens, Cinder v2 paths, and the refusals it made. Every other request goes through
to the real Zed service, and every URL in an answer is rewritten to the gateway's own endpoint.

- ``release_apis``: the figures per release, each with its source;
- ``microversions``, ``identity``, ``documents``, ``routes``, ``rewrite``: the rules, pure functions
  over requests and answers (tested in tests/unit/test_surface_*.py);
- ``gateway``: the aiohttp reverse proxy that applies them; ``wiring``: the daemons, the bring-up
  step, the health check, the clouds.yaml entries and CPI configs of the local cloud.

What a surface proves and what it cannot: docs/surfaces.md.
"""

#: On every answer of a gateway: what the endpoint really is (read by conformance.cloud.surface).
SURFACE_HEADER = "X-Cfm-Surface"
