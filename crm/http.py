"""Small HTTP helpers every app shares: where to go next, and links that leave the site."""

from __future__ import annotations

from django.conf import settings
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, fallback: str) -> str:
    """The ``next`` parameter (POST, then GET) when it points into this site, else ``fallback``.

    Every view that follows a ``next`` goes through here, so ``https://evil.example/``,
    ``//evil.example`` and ``javascript:…`` can never turn a form into an open redirect.
    """
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def absolute_url(path: str) -> str:
    """``SITE_URL`` + ``path``: the link an email (written with no request at hand) must carry."""
    return settings.SITE_URL.rstrip("/") + path


def is_htmx(request) -> bool:
    """The request came from htmx (which then wants a partial, not a page or a redirect)."""
    return request.headers.get("HX-Request") == "true"
