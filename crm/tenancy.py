"""The one place that turns a URL's company reference into (company, membership, permissions)."""

from __future__ import annotations

from django.http import Http404

from crm.models import Membership
from crm.permissions import permissions_for


def resolve_membership(user, **company_lookup) -> Membership:
    """The caller's active membership of the company named by ``company_lookup``.

    Raises ``Http404`` when the company does not exist *or* the user is not a member, so the two
    cases are indistinguishable from outside.
    """
    if not user.is_authenticated:
        raise Http404
    lookup = {f"company__{key}": value for key, value in company_lookup.items()}
    try:
        return Membership.objects.select_related("company", "user").get(user=user, is_active=True, **lookup)
    except (Membership.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def bind_tenant(request, membership: Membership) -> None:
    request.membership = membership
    request.company = membership.company
    request.permissions = permissions_for(membership.role)
