"""API authentication: ``Authorization: Token <key>`` against the members' ``crm.ApiToken`` rows.

Subclassing DRF's ``TokenAuthentication`` keeps its header parsing, its error messages and
drf-spectacular's ``tokenAuth`` scheme; only the lookup differs: by the key's SHA-256, never by the
key itself. Keys made by DRF's former ``authtoken`` table were moved here, hashed, by migration
``crm.0006``, so partners keep the key they have.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from crm.models import ApiToken
from crm.services import api_token_hash

# Recording every call would turn each read into a write; a minute is precise enough to tell a
# token in use from a forgotten one.
LAST_USED_PRECISION = timedelta(minutes=1)
REVOKED = "This token was revoked."


class ApiTokenAuthentication(TokenAuthentication):
    model = ApiToken

    def authenticate_credentials(self, key: str):
        try:
            token = ApiToken.objects.select_related("user").get(key_hash=api_token_hash(key))
        except ApiToken.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(REVOKED)
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        _note_use(token)
        return token.user, token


def _note_use(token: ApiToken) -> None:
    """Stamp ``last_used_at`` at most once a minute (a conditional update: concurrent calls agree)."""
    now = timezone.now()
    stale = now - LAST_USED_PRECISION
    if token.last_used_at is not None and token.last_used_at > stale:
        return
    ApiToken.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=token.pk).update(
        last_used_at=now
    )
    token.last_used_at = now
