"""The test stemcell shuts down cleanly on the ACPI power button, as Nova's soft reboot and
libvirt's shutdown need: the button's driver comes from our initramfs, udev's coldplug (limited to
disks, NICs and input) gives it its event device, and acpid powers the VM off.
A guest that ignores the button would cost every soft reboot Nova's whole shutdown timeout.
"""

from __future__ import annotations

import uuid

import paramiko
import pytest
import test_stemcell_boot as harness  # tests/component is on sys.path (pytest's rootdir-less import)

from conformance.core.waiting import wait_for
from conformance.stemcell import localboot

pytestmark = pytest.mark.component

root_img = harness.root_img  # the module-scoped fixture: builds or finds the stemcell, extracts root.img
POWEROFF_TIMEOUT = 300.0


def test_the_power_button_powers_the_guest_off(root_img, tmp_path):
    """After boot (SSH answers), the ACPI power button MUST power the guest off, qemu exiting."""
    key, agent_id = paramiko.RSAKey.generate(2048), str(uuid.uuid4())
    localboot.write_config_drive(tmp_path, "iso9660", agent_id, f"ssh-rsa {key.get_base64()} conformance-test")
    vm = localboot.LocalVM.start(tmp_path, root_img, "iso9660")
    try:
        client = vm.wait_for_ssh(key, timeout=harness.SSH_READY_TIMEOUT)
        wait_for(  # acpid starts beside sshd: the button is handled once it runs
            lambda: localboot.run(client, "sudo -n systemctl is-active acpid || true").strip(),
            ready=lambda state: state == "active",
            timeout=120,
            interval=1,
            what="acpid active in the guest",
        )
        client.close()

        vm.press_power_button()

        status = wait_for(
            vm.process.poll,
            ready=lambda code: code is not None,
            timeout=POWEROFF_TIMEOUT,
            interval=1,
            what="qemu to exit after the power button (the guest powering off)",
        )
        assert status == 0, f"qemu exit status {status}"
    finally:
        console = vm.stop()
        print("\n".join(console.splitlines()[-15:]))
