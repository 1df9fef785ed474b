"""The project's shared forms (login, company settings, API tokens) and the one place that turns a
service's ``ValidationError`` into what a user reads: ``add_service_errors`` puts its messages on
a form's fields, ``error_text`` makes one line of them for a flash message or an htmx fragment.

Services name fields the way their data dicts do (``owner``, ``custom_fields.budget``,
``__all__``); a message is shown beside the field the form has by that name (a custom field's
``custom_fields.<key>`` on ``cf_<key>``, else on a ``custom_fields`` field), and otherwise above
the form, prefixed with the field's human label — never with a snake_case name.
"""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.utils import pretty_name

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


CUSTOM_FIELD_PREFIX = "cf_"  # a form's field for the custom field <key> is named cf_<key>
CUSTOM_FIELDS = "custom_fields"


def _target(form: forms.BaseForm, name: str) -> str | None:
    """The enabled form field a service's error ``name`` belongs on, or None (above the form)."""
    candidates = [name]
    if name.startswith(f"{CUSTOM_FIELDS}."):
        candidates = [CUSTOM_FIELD_PREFIX + name.split(".", 1)[1], CUSTOM_FIELDS]
    return next((c for c in candidates if c in form.fields and not form.fields[c].disabled), None)


def field_label(name: str, form: forms.BaseForm | None = None) -> str:
    """The human label of a service's field ``name``: the form's label when it has the field,
    else the name made readable (``lost_reason`` → "Lost reason", ``custom_fields.budget`` → "Budget")."""
    if name.startswith(f"{CUSTOM_FIELDS}."):
        key = name.split(".", 1)[1]
        if form is not None and CUSTOM_FIELD_PREFIX + key in form.fields:
            return str(form[CUSTOM_FIELD_PREFIX + key].label)
        return pretty_name(key)
    if form is not None and name in form.fields:
        return str(form[name].label)
    return pretty_name(name.replace(".", " "))


def add_service_errors(
    form: forms.BaseForm,
    error: ValidationError,
    *,
    rename: Mapping[str, str] | None = None,
    besides: bool = False,
) -> None:
    """Show a service's ValidationError on ``form``: each message on the field it names, else
    (the form lacks the field, or shows it disabled) above the form as "Label: message";
    ``__all__`` and errors without a field above the form as they are.

    ``rename`` maps the service's names to the form's (the admin's ``note`` is ``status_note``).
    ``besides``: leave alone the fields the form has already refused (a dry run after the form's
    own checks adds the service's verdict on the other fields only).
    """
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for name, messages in error.message_dict.items():
        name = (rename or {}).get(name, name)
        if name == NON_FIELD_ERRORS:
            form.add_error(None, messages)
            continue
        target = _target(form, name)
        if besides and target is not None and target in (form._errors or {}):
            continue
        if target is not None:
            form.add_error(target, messages)
        else:
            label = field_label(name, form)
            form.add_error(None, [f"{label}: {message}" for message in messages])


def error_text(
    error: ValidationError,
    *,
    form: forms.BaseForm | None = None,
    labels: Mapping[str, str] | None = None,
    labelled: bool = True,
) -> str:
    """A service's ValidationError as one line for ``messages.error`` or an htmx fragment:
    "Label: message" per message, in the order the service gave them, non-field messages bare.

    Labels come from ``labels`` (``""``: say the message bare, where the page already names the
    field — the status buttons for ``status``), then from ``form``, then from the name itself.
    ``labelled=False``: every message bare, for a bar of controls whose every refusal is a
    sentence about the control just used (the bulk bar).
    """
    if not labelled or not hasattr(error, "error_dict"):
        return " ".join(error.messages)
    parts = []
    for name, messages in error.message_dict.items():
        label = "" if name == NON_FIELD_ERRORS else (labels or {}).get(name, None)
        if label is None:
            label = field_label(name, form)
        parts += [f"{label}: {message}" if label else message for message in messages]
    return " ".join(parts)


def form_error_text(form: forms.BaseForm) -> str:
    """A bound form's own errors as one line, like ``error_text`` (for forms posted from a page
    that cannot show them beside the fields)."""
    return error_text(ValidationError({name: list(messages) for name, messages in form.errors.items()}), form=form)
