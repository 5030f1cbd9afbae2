"""create_vm: validate everything first, then ports -> server -> ACTIVE -> floating IP; undo on failure.

Order and errors follow the official CPI: bad input (networks, image, flavor, key pair, security
groups) is a CloudError before anything exists; once the server exists, a failure is
VMCreationFailed (ok_to_retry true for the wait and the floating IP, as the official one). Whatever
failed, every port, server and floating-IP association this call made is removed before it answers.
"""

from __future__ import annotations

import base64
import logging
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
    server = call.conn.compute.create_server(**params)
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
    created.port_ids = sorted(set(created.port_ids) | set(ports.server_port_ids(call.conn, server_id)))
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


def create_vm(call, agent_id, stemcell_cid, cloud_properties, network_spec, disk_cids, env):
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
    server_name, created = f"vm-{uuid.uuid4()}", Created()
    try:
        macs = _create_ports(call, plan, server_name, group_ids, created)
        agent_nets = settings.agent_networks(network_spec, cfg.use_dhcp, macs)
        agent_settings = settings.agent_settings(
            server_name=server_name,
            agent_id=agent_id,
            networks=agent_nets,
            env=env,
            has_ephemeral=flavors.FlavorInfo.of(flavor).ephemeral > 0,
            agent=cfg.agent,
        )
        params = _server_params(
            call, server_name, image_id, flavor, key_name, group_names, zone, plan, created
        )
        params["user_data"] = base64.b64encode(settings.user_data(agent_settings).encode()).decode()
        params["metadata"] = {"agent_id": agent_id[:255]} | (
            {"registry_key": server_name} if cfg.get("human_readable_vm_names") else {}
        )
        params.update(extra_params(call, image_id, flavor, cloud_properties))
        server = _boot(call, params, created)
        server = _wait_active(call, server.id)
        created.fip_id = ports.associate_vip(conn, plan, network_spec, server)
    except Exception as exc:
        LOG.warning("create_vm failed, removing what it made: %s", exc)
        try:
            failure = _failure(call, exc, created, plan)
        except Exception as inner:  # classifying must never skip the undo
            LOG.warning("could not classify the failure: %s", inner)
            failure = (
                VMCreationFailed(f"{type(exc).__name__}: {exc}")
                if created.server_id
                else CloudError(str(exc))
            )
        problems = _undo(call, created)
        if problems:
            failure.message += "; cleanup problems: " + "; ".join(problems)
        raise failure from None
    LOG.info("Server %s is ACTIVE", server.id)
    return [server.id, agent_nets] if call.v2 else server.id


def _server_params(
    call, server_name, image_id, flavor, key_name, group_names, zone, plan, created
) -> dict[str, Any]:
    nets = [{"port": port_id} for port_id in created.port_ids]
    if plan.dynamic:
        nets.append({"uuid": plan.dynamic.net_id} if plan.dynamic.net_id else {})
    params: dict[str, Any] = {
        "name": server_name,
        "image_id": image_id,
        "flavor_id": flavor.id,
        "networks": [n for n in nets if n] or "auto",
        "config_drive": bool(call.config.config_drive),
    }
    if key_name:
        params["key_name"] = key_name
    if plan.dynamic and group_names:
        params["security_groups"] = [{"name": name} for name in group_names]
    if zone:
        params["availability_zone"] = zone
    return params
