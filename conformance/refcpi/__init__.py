"""The reference OpenStack CPI: ``conformance-openstack-cpi <cpi.json> [<cacert.pem>]``.

A BOSH CPI on openstacksdk that takes the official OpenStack CPI's cpi.json and behaves as it does
(see ../shared/notes/cpi-protocol.md), so that a cloud can be certified without Ruby or a Director
and the suite has a CPI to prove itself on. It imports only openstacksdk, the standard library and
conformance.cpi.protocol; openstack itself only when a method needs the cloud.

Modules: main (process, envelope), dispatch (method table, per-call context), config (cpi.json +
context merge), connection (openstacksdk Connection, SDK errors), logs (scrubbed capture), waits
(bounded polling), stemcells, vm_create / vm_params / ports / networks / settings (create_vm),
vms, disks, flavors (pure choices), resources (lookups), errors (wire error types).

Deliberate differences from the official CPI, each compatible with what a Director expects:
- missing VM / disk in reboot_vm, set_vm_metadata, attach_disk, get_disks, set_disk_metadata,
  snapshot_disk, resize_disk: VMNotFound / DiskNotFound (subclasses of CloudError in the Ruby
  tree) instead of a bare CloudError with the same message;
- calculate_vm_cloud_properties without a fitting flavor: CloudError, not ``Unknown``;
- get_disks is implemented (server volume attachments); ping answers NotImplemented instead of an
  ``Unknown`` error carrying the Keystone password;
- no registry: the full agent settings always go into user_data (CPI API v2 behaviour);
- server metadata always carries ``agent_id`` (and ``registry_key`` with human_readable_vm_names).
"""
