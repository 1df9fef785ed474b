from crm.queries import active_memberships_of


def tenant(request):
    """The current company, the caller's permissions and the companies for the switcher."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "company": getattr(request, "company", None),
        "membership": getattr(request, "membership", None),
        "perms_crm": getattr(request, "permissions", frozenset()),
        "switcher_memberships": active_memberships_of(user),
        "unread_notifications": _unread(request),
    }


def _unread(request) -> int:
    membership = getattr(request, "membership", None)
    if membership is None:
        return 0
    return membership.notifications.filter(read_at__isnull=True).count()
