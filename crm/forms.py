from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from crm.models import Company
from crm.security import lockout_message, login_username, login_wait, slowdown_message


class LockoutMessageMixin:
    """Slow repeated failures down, and when django-axes refused the login, say so (and for how
    long) instead of "wrong password"."""

    def clean(self):
        username = login_username(self.request, {"username": self.cleaned_data.get("username")})
        wait = login_wait(self.request, username) if self.request is not None else 0
        if wait:  # slowed down: refused before the password is even checked, and not counted
            raise ValidationError(slowdown_message(wait), code="slowed_down")
        try:
            return super().clean()
        except ValidationError:
            if getattr(self.request, "axes_locked_out", False):
                username = login_username(self.request, {"username": self.cleaned_data.get("username")})
                raise ValidationError(lockout_message(self.request, username), code="locked_out") from None
            raise


class EmailAuthenticationForm(LockoutMessageMixin, AuthenticationForm):
    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))


class AdminEmailAuthenticationForm(LockoutMessageMixin, AdminAuthenticationForm):
    """The admin's login form with the same lockout message as the app's."""


class CompanySettingsForm(forms.ModelForm):
    class Meta:
        model = Company
        fields = ["name", "default_country"]


class ApiTokenForm(forms.Form):
    """The name of a new API token; the service checks it (empty, taken) and names the field."""

    name = forms.CharField(
        max_length=100, required=False, help_text="What will use the token, e.g. the partner system's name."
    )
