"""What each role may do inside its company.

Views declare the permission they need (``@tenant_view("leads.change")``); the tenant middleware
checks it once, and templates read the same precomputed set from ``request.permissions``.
"""

from __future__ import annotations

from collections.abc import Callable

from crm.models import Role

SDR_PERMISSIONS = frozenset(
    {
        "dashboard.view",
        "members.view",
        "leads.view",
        "leads.add",
        "leads.change",
        "leads.comment",
        "leads.claim",
        "leads.delete",
        "leads.bulk",
        "leads.qualify",
        "leads.convert",
        "activity.view",
        "accounts.view",
        "accounts.add",
        "accounts.change",
        "pipeline.view",
        "nurturing.view",
        "nurturing.enrol",
    }
)
MANAGER_PERMISSIONS = SDR_PERMISSIONS | {
    "leads.assign",
    "leads.restore",
    "leads.merge",
    "leads.import",
    "leads.export",
    "stats.view",
    "leads.convert_override",
    "accounts.delete",
    "accounts.export",
    "nurturing.manage",
}
ADMIN_PERMISSIONS = MANAGER_PERMISSIONS | {
    "company.manage",
    "statuses.manage",
    "fields.manage",
    "rules.manage",
    "stages.manage",
    "qualification.manage",
}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.SDR: SDR_PERMISSIONS,
    Role.MANAGER: frozenset(MANAGER_PERMISSIONS),
    Role.ADMIN: frozenset(ADMIN_PERMISSIONS),
}
ALL_PERMISSIONS = frozenset(ADMIN_PERMISSIONS)


def permissions_for(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role, frozenset())


def tenant_view(permission: str) -> Callable:
    """Mark a view as tenant-scoped and name the permission it requires (403 without it)."""
    if permission not in ALL_PERMISSIONS:
        raise ValueError(f"Unknown permission {permission!r}.")

    def decorate(view):
        view.crm_permission = permission
        return view

    return decorate
