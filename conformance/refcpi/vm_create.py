"""create_vm: validate everything first, then ports -> server -> ACTIVE -> floating IP; undo on failure.

Order and errors follow the official CPI: bad input (networks, image, flavor, key pair, security
groups) is a CloudError before anything exists; once the server exists, a failure is
VMCreationFailed (ok_to_retry true for the wait and the floating IP, as the official one). Whatever
failed, every port, server and floating-IP association this call made is removed before it answers.
"""

from __future__ import annotations

import base64
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from conformance.refcpi import flavors, networks, ports, resources, settings, stemcells
from conformance.refcpi.errors import CloudError, CpiFailure, VMCreationFailed
from conformance.refcpi.vm_params import availability_zone, extra_params, pick_flavor, security_group_names

LOG = logging.getLogger("conformance.refcpi.vm_create")


@dataclass
class Created:
    """What this call has made so far, in creation order: the undo list."""

    port_ids: list[str] = field(default_factory=list)
    server_id: str | None = None
    fip_id: str | None = None


def _check_arguments(agent_id: Any, stemcell_cid: Any, cloud_properties: Any, disk_cids: Any) -> None:
    if not isinstance(agent_id, str) or not isinstance(stemcell_cid, str):
        raise CloudError("create_vm: agent_id and stemcell_cid must be strings")
    if not isinstance(cloud_properties, dict):
        raise CloudError("create_vm: cloud_properties must be an object")
    if disk_cids is not None and not isinstance(disk_cids, list):
        raise CloudError("create_vm: disk_cids must be a list")


def _image_id(conn: Any, stemcell_cid: str) -> str:
    wanted = stemcells.image_id(stemcell_cid)
    image = resources.or_none(conn.image.get_image, wanted)
    if image is None:
        raise CloudError(f"Image `{wanted}' could not be found")
    return image.id


def _key_name(conn: Any, cloud_properties: dict[str, Any], default: str | None) -> str | None:
    name = cloud_properties.get("key_name") or default
    if name and conn.compute.find_keypair(name, ignore_missing=True) is None:
        raise CloudError(f"Key-pair `{name}' not found")
    return name


def _create_ports(
    call: Any, plan: networks.NetworkPlan, server_name: str, group_ids: list[str], created: Created
):
    macs = {}
    for nic in plan.manual:
        port = ports.create_port(call.conn, nic, server_name, group_ids)
        created.port_ids.append(port.id)
        macs[nic.name] = port.mac_address
    return macs


def _boot(call: Any, params: dict[str, Any], created: Created) -> Any:
    try:
        server = call.conn.compute.create_server(**params)
    except Exception:  # the request may have reached Nova (a lost answer): find what it made
        try:
            made = [s.id for s in call.conn.compute.servers(name=f"^{re.escape(params['name'])}$")]
        except Exception as exc:
            LOG.warning("could not look for a server made by the failed create: %s", type(exc).__name__)
            made = []
        if made:
            LOG.warning("create_server failed but made server %s: it will be removed", made[0])
            created.server_id = made[0]
        raise
    created.server_id = server.id
    LOG.info("Creating new server `%s' (%s)", server.id, params["name"])
    return server


def _wait_active(call: Any, server_id: str) -> Any:
    return call.wait(
        lambda: resources.server(call.conn, server_id),
        what=f"server {server_id} to be ACTIVE",
        ready=lambda srv: srv is not None and srv.status == "ACTIVE",
        failed=resources.server_fault,
        describe=resources.describe_server,
    )


def _undo(call: Any, created: Created) -> list[str]:
    """Remove what this call made (LIFO); gather problems rather than stop at the first."""
    problems: list[str] = []
    steps = [
        ("floating IP association", lambda: ports.disassociate(call.conn, created.fip_id)),
        ("server", lambda: _delete_server(call, created)),
        ("ports", lambda: problems.extend(ports.delete_ports(call, created.port_ids))),
    ]
    for what, step in steps:
        try:
            resources.retrying(call, f"undo {what}", step)
        except Exception as exc:  # every step runs; the problems go into the answer
            problems.append(f"{what}: {type(exc).__name__}: {exc}")
    return problems


def _delete_server(call: Any, created: Created) -> None:
    server_id = created.server_id
    if server_id is None:
        return
    try:
        created.port_ids = sorted(set(created.port_ids) | set(ports.server_port_ids(call.conn, server_id)))
    except Exception as exc:  # the server must go whatever; our own ports are in created.port_ids
        LOG.warning("could not list the ports of server %s: %s", server_id, type(exc).__name__)
    call.conn.compute.delete_server(server_id, ignore_missing=True)
    resources.wait_server_gone(call, server_id)
    LOG.info("Server %s removed after the failed create_vm", server_id)


def _missing_net_ids(conn: Any, plan: networks.NetworkPlan) -> list[str]:
    return [
        n.net_id
        for n in plan.nics
        if n.net_id and resources.or_none(conn.network.get_network, n.net_id) is None
    ]


def _failure(call: Any, exc: Exception, created: Created, plan: networks.NetworkPlan) -> CpiFailure:
    """The typed answer for a failure at any step (the official CPI's choices)."""
    missing = _missing_net_ids(call.conn, plan) if not isinstance(exc, CpiFailure) else []
    if missing:
        return VMCreationFailed(
            f"VM creation failed. Following network IDs are not existing or not accessible from this project: "
            f"'{','.join(missing)}'. Make sure you do not use subnet IDs"
        )
    if isinstance(exc, CpiFailure):
        if created.server_id and type(exc) is not VMCreationFailed:
            return VMCreationFailed(exc.message, ok_to_retry=True)
        return exc
    from conformance.refcpi.connection import translate

    failure = translate(exc) or CloudError(f"{type(exc).__name__}: {exc}")
    return (
        VMCreationFailed(failure.message, ok_to_retry=failure.ok_to_retry) if created.server_id else failure
    )


