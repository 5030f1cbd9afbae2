"""A small fake of the openstacksdk surfaces the sweeper uses, with the cloud's rules that matter.

Method signatures mirror openstacksdk 4.22 (an unknown keyword fails as it would there). What the
real cloud does and the fake copies: Cinder refuses to delete a volume with snapshots or
attachments (400) and a member's force delete (403); Nova deletes the ports it created when the
server goes but only unbinds pre-created ones; detaching and deleting take a few polls.
Every call is logged in ``cloud.calls`` as ``(method, id, kwargs)``.
"""

from __future__ import annotations

from types import SimpleNamespace

from openstack import exceptions

STAMP = "2026-12-02T10:00:00Z"


class Res(SimpleNamespace):
    """A resource; ``script`` holds attribute updates applied one per read (``{"gone": True}`` removes it)."""

    def __init__(self, **attrs):
        attrs.setdefault("name", "")
        attrs.setdefault("created_at", STAMP)
        attrs.setdefault("script", [])
        super().__init__(**attrs)


def _id(ref) -> str:
    return ref if isinstance(ref, str) else ref.id


class FakeCloud:
    def __init__(self, project: str = "proj-1"):
        self.current_project_id = project
        self.store: dict[str, dict[str, Res]] = {k: {} for k in ("server", "port", "volume", "snapshot", "image", "ip")}
        self.calls: list[tuple[str, str | None, dict]] = []
        self.fail: dict[tuple[str, str], Exception] = {}  # (method, id) -> raised by that call
        self.compute, self.network = _Compute(self), _Network(self)
        self.block_storage, self.image = _BlockStorage(self), _Image(self)

    # -- building a scene -----------------------------------------------------------------
    def add(self, kind: str, rid: str, **attrs) -> Res:
        defaults = {"server": {"status": "ACTIVE", "image": {"id": "img-0"}, "addresses": {}},
                    "port": {"fixed_ips": [], "device_id": "", "device_owner": "", "network_id": "net-1",
                             "precreated": True},
                    "volume": {"status": "available", "size": 1, "attachments": []},
                    "snapshot": {"status": "available", "volume_id": None},
                    "image": {"status": "active", "owner": self.current_project_id, "disk_format": "qcow2",
                              "container_format": "bare"},
                    "ip": {"status": "DOWN", "description": ""}}[kind]
        res = Res(id=rid, **{**defaults, **attrs})
        self.store[kind][rid] = res
        return res

    def has(self, kind: str, rid: str) -> bool:
        return rid in self.store[kind]

    def called(self, method: str) -> list[str | None]:
        return [rid for name, rid, _ in self.calls if name == method]

    # -- the proxies' shared behaviour ----------------------------------------------------
    def log(self, method: str, rid: str | None, **kwargs) -> None:
        self.calls.append((method, rid, kwargs))
        if (method, rid) in self.fail:
            raise self.fail[(method, rid)]

    def get(self, kind: str, ref) -> Res:
        rid = _id(ref)
        self.log(f"get_{kind}", rid)
        res = self.store[kind].get(rid)
        if res is not None and res.script:
            step = res.script.pop(0)
            if step.get("gone"):
                self._gone(kind, res)
            else:
                vars(res).update(step)
        if rid not in self.store[kind]:
            raise exceptions.NotFoundException(message=f"No {kind} found for {rid}")
        return res

    def listing(self, kind: str, **query) -> list[Res]:
        self.log(f"list_{kind}", None, **query)
        return [r for r in list(self.store[kind].values()) if all(getattr(r, k, None) == v for k, v in query.items())]

    def _gone(self, kind: str, res: Res) -> None:
        self.store[kind].pop(res.id, None)
        if kind != "server":
            return
        for port in list(self.store["port"].values()):
            if port.device_id == res.id and port.precreated:  # Nova unbinds pre-created ports...
                port.device_id = ""
            elif port.device_id == res.id:  # ...and deletes the ones it created itself
                self.store["port"].pop(port.id)
        for volume in self.store["volume"].values():
            if any(a["server_id"] == res.id for a in volume.attachments):
                volume.attachments, volume.status = [], "available"


