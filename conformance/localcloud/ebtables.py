"""A guard in front of ebtables-nft for the Neutron linuxbridge agent.

On this kernel only the nf_tables ebtables works (no legacy 'filter' table), and ebtables-nft 1.8.9
cannot delete a rule that carries ``--among-src``: ``-D chain -i tapX --among-src MAC -j RETURN``
always fails with exit 4 (RULE_DELETE: Invalid argument). The linuxbridge agent deletes exactly
such rules whenever it re-plugs a known port (a hard reboot does), and it retries that command
forever (tenacity, no stop), so the agent hangs and no new VM gets its network ("Failed to
allocate the network(s)"). Seen here after a reboot_vm that Nova turned into a hard reboot.

The guard, installed as /usr/local/sbin/ebtables (first on the agents' PATH and sudo's
secure_path), turns such a delete into what the agent means by it: the per-port MAC chain loses
its --among-src rules, keeping its final DROP (flush, then append DROP again). Every other command
goes to ebtables-nft unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

GUARD = Path("/usr/local/sbin/ebtables")
REAL = "/usr/sbin/ebtables-nft"

SCRIPT = f"""#!/bin/sh
# Installed by `conformance local-cloud up` (conformance/localcloud/ebtables.py): ebtables-nft cannot
# delete --among-src rules; the Neutron linuxbridge agent would retry such a delete forever.
REAL={REAL}
case " $* " in
  *" -D "*" --among-src "*)
    table=filter; chain=
    while [ $# -gt 0 ]; do
      case "$1" in
        -t) table=$2; shift ;;
        -D) chain=$2; shift ;;
      esac
      shift
    done
    "$REAL" -t "$table" --concurrent -F "$chain" && exec "$REAL" -t "$table" --concurrent -A "$chain" -j DROP
    ;;
esac
exec "$REAL" "$@"
"""


def ensure() -> bool:
    """Install or refresh the guard; True when it changed."""
    if GUARD.exists() and GUARD.read_text() == SCRIPT:
        return False
    GUARD.parent.mkdir(parents=True, exist_ok=True)
    tmp = GUARD.with_suffix(".tmp")
    tmp.write_text(SCRIPT)
    os.chmod(tmp, 0o755)
    tmp.replace(GUARD)
    return True


def remove() -> None:
    if GUARD.exists() and "conformance local-cloud" in GUARD.read_text():
        GUARD.unlink()
