"""A conformance run under pytest: the plugin (``pytest11`` entry point ``conformance.run.plugin``),
the run's state and fixtures, the lab the suites act through, the run's end (results.json), and the
runner preflight.

The only layer that knows pytest and the profile together: it binds the profile's values to the
plain libraries below it (cpi, cloud, guest, report, stemcell). Only the suites and the command
line import it (lint-imports).
"""
