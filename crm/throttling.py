"""API rate limits: DRF's throttles, with the rate read when a request comes.

DRF copies ``DEFAULT_THROTTLE_RATES`` into its throttle classes once, at import; these read the
live setting instead, so ``API_RATE_USER`` / ``API_RATE_ANON`` and a test's ``override_settings``
both take effect. Over the limit an API call gets 429 with ``Retry-After``.
"""

from rest_framework import throttling
from rest_framework.settings import api_settings


class UserRateThrottle(throttling.UserRateThrottle):
    """Per authenticated caller: all of a user's API tokens (and their browser session) share it."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonRateThrottle(throttling.AnonRateThrottle):
    """Per client address for calls without credentials (``NUM_PROXIES`` says which address)."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
