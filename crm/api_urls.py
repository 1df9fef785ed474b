"""Project-level API URLs: the OpenAPI schema and its docs page (Swagger UI served from static/)."""

from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    # An API client gets 401 JSON from DRF rather than the login redirect; a browser opening the
    # docs page is sent to log in (DRF views opt out of LoginRequiredMiddleware, hence the decorator).
    path("schema/", login_not_required(SpectacularAPIView.as_view()), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (?script): no inline code for the CSP.
    path("docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="api-docs"),
]
