from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from crm import views
from crm.forms import AdminEmailAuthenticationForm, EmailAuthenticationForm

# The admin's login shows the same lockout message as the app's (django-axes guards both).
admin.site.login_form = AdminEmailAuthenticationForm

tenant_patterns = (
    [
        path("", views.dashboard, name="dashboard"),
        path("members/", views.member_list, name="members"),
        path("settings/", views.company_settings, name="company_settings"),
        path("notifications/", views.notification_list, name="notifications"),
        path("notifications/read/", views.notifications_mark_read, name="notifications_read"),
        path("profile/", views.profile, name="profile"),
        path("profile/tokens/<int:api_token_id>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    ],
    "crm",
)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=EmailAuthenticationForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/password_reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("c/<slug:company_slug>/", include(tenant_patterns)),
    path("c/<slug:company_slug>/leads/", include("leads.urls")),
    path("c/<slug:company_slug>/accounts/", include("accounts.urls")),
    path("c/<slug:company_slug>/nurturing/", include("nurturing.urls")),
    path("api/", include("crm.api_urls")),
    path("api/companies/<int:company_id>/", include("leads.api_urls")),
    path("api/companies/<int:company_id>/", include("accounts.api_urls")),
    path("api/companies/<int:company_id>/", include("nurturing.api_urls")),
    path("n/", include("nurturing.public_urls")),
    path("admin/", admin.site.urls),
]

# JSON error answers under /api/, the usual pages elsewhere.
handler400 = "crm.api_errors.bad_request"
handler404 = "crm.api_errors.not_found"
handler500 = "crm.api_errors.server_error"
