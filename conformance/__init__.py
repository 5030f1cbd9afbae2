"""cpi-conformance: a conformance and acceptance suite for BOSH CPIs and their clouds.

Kept import-free on purpose: the reference CPI (conformance.refcpi) is started once per
CPI call and must not pay for pytest or the suite's machinery.
"""

__version__ = "0.1.0"
