"""Authentication pieces for the test settings only."""

from axes.backends import AxesStandaloneBackend


class RequestOptionalAxesBackend(AxesStandaloneBackend):
    """django-axes, except for ``authenticate()`` calls without a request (the test client's
    ``login()``): axes raises for those, and they are not web logins to throttle."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