class _Compute:
    def __init__(self, cloud: FakeCloud):
        self.cloud = cloud

    def servers(self, details=True, all_projects=False, **query):
        return self.cloud.listing("server", **query)

    def get_server(self, server):
        return self.cloud.get("server", server)

    def delete_server(self, server, ignore_missing=True, force=False):
        self.cloud.log("delete_server", _id(server), ignore_missing=ignore_missing, force=force)
        if force:
            raise exceptions.ForbiddenException(message="Policy doesn't allow os_compute_api:os-deferred-delete:"
                                                "force to be performed.")
        res = self.cloud.store["server"].get(_id(server))
        if res is not None:
            res.script = [{"status": "ACTIVE", "task_state": "deleting"}, {"gone": True}]

    def delete_volume_attachment(self, server, volume, ignore_missing=True):
        self.cloud.log("delete_volume_attachment", _id(volume), server=_id(server), ignore_missing=ignore_missing)
        res = self.cloud.store["volume"][_id(volume)]
        left = [a for a in res.attachments if a["server_id"] != _id(server)]
        res.status = "detaching"
        res.script = [{"status": "detaching"}, {"status": "available" if not left else "in-use", "attachments": left}]


class _Network:
    def __init__(self, cloud: FakeCloud):
        self.cloud = cloud

    def ports(self, **query):
        return self.cloud.listing("port", **query)

    def get_port(self, port):
        return self.cloud.get("port", port)

    def delete_port(self, port, ignore_missing=True, if_revision=None):
        self.cloud.log("delete_port", _id(port), ignore_missing=ignore_missing)
        self.cloud.store["port"].pop(_id(port), None)

    def ips(self, **query):
        return self.cloud.listing("ip", **query)

    def get_ip(self, floating_ip):
        return self.cloud.get("ip", floating_ip)

    def delete_ip(self, floating_ip, ignore_missing=True, if_revision=None):
        self.cloud.log("delete_ip", _id(floating_ip), ignore_missing=ignore_missing)
        self.cloud.store["ip"].pop(_id(floating_ip), None)


class _BlockStorage:
    def __init__(self, cloud: FakeCloud):
        self.cloud = cloud

    def volumes(self, *, details=True, all_projects=False, **query):
        return self.cloud.listing("volume", **query)

    def get_volume(self, volume):
        return self.cloud.get("volume", volume)

    def delete_volume(self, volume, ignore_missing=True, *, force=False, cascade=False):
        self.cloud.log("delete_volume", _id(volume), ignore_missing=ignore_missing, force=force, cascade=cascade)
        if force:
            raise exceptions.ForbiddenException(message="Policy doesn't allow volume:force_delete to be performed.",
                                                http_status=403)
        res = self.cloud.store["volume"].get(_id(volume))
        if res is None:
            return
        if any(s.volume_id == res.id for s in self.cloud.store["snapshot"].values()):
            raise exceptions.BadRequestException(message="Invalid volume: Volume must not have snapshots.",
                                                 http_status=400)
        if res.attachments or res.status not in ("available", "error"):
            raise exceptions.BadRequestException(message="Invalid volume: Volume status must be available or error "
                                                 "or ..., but current status is: in-use.")
        res.status, res.script = "deleting", [{"status": "deleting"}, {"gone": True}]

    def snapshots(self, *, details=True, all_projects=False, **query):
        return self.cloud.listing("snapshot", **query)

    def get_snapshot(self, snapshot):
        return self.cloud.get("snapshot", snapshot)

    def delete_snapshot(self, snapshot, ignore_missing=True, force=False):
        self.cloud.log("delete_snapshot", _id(snapshot), ignore_missing=ignore_missing, force=force)
        res = self.cloud.store["snapshot"].get(_id(snapshot))
        if res is not None:
            res.status, res.script = "deleting", [{"gone": True}]


class _Image:
    def __init__(self, cloud: FakeCloud):
        self.cloud = cloud

    def images(self, **query):
        return self.cloud.listing("image", **query)

    def get_image(self, image):
        return self.cloud.get("image", image)

    def delete_image(self, image, *, store=None, ignore_missing=True):
        self.cloud.log("delete_image", _id(image), ignore_missing=ignore_missing)
        self.cloud.store["image"].pop(_id(image), None)
