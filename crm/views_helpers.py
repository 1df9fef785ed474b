"""The shapes every HTML view shares, written once.

* ``form_flow`` — a form page: POST validates, calls the service, puts its ``ValidationError`` on
  the form, says what happened and redirects; otherwise (GET, bad input) it (re)renders the page.
* ``act`` — a one-click POST (retire, move, delete…): the service's refusal or the success as a message.
* ``confirm_flow`` — a "Delete X?" page (``crm/confirm_delete.html``) whose POST runs ``act``.

Invalid input re-renders with status 200, as every form page always has (the tests pin it).
A ``next`` parameter is followed only through ``crm.http.safe_next``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BaseForm
from django.shortcuts import redirect, render

from crm.forms import add_service_errors, error_text
from crm.http import safe_next

NOT_ALLOWED = "You may not make this change."

# Either a value, or a function of what the service returned (the saved object) giving it.
Given = str | Callable[[Any], str]


def _given(value: Given, result) -> str:
    return value(result) if callable(value) else value


def form_flow(
    request,
    form: BaseForm,
    save: Callable[[], Any],
    *,
    success: Given,
    next_url: Given,
    template: str,
    context: dict | None = None,
    formsets: Sequence = (),
    rename: dict[str, str] | None = None,
    refused: str = NOT_ALLOWED,
):
    """Run a form page.

    On a POST whose ``form`` (and ``formsets``) are valid, ``save()`` calls the service. Its
    ``ValidationError`` lands on the form (``add_service_errors``, with ``rename``), a
    ``PermissionDenied`` above it (its text, else ``refused``); otherwise ``success`` becomes a
    message and the answer redirects to ``next_url`` (or a safe ``next``). ``success`` and
    ``next_url`` may be functions of what ``save()`` returned. Any other request, or bad input,
    renders ``template`` with ``form`` and ``context``.
    """
    if request.method == "POST" and all([form.is_valid(), *(f.is_valid() for f in formsets)]):
        try:
            result = save()
        except ValidationError as error:
            add_service_errors(form, error, rename=rename)
        except PermissionDenied as error:
            form.add_error(None, str(error) or refused)
        else:
            messages.success(request, _given(success, result))
            return redirect(safe_next(request, _given(next_url, result)))
    return render(request, template, {"form": form, **(context or {})})


def act(
    request,
    action: Callable[[], Any],
    success: str,
    *,
    labels: dict[str, str] | None = None,
    refused: str = NOT_ALLOWED,
    forbidden_is_403: bool = False,
) -> bool:
    """Run a one-click service call and report the outcome as a message; True when it happened.
    A refusal (``ValidationError``, ``PermissionDenied``) is one error message (``error_text``);
    with ``forbidden_is_403`` a ``PermissionDenied`` goes on to the 403 page."""
    try:
        action()
    except ValidationError as error:
        messages.error(request, error_text(error, labels=labels))
        return False
    except PermissionDenied as error:
        if forbidden_is_403:
            raise
        messages.error(request, str(error) or refused)
        return False
    messages.success(request, success)
    return True


@dataclass(frozen=True)
class Confirm:
    """What ``crm/confirm_delete.html`` shows: "<verb> <what> “<name>”?", the consequences, and
    a form whose button says ``verb``; ``blocker`` (why it cannot be done) replaces the form."""

    what: str  # "the assignment rule", "step 2", "status"
    name: str
    consequences: str
    cancel_url: str
    verb: str = "Delete"
    blocker: str | None = None
    parent: tuple[str, str] | None = None  # (label, url) of the page the object belongs to
    testid: str = "delete"  # data-testid prefix: <testid>-form, <testid>-confirm, <testid>-blocker


def confirm_page(request, confirm: Confirm, context: dict | None = None):
    """``crm/confirm_delete.html`` for ``confirm`` (its fields are the template's names), plus ``context``."""
    return render(request, "crm/confirm_delete.html", {**asdict(confirm), **(context or {})})


def confirm_flow(
    request,
    confirm: Confirm,
    action: Callable[[], Any],
    *,
    success: str,
    next_url: str,
    context: dict | None = None,
    labels: dict[str, str] | None = None,
    refused: str = NOT_ALLOWED,
):
    """GET: the confirmation page (with ``context``). POST: ``act`` (a ``ValidationError`` or
    success as a message), then ``next_url``. A ``PermissionDenied`` is the 403 page: the member
    asked for something their role may not do, not something to fix and retry."""
    if request.method != "POST":
        return confirm_page(request, confirm, context)
    act(request, action, success, labels=labels, refused=refused, forbidden_is_403=True)
    return redirect(next_url)
