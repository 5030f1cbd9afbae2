"""The toolbox every layer may use: errors, waits, cleanup and the ledger, JSON lines, names,
secrets and redaction, bounded YAML/JSON loading, facts of this host.

Imports nothing of conformance but itself, and neither pytest nor the profile (lint-imports).
"""
