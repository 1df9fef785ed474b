from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from crm import dashboards, services
from crm.forms import ApiTokenForm, CompanySettingsForm
from crm.permissions import tenant_view
from crm.queries import active_memberships_of, memberships_visible_to
from crm.security import lift_login_lock, password_reset_message, password_reset_wait
from crm.views_helpers import Confirm, confirm_flow, form_flow
from crm.worker import worker_status


def home(request):
    """Send the user to their last company, else their first; explain when they have none."""
    memberships = list(active_memberships_of(request.user))
    if not memberships:
        return render(request, "crm/no_company.html")
    last = request.session.get("last_company")
    chosen = next((m for m in memberships if m.company.slug == last), memberships[0])
    return redirect("crm:dashboard", company_slug=chosen.company.slug)


@tenant_view("dashboard.view")
def dashboard(request, company_slug):
    request.session["last_company"] = company_slug
    team = memberships_visible_to(request.membership).select_related("user")
    board = dashboards.dashboard_for(request.membership)
    return render(request, "crm/dashboard.html", {"team": team, "board": board})


@tenant_view("members.view")
def member_list(request, company_slug):
    members = (
        memberships_visible_to(request.membership)
        .select_related("user", "manager__user")
        .order_by("role", "user__email")
    )
    return render(request, "crm/member_list.html", {"members": members})


@tenant_view("company.manage")
def company_settings(request, company_slug):
    form = CompanySettingsForm(request.POST or None, instance=request.company)
    return form_flow(
        request, form, lambda: services.company_update(company=request.company, **form.cleaned_data),
        success="Company settings saved.", template="crm/company_settings.html",
        next_url=reverse("crm:company_settings", kwargs={"company_slug": company_slug}),
    )  # fmt: skip


@login_not_required
@never_cache
@require_GET
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok", "worker": worker_status().as_dict()})


@login_not_required
@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico where a page names no icon (the admin, JSON answers)."""
    return redirect(static("favicon.svg"), permanent=True)


@tenant_view("dashboard.view")
def notification_list(request, company_slug):
    notifications = request.membership.notifications.all()[:100]
    return render(request, "crm/notification_list.html", {"notifications": notifications})


@require_POST
@tenant_view("dashboard.view")
def notifications_mark_read(request, company_slug):
    count = services.notifications_mark_read(recipient=request.membership)
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked as read.")
    return redirect("crm:notifications", company_slug=company_slug)


# The key of a token just made waits in the (server-side) session for the one page that shows it.
NEW_KEY_SESSION = "new_api_key"


@never_cache
@tenant_view("dashboard.view")
def profile(request, company_slug):
    """The member's API tokens (theirs in every company) with what a client needs: the company id
    and the API docs. POST makes a token; its key is shown once, on the page the POST leads to."""
    form = ApiTokenForm(request.POST or None)

    def save():
        token, key = services.api_token_create(user=request.user, name=form.cleaned_data["name"])
        request.session[NEW_KEY_SESSION] = {"id": token.pk, "key": key}
        return token

    context = {
        "tokens": request.user.api_tokens.all(),
        "new_key": request.session.pop(NEW_KEY_SESSION, None),
        "api_docs_url": reverse("api-docs"),
    }
    return form_flow(
        request, form, save, next_url=reverse("crm:profile", kwargs={"company_slug": company_slug}),
        success=lambda token: f"Token “{token.name}” created. Copy its key now: it is shown only once.",
        template="crm/profile.html", context=context,
    )  # fmt: skip


@tenant_view("dashboard.view")
def api_token_revoke(request, company_slug, api_token_id):
    token = get_object_or_404(request.user.api_tokens.filter(revoked_at__isnull=True), pk=api_token_id)
    back = reverse("crm:profile", kwargs={"company_slug": company_slug})
    confirm = Confirm(
        verb="Revoke", what="the token", name=token.name, cancel_url=back, testid="token-revoke",
        consequences=f"Calls made with the key starting {token.prefix}… will be refused from now on. This cannot be "
        "undone: make a new token if a system still needs access.",
    )  # fmt: skip
    return confirm_flow(
        request, confirm, lambda: services.api_token_revoke(user=request.user, token=token),
        success=f"Token “{token.name}” revoked: it no longer opens the API.", next_url=back, context={"token": token},
    )  # fmt: skip


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request, limited per address and per email (``PASSWORD_RESET_RATE``), with
    the link in the email built on ``SITE_URL`` rather than on the request's Host header."""

    @property
    def extra_email_context(self):
        return {"site_url": settings.SITE_URL.rstrip("/")}

    def form_valid(self, form):
        wait = password_reset_wait(self.request, form.cleaned_data["email"])
        if wait is not None:
            form.add_error("email", password_reset_message(wait))
            response = self.form_invalid(form)
            response.status_code = 429
            response["Retry-After"] = str(wait)
            return response
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Choosing a new password through the emailed link also lifts a login lockout on that email."""

    def form_valid(self, form):
        response = super().form_valid(form)
        lift_login_lock(form.user.email)
        return response
