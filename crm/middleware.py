from django.core.exceptions import ImproperlyConfigured, PermissionDenied

from crm.tenancy import bind_tenant, resolve_membership


class TenantMiddleware:
    """Resolves ``/c/<company_slug>/…`` to the caller's membership and enforces the view's permission.

    A non-member gets 404 (the same page as a missing company); a member without the view's
    declared permission gets 403.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.company = None
        request.membership = None
        request.permissions = frozenset()
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        slug = view_kwargs.get("company_slug")
        if slug is None:
            return
        bind_tenant(request, resolve_membership(request.user, slug=slug))
        permission = getattr(view_func, "crm_permission", None)
        if permission is None:
            view_class = getattr(view_func, "view_class", None)
            permission = getattr(view_class, "crm_permission", None)
        if permission is None:
            raise ImproperlyConfigured(f"Tenant view {view_func.__name__} declares no permission.")
        if permission not in request.permissions:
            raise PermissionDenied
        return