@dataclass(frozen=True)
class VmSpec:
    """Everything create_vm decided before touching the cloud: checked, nothing created yet."""

    agent_id: str
    server_name: str
    network_spec: dict[str, Any]
    plan: networks.NetworkPlan
    image_id: str
    flavor: Any
    key_name: str | None
    group_names: list[str]
    group_ids: list[str]
    zone: str | None
    cloud_properties: dict[str, Any]
    env: Any


def _prepare(call, agent_id, stemcell_cid, cloud_properties, network_spec, disk_cids, env) -> VmSpec:
    """Validate and resolve every input; a problem here is a CloudError with nothing to undo."""
    _check_arguments(agent_id, stemcell_cid, cloud_properties, disk_cids)
    cfg, conn = call.config, call.conn
    plan = networks.plan(network_spec, use_dhcp=cfg.use_dhcp, config_drive=cfg.config_drive)
    image_id = _image_id(conn, stemcell_cid)
    flavor = pick_flavor(conn, cloud_properties, bool(cfg.get("boot_from_volume")))
    flavors.check_ephemeral(flavors.FlavorInfo.of(flavor))
    key_name = _key_name(conn, cloud_properties, cfg.get("default_key_name"))
    group_names = security_group_names(plan, cloud_properties, cfg.get("default_security_groups", []))
    group_ids = ports.resolve_security_groups(conn, group_names)
    zone = availability_zone(call, cloud_properties, disk_cids or [])
    return VmSpec(
        agent_id, f"vm-{uuid.uuid4()}", network_spec, plan, image_id, flavor, key_name, group_names,
        group_ids, zone, cloud_properties, env,
    )  # fmt: skip


def _user_data(call: Any, spec: VmSpec, agent_nets: dict[str, Any]) -> str:
    agent_settings = settings.agent_settings(
        server_name=spec.server_name,
        agent_id=spec.agent_id,
        networks=agent_nets,
        env=spec.env,
        has_ephemeral=flavors.FlavorInfo.of(spec.flavor).ephemeral > 0,
        agent=call.config.agent,
    )
    return base64.b64encode(settings.user_data(agent_settings).encode()).decode()


def _build(call: Any, spec: VmSpec, created: Created) -> dict[str, Any]:
    """Ports, server, ACTIVE, floating IP; records each creation in ``created``. The agent networks."""
    macs = _create_ports(call, spec.plan, spec.server_name, spec.group_ids, created)
    agent_nets = settings.agent_networks(spec.network_spec, call.config.use_dhcp, macs)
    params = _server_params(call, spec, created)
    params["user_data"] = _user_data(call, spec, agent_nets)
    readable = call.config.get("human_readable_vm_names")
    params["metadata"] = {"agent_id": spec.agent_id[:255]} | (
        {"registry_key": spec.server_name} if readable else {}
    )
    params.update(extra_params(call, spec.image_id, spec.flavor, spec.cloud_properties))
    server_id = _boot(call, params, created).id
    ports.claim_ports(call.conn, created.port_ids, server_id)
    server = _wait_active(call, server_id)
    created.fip_id = ports.associate_vip(call.conn, spec.plan, spec.network_spec, server)
    return agent_nets


def _fail(call: Any, exc: Exception, spec: VmSpec, created: Created) -> CpiFailure:
    """Classify, then undo everything; the answer carries any cleanup problem too."""
    LOG.warning("create_vm failed, removing what it made: %s", exc)
    try:
        failure = _failure(call, exc, created, spec.plan)
    except Exception as inner:  # classifying must never skip the undo
        LOG.warning("could not classify the failure: %s", inner)
        failure = (
            VMCreationFailed(f"{type(exc).__name__}: {exc}") if created.server_id else CloudError(str(exc))
        )
    problems = _undo(call, created)
    if problems:
        failure.message += "; cleanup problems: " + "; ".join(problems)
        failure.ok_to_retry = False  # a retry would meet what was left (the same fixed IPs, ...)
    return failure


def create_vm(call, agent_id, stemcell_cid, cloud_properties, network_spec, disk_cids, env):
    spec = _prepare(call, agent_id, stemcell_cid, cloud_properties, network_spec, disk_cids, env)
    created = Created()
    try:
        agent_nets = _build(call, spec, created)
    except Exception as exc:
        raise _fail(call, exc, spec, created) from None
    LOG.info("Server %s is ACTIVE", created.server_id)
    return [created.server_id, agent_nets] if call.v2 else created.server_id


def _server_params(call: Any, spec: VmSpec, created: Created) -> dict[str, Any]:
    nets = [{"port": port_id} for port_id in created.port_ids]
    dynamic = spec.plan.dynamic
    if dynamic and dynamic.net_id:
        nets.append({"uuid": dynamic.net_id})
    params: dict[str, Any] = {
        "name": spec.server_name,
        "image_id": spec.image_id,
        "flavor_id": spec.flavor.id,
        "networks": nets or "auto",
        "config_drive": bool(call.config.config_drive),
    }
    if spec.key_name:
        params["key_name"] = spec.key_name
    if dynamic and spec.group_names:  # pre-created ports carry their groups already
        params["security_groups"] = [{"name": name} for name in spec.group_names]
    if spec.zone:
        params["availability_zone"] = spec.zone
    return params
