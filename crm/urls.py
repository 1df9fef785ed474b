from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from crm import views
from crm.forms import EmailAuthenticationForm

tenant_patterns = (
    [
        path("", views.dashboard, name="dashboard"),
        path("members/", views.member_list, name="members"),
        path("settings/", views.company_settings, name="company_settings"),
        path("notifications/", views.notification_list, name="notifications"),
        path("notifications/read/", views.notifications_mark_read, name="notifications_read"),
    ],
    "crm",
)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=EmailAuthenticationForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("c/<slug:company_slug>/", include(tenant_patterns)),
    path("c/<slug:company_slug>/leads/", include("leads.urls")),
    path("api/", include("crm.api_urls")),
    path("api/companies/<int:company_id>/", include("leads.api_urls")),
    path("admin/", admin.site.urls),
]
