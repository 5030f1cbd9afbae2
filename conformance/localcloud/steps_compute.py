"""Bring-up steps for the data plane: libvirt + nova-compute (qemu TCG) and Neutron linuxbridge."""

from __future__ import annotations

from pathlib import Path

from conformance.core.errors import ConformanceError
from conformance.core.waiting import wait_for
from conformance.localcloud import configs, daemons, ebtables, ini, services
from conformance.localcloud.config import LIBVIRT_READY_TIMEOUT, POLL, SERVICE_UP_TIMEOUT
from conformance.localcloud.context import Context, StepFailed
from conformance.localcloud.steps_control import register, uwsgi_ini, with_stderr_logging
from conformance.localcloud.steps_infra import empty_databases, ensure_dirs

VIRSH = ["virsh", "-c", "qemu:///system"]
RPC_QUEUES = ("q-plugin", "q-l3-plugin", "q-reports-plugin")
NEUTRON_AGENTS = ("Linux bridge agent", "DHCP agent", "L3 agent", "Metadata agent")


def step_compute(ctx: Context) -> str:
    ini.edit_flat(Path("/etc/libvirt/libvirtd.conf"), configs.LIBVIRTD)
    notes = ctx.ensure_all((services.VIRTLOGD, services.LIBVIRTD))
    wait_for(lambda: ctx.runner.ok([*VIRSH, "version"]), timeout=LIBVIRT_READY_TIMEOUT, interval=POLL,
             what="libvirtd to answer on qemu:///system")  # fmt: skip
    notes += ctx.ensure_all((services.NOVA_COMPUTE,))
    wait_service_up(ctx, "nova-compute", services.NOVA_COMPUTE)
    sql = "SELECT COUNT(*) FROM nova_api.host_mappings;"
    if ctx.runner.run(["mysql", "-u", "root", "-N", "-B", "-e", sql]).stdout.strip() == "0":
        ctx.runner.run(["nova-manage", "cell_v2", "discover_hosts", "--verbose"], user="nova")
        notes.append("host discovered")
    return ", ".join(notes) or "running"


def wait_service_up(ctx: Context, binary: str, daemon) -> None:
    """Wait until Nova's or Cinder's service list shows ``binary`` up and enabled."""
    conn = ctx.admin()
    proxy = conn.compute if binary.startswith("nova") else conn.block_storage

    def probe():
        return [s for s in proxy.services() if s.binary == binary]

    try:
        wait_for(
            probe, ready=lambda ss: any(s.state == "up" and s.status == "enabled" for s in ss),
            describe=lambda ss: ", ".join(f"{s.host}:{s.state}/{s.status}" for s in ss) or "not registered",
            failed=lambda _: daemons.exited_early(ctx.layout, daemon),
            timeout=SERVICE_UP_TIMEOUT, interval=POLL * 3, what=f"{binary} to report up",
        )  # fmt: skip
    except ConformanceError as exc:  # the failure report shows the daemon's own log
        raise StepFailed(str(exc), ctx.layout.log(daemon.name)) from exc


NEUTRON_SERVER = (services.NEUTRON_API, services.NEUTRON_RPC)
NEUTRON_AGENT_DAEMONS = (services.NEUTRON_LB, services.NEUTRON_DHCP, services.NEUTRON_L3, services.NEUTRON_METADATA)


def configure_neutron(ctx: Context) -> None:
    neutron = with_stderr_logging(configs.neutron(ctx.pw))
    neutron["DEFAULT"]["interface_driver"] = "linuxbridge"
    ctx.configure("/etc/neutron/neutron.conf", neutron)
    ctx.configure("/etc/neutron/plugins/ml2/ml2_conf.ini", configs.ml2())
    ctx.configure("/etc/neutron/plugins/ml2/linuxbridge_agent.ini", configs.linuxbridge_agent())
    ctx.configure("/etc/neutron/l3_agent.ini", configs.l3_agent())
    ctx.configure("/etc/neutron/dhcp_agent.ini", configs.dhcp_agent())
    ctx.configure("/etc/neutron/metadata_agent.ini", configs.metadata_agent(ctx.pw))
    uwsgi_ini(ctx, "/etc/neutron/neutron-api-uwsgi.ini")


def step_neutron(ctx: Context) -> str:
    configure_neutron(ctx)
    ensure_dirs("neutron", "/var/lib/neutron/lock", "/var/lib/neutron/tmp")
    if "neutron" in empty_databases(ctx):
        ctx.runner.run(["neutron-db-manage", "--config-file", "/etc/neutron/neutron.conf", "--config-file",
                        "/etc/neutron/plugins/ml2/ml2_conf.ini", "upgrade", "head"], user="neutron")  # fmt: skip
    notes = register(ctx, "network")
    if ebtables.ensure():  # before the agents start: they must never see the unguarded ebtables-nft
        notes.append(f"ebtables guard installed at {ebtables.GUARD}")
    notes += ctx.ensure_all(NEUTRON_SERVER)
    if not all(daemons.running(ctx.layout, d) for d in NEUTRON_AGENT_DAEMONS):
        wait_rpc_consumers(ctx)
    notes += ctx.ensure_all(NEUTRON_AGENT_DAEMONS)
    wait_agents_alive(ctx)
    return ", ".join(notes)


def rpc_consumers(ctx: Context) -> dict[str, int]:
    out = ctx.runner.run(["rabbitmqctl", "-q", "list_queues", "name", "consumers"], check=False).stdout
    pairs = (line.split("\t") for line in out.splitlines() if "\t" in line)
    return {name: int(count) for name, count in pairs if count.isdigit()}


def wait_rpc_consumers(ctx: Context) -> None:
    """Agents started before the RPC server consumes lose their first call (a 60 s MessagingTimeout,
    pitfall 9): wait until the server's queues have consumers, then start the agents."""
    wait_for(lambda: rpc_consumers(ctx), ready=lambda q: all(q.get(n, 0) > 0 for n in RPC_QUEUES),
             describe=lambda q: ", ".join(f"{n}={q.get(n, 0)}" for n in RPC_QUEUES),
             timeout=SERVICE_UP_TIMEOUT, interval=POLL * 2, what="neutron-rpc-server to consume its queues")  # fmt: skip


def wait_agents_alive(ctx: Context) -> None:
    conn = ctx.admin()

    def describe(agents) -> str:
        return ", ".join(f"{a.agent_type}:{'up' if a.is_alive else 'down'}" for a in agents) or "none"

    def ready(agents) -> bool:
        alive = {a.agent_type for a in agents if a.is_alive}
        return all(t in alive for t in NEUTRON_AGENTS)

    def failed(_):
        dead = [d.name for d in NEUTRON_AGENT_DAEMONS if not daemons.running(ctx.layout, d)]
        return dead and f"agent daemons exited: {dead}"

    try:
        wait_for(lambda: list(conn.network.agents()), ready=ready, describe=describe, failed=failed,
                 timeout=SERVICE_UP_TIMEOUT, interval=POLL * 3, what="neutron agents to be alive")  # fmt: skip
    except ConformanceError as exc:  # the failure report shows the linuxbridge agent's log
        raise StepFailed(str(exc), ctx.layout.log(services.NEUTRON_LB.name)) from exc
