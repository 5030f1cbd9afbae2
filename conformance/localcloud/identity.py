"""Keystone objects found by name and created only when missing (openstacksdk, admin connection).

Service users get roles `admin` and `service` in project `service`: the service role is what lets
Nova's service token through Cinder's CVE-2023-2088 check (pitfall 3).
"""

from __future__ import annotations

from conformance.localcloud.config import API_TIMEOUT, KEYSTONE_URL, REGION

INTERFACES = ("public", "internal", "admin")


def ensure_project(conn, name: str, description: str = "") -> object:
    project = conn.identity.find_project(name, domain_id="default")
    return project or conn.identity.create_project(name=name, domain_id="default", description=description)


def ensure_role(conn, name: str) -> object:
    return conn.identity.find_role(name) or conn.identity.create_role(name=name)


def password_works(user: str, password: str, project: str) -> bool:
    from keystoneauth1 import exceptions, session
    from keystoneauth1.identity import v3

    auth = v3.Password(auth_url=KEYSTONE_URL, username=user, password=password, project_name=project,
                       user_domain_name="Default", project_domain_name="Default")  # fmt: skip
    try:
        session.Session(auth=auth, timeout=API_TIMEOUT).get_token()
        return True
    except exceptions.Unauthorized:
        return False


def ensure_user(conn, name: str, password: str, project: str) -> tuple[object, str]:
    """Create the user with ``password`` when missing (``fix_password`` repairs an existing one)."""
    user = conn.identity.find_user(name, domain_id="default")
    if user is None:
        return conn.identity.create_user(name=name, password=password, domain_id="default"), "created"
    return user, "present"


def ensure_roles(conn, user, project, roles: list[str]) -> list[str]:
    """Grant ``roles`` on ``project``; returns the ones it added."""
    have = {a.role["id"] for a in conn.identity.role_assignments(user_id=user.id, scope_project_id=project.id)}
    added = []
    for name in roles:
        role = ensure_role(conn, name)
        if role.id not in have:
            conn.identity.assign_project_role_to_user(project, user, role)
            added.append(name)
    return added


def fix_password(conn, user, name: str, password: str, project: str) -> bool:
    if password_works(name, password, project):
        return False
    conn.identity.update_user(user, password=password)
    return True


def ensure_catalog_entry(conn, service_type: str, name: str, url: str) -> bool:
    """One service of ``service_type`` with public/internal/admin endpoints at ``url``."""
    services = [s for s in conn.identity.services() if s.type == service_type]
    service = services[0] if services else conn.identity.create_service(name=name, type=service_type)
    have = {(e.interface, e.url) for e in conn.identity.endpoints(service_id=service.id)}
    created = False
    for interface in INTERFACES:
        if (interface, url) not in have:
            conn.identity.create_endpoint(service_id=service.id, interface=interface, url=url, region_id=REGION)
            created = True
    return created or not services


def ensure_service_user(conn, name: str, password: str) -> str:
    """User ``name`` in project service with roles admin + service, password verified."""
    project = ensure_project(conn, "service", "OpenStack service users")
    user, state = ensure_user(conn, name, password, "service")
    added = ensure_roles(conn, user, project, ["admin", "service"])
    if fix_password(conn, user, name, password, "service"):
        state = "password reset"
    return f"{name}: {state}" + (f", roles {added}" if added else "")
