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
    path("admin/", admin.site.urls),
]
