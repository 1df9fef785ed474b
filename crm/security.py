"""Login throttling and password-reset limits: the project's side of django-axes.

Axes counts failed logins per email and per client address (``AXES_*`` in settings); this module
tells it which address and which email a request means, words the lockout for the login pages
and logs it. Log lines: logger ``crm.security``, level WARNING, one per refused login or refused
password-reset request.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
from datetime import timedelta

from axes.helpers import get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.db.models import Max, Sum
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger("crm.security")


def client_ip(request) -> str | None:
    """The caller's address: ``REMOTE_ADDR``, or with ``NUM_PROXIES`` proxies in front, the entry
    of ``X-Forwarded-For`` the outermost trusted proxy added (DRF's throttles read it the same way)."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    addresses = [address.strip() for address in forwarded.split(",") if address.strip()]
    if settings.NUM_PROXIES and addresses:
        candidate = addresses[-min(settings.NUM_PROXIES, len(addresses))]
        try:  # a forged, malformed entry must not reach the database's inet column
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass
    return request.META.get("REMOTE_ADDR")


def login_username(request, credentials: dict | None) -> str | None:
    """The email a login attempt names, as stored (lower case), so ``Ana@X`` and ``ana@x`` share a count."""
    username = (credentials or {}).get("username") or request.POST.get("username")
    return username.strip().lower() if username else None


def lockout_remaining(request, username: str | None) -> timedelta:
    """How long the lock on this email or this address still holds (the longer of the two)."""
    cool_off = get_cool_off(request)
    now = timezone.now()
    limit = get_failure_limit(request, {"username": username})
    recent = AccessAttempt.objects.filter(attempt_time__gte=now - cool_off)
    ends = []
    for lookup in ({"username": username}, {"ip_address": getattr(request, "axes_ip_address", None)}):
        totals = recent.filter(**lookup).aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        if (totals["failures"] or 0) >= limit:
            ends.append(totals["last"] + cool_off)
    return max(ends, default=now + cool_off) - now


def login_wait(request, username: str | None) -> int:
    """Seconds before another try for this email or from this address is accepted: none until
    ``LOGIN_SLOW_AFTER`` failures, then 2, 4, 8 … (at most 60) after the last failure."""
    now = timezone.now()
    recent = AccessAttempt.objects.filter(attempt_time__gte=now - get_cool_off(request))
    wait = 0.0
    for lookup in ({"username": username}, {"ip_address": client_ip(request)}):
        totals = recent.filter(**lookup).aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        failures = totals["failures"] or 0
        if failures >= settings.LOGIN_SLOW_AFTER:
            delay = min(60, 2 ** (failures - settings.LOGIN_SLOW_AFTER + 1))
            wait = max(wait, delay - (now - totals["last"]).total_seconds())
    if wait > 0:
        logger.warning("Login slowed down: email=%s ip=%s retry_in=%ds", username, client_ip(request), math.ceil(wait))
    return math.ceil(wait) if wait > 0 else 0


def slowdown_message(seconds: int) -> str:
    return f"Too many failed attempts to log in: wait {seconds} second{'' if seconds == 1 else 's'} and try again."


def _in_minutes(delta: timedelta) -> str:
    """``15 minutes``, ``1 minute``: a wait rounded up to whole minutes."""
    minutes = max(1, math.ceil(delta.total_seconds() / 60))
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def lockout_message(request, username: str | None) -> str:
    wait = _in_minutes(lockout_remaining(request, username))
    return f"Too many failed attempts to log in: try again in {wait}, or reset your password."


def lockout_response(request, original_response, credentials: dict | None) -> HttpResponse:
    """What axes answers for a refused login: the login page the view drew (its form carries the
    lockout message) as a 429 with ``Retry-After``; a plain-text 429 for anything else."""
    username = login_username(request, credentials)
    retry_in = math.ceil(lockout_remaining(request, username).total_seconds())
    logger.warning(
        "Login locked out: email=%s ip=%s path=%s retry_in=%ds",
        username,
        getattr(request, "axes_ip_address", None),
        request.path,
        retry_in,
    )
    is_page = original_response is not None and original_response.get("Content-Type", "").startswith("text/html")
    response = (
        original_response if is_page else HttpResponse(lockout_message(request, username), content_type="text/plain")
    )
    response.status_code = 429
    response["Retry-After"] = str(retry_in)
    return response


def lift_login_lock(email: str) -> int:
    """Forget the failed logins of this email (after it proved itself through a reset link)."""
    return axes_reset(username=email.strip().lower())


class _PasswordResetThrottle(SimpleRateThrottle):
    """DRF's sliding-window throttle, keyed by one identity (an address or an email)."""

    scope = "password_reset"

    def __init__(self, ident: str):
        self.ident = ident
        super().__init__()

    def get_rate(self) -> str:
        return settings.PASSWORD_RESET_RATE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.ident}


def password_reset_wait(request, email: str) -> int | None:
    """Count one reset request from this address for this email; ``None`` when allowed, else the
    seconds until another is accepted (``PASSWORD_RESET_RATE`` per address and per email)."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    for ident in (f"ip:{client_ip(request)}", f"email:{digest}"):
        throttle = _PasswordResetThrottle(ident)
        if not throttle.allow_request(request, None):
            wait = math.ceil(throttle.wait() or 1)
            logger.warning(
                "Password reset refused: %s over %s, retry_in=%ds", ident, settings.PASSWORD_RESET_RATE, wait
            )
            return wait
    return None


def password_reset_message(wait_seconds: int) -> str:
    return f"Too many password reset requests: try again in {_in_minutes(timedelta(seconds=wait_seconds))}."
