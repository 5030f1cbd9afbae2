"""Boot phase figures of the test stemcell under qemu TCG (scripts/bench-stemcell-boot).

Each boot is a fresh overlay of root.img with a config drive (localboot.py, as the component tests
boot it). Seconds from qemu's start, on the host's clock:

    kernel       the kernel starts: host time of an SSH command minus the guest's /proc/uptime
    userspace    systemd starts in the real root (kernel + UserspaceTimestampMonotonic)
    agent done   conformance-agent.service active (config drive read, NICs configured)
    sshd ready   ssh.service active (sshd listening)
    banner       sshd's banner arrives through the forwarded port (a connection every 0.1 s)
    ssh ok       the first SSH command as vcap has answered, on that same connection
    finished     systemd's "Startup finished" (FinishTimestampMonotonic)

Not a test: figures with the machine's load, medians over N boots.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import paramiko

from conformance.stemcell import localboot, tarball

PHASES = ("kernel", "userspace", "agent done", "sshd ready", "banner", "ssh ok", "finished")
PROBE = (
    "cat /proc/uptime; sudo -n systemctl is-system-running --wait >/dev/null 2>&1;"
    " sudo -n systemctl show -p UserspaceTimestampMonotonic -p FinishTimestampMonotonic;"
    " for u in conformance-agent ssh; do"
    " echo \"$u=$(sudo -n systemctl show -p ActiveEnterTimestampMonotonic --value $u)\"; done"
)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def one_boot(root_img: Path, fmt: str, work: Path, timeout: float, details: bool) -> dict[str, float]:
    key = paramiko.Ed25519Key(filename=str(_key(work)))
    localboot.write_config_drive(work, fmt, str(uuid.uuid4()), f"{key.get_name()} {key.get_base64()} bench")
    vm = localboot.LocalVM.start(work, root_img, fmt)
    t0, marks = vm.started, {}
    try:
        deadline = t0 + timeout
        while (sock := vm.ssh_banner()) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no SSH banner after {timeout:g}s")
            time.sleep(0.1)
        marks["banner"] = time.monotonic() - t0
        try:  # on the connection that saw the banner, as a client's first connection goes
            client = vm.connect(key, sock=sock)
        except (paramiko.SSHException, OSError, EOFError):
            client = vm.wait_for_ssh(key, timeout=timeout, interval=0.2)
        before = time.monotonic()
        uptime = float(localboot.run(client, "cat /proc/uptime").split()[0])
        after = time.monotonic()
        marks["ssh ok"] = after - t0
        kernel = (before + after) / 2 - uptime - t0
        marks["kernel"] = kernel
        out = localboot.run(client, PROBE, timeout=timeout).split("\n")
        props = dict(line.split("=", 1) for line in out if "=" in line)
        marks["userspace"] = kernel + int(props["UserspaceTimestampMonotonic"]) / 1e6
        marks["finished"] = kernel + int(props["FinishTimestampMonotonic"]) / 1e6
        marks["agent done"] = kernel + int(props["conformance-agent"]) / 1e6
        marks["sshd ready"] = kernel + int(props["ssh"]) / 1e6
        if details:
            for command in ("sudo -n systemd-analyze", "sudo -n systemd-analyze blame | head -25",
                            "sudo -n systemd-analyze critical-chain", "cat /var/log/conformance-agent.log", "sudo -n dmesg"):
                print(f"--- {command}\n{localboot.run(client, command, timeout=120).rstrip()}", flush=True)
        client.close()
    finally:
        vm.stop()
        stamped = "".join(f"{t - t0:8.2f} {line}\n" for t, line in vm.console.lines)
        (work / "console.stamped.log").write_text(stamped)
        if details:
            print(f"--- console, seconds after qemu's start\n{stamped}", flush=True)
    return marks


def _key(work: Path) -> Path:
    """A fresh client key (paramiko cannot generate ed25519 keys; ssh-keygen can)."""
    path = work / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def _exit_on_term(signum, frame):
    raise SystemExit(128 + signum)  # so that each boot's qemu is killed on the way out


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_term)
    parser = argparse.ArgumentParser(prog="bench-stemcell-boot", description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--boots", type=int, default=3)
    parser.add_argument("--config-drive", choices=("iso9660", "vfat"), default="iso9660")
    parser.add_argument("--stemcell", type=Path, help="a stemcell tarball (default: build or take the cached one)")
    parser.add_argument("--image", type=Path, help="a root.img (qcow2) to boot instead of a stemcell's")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--details", action="store_true", help="print systemd-analyze blame/critical-chain per boot")
    args = parser.parse_args(argv)
    stemcell = args.stemcell
    if stemcell is None and args.image is None:
        from conformance.stemcell.build import ensure_stemcell

        stemcell = ensure_stemcell(progress=lambda line: print(line, file=sys.stderr, flush=True))
    with tempfile.TemporaryDirectory(prefix="bench-stemcell-") as tmp:
        if args.image:
            root_img, name = args.image.resolve(), f"image {args.image}"
        else:
            root_img = tarball.extract_root_image(tarball.extract_image(stemcell, tmp), tmp)
            name = f"stemcell {stemcell.name}"
        print(f"{name}, {args.config_drive} config drive, {args.boots} boots, "
              f"qemu TCG 1 vCPU 512 MiB; {os.cpu_count()} host cores", flush=True)
        print("boot  " + "  ".join(f"{p:>10}" for p in PHASES) + "   load before -> after", flush=True)
        rows = []
        for i in range(args.boots):
            work = Path(tmp) / f"boot-{i}"
            work.mkdir()
            before = load()
            marks = one_boot(root_img, args.config_drive, work, args.timeout, args.details)
            rows.append(marks)
            print(f"{i + 1:>4}  " + "  ".join(f"{marks[p]:>10.1f}" for p in PHASES)
                  + f"   {before} -> {load()}", flush=True)
        print("median" + "  ".join(f"{statistics.median(r[p] for r in rows):>10.1f}" for p in PHASES), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
