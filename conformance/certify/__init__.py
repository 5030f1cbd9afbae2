"""Certification an operator can hand over: the conformance catalogue (catalogue.py), versioned
certification levels and their judgement (level.py), signed result bundles (bundle.py, signing.py).

Below the report (which names a run's level) and beside the profile: it reads the suites' source
as data (never imports them), results.json documents as plain dicts, and shells out only to
ssh-keygen; the command line binds it to the rest (conformance/commands/bundle.py, report.py).
"""
