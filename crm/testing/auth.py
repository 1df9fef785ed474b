"""Authentication pieces for tests: the test settings' backend and API keys for test clients."""

from axes.backends import AxesStandaloneBackend

from crm.services import api_token_create


class RequestOptionalAxesBackend(AxesStandaloneBackend):
    """django-axes, except for ``authenticate()`` calls without a request (the test client's
    ``login()``): axes raises for those, and they are not web logins to throttle."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def api_key_for(user, name: str = "Tests") -> str:
    """A fresh API key of ``user`` (made the way a member makes one on their profile page)."""
    _token, key = api_token_create(user=user, name=f"{name} {user.api_tokens.count() + 1}")
    return key
