"""The shared view helpers: a service's ValidationError on a form (``add_service_errors``) and as
one line (``error_text``), the form → service → message → redirect flow (``form_flow``) with its
safe ``next``, and the one confirmation page every delete/revoke uses."""

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.testing.factories import make_account, make_opportunity, stage
from crm import services as crm_services
from crm.forms import add_service_errors, error_text, form_error_text
from crm.models import ApiToken, Company
from leads.config import services as settings_services
from leads.models import AssignmentRule, Lead, LeadStatus
from leads.testing.factories import make_assignment_rule, make_export_template, make_lead, status
from nurturing.testing.factories import make_sequence

pytestmark = pytest.mark.django_db


class LeadishForm(forms.Form):
    owner = forms.CharField(label="Lead owner", required=False)
    lost_reason = forms.CharField(required=False)
    key = forms.CharField(disabled=True, required=False)
    cf_budget = forms.CharField(label="Budget (EUR)", required=False)
    status_note = forms.CharField(required=False)


class JsonForm(forms.Form):
    custom_fields = forms.CharField(required=False)


def bound(form_class=LeadishForm, data=None):
    form = form_class(data or {})
    assert form.is_valid()
    return form


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- add_service_errors --------------------------------------------------------------------------


def test_each_message_lands_on_the_field_it_names():
    form = bound()
    add_service_errors(form, ValidationError({"owner": ["Not in your team."], "lost_reason": "Say why."}))
    assert form.errors == {"owner": ["Not in your team."], "lost_reason": ["Say why."]}


def test_a_custom_field_lands_on_its_cf_field_else_on_custom_fields():
    error = ValidationError({"custom_fields.budget": "Enter a number."})
    on_cf, on_json = bound(), bound(JsonForm)
    add_service_errors(on_cf, error)
    add_service_errors(on_json, error)
    assert on_cf.errors == {"cf_budget": ["Enter a number."]}
    assert on_json.errors == {"custom_fields": ["Enter a number."]}


def test_fields_the_form_lacks_or_disables_go_above_it_with_their_human_label():
    form = bound()
    add_service_errors(form, ValidationError({
        "key": "It cannot change.", "next_step_date": "Pick a date.", "custom_fields.region": "Unknown region.",
        "opportunity.close_date": "Give the date.",
    }))  # fmt: skip
    assert form.non_field_errors() == [
        "Key: It cannot change.",
        "Next step date: Pick a date.",
        "Region: Unknown region.",
        "Opportunity close date: Give the date.",
    ]
    assert set(form.errors) == {"__all__"}


def test_all_and_plain_errors_go_above_the_form_as_they_are():
    form = bound()
    add_service_errors(form, ValidationError({"__all__": "This lead is converted."}))
    add_service_errors(form, ValidationError("The mail server said no."))
    assert form.errors == {"__all__": ["This lead is converted.", "The mail server said no."]}


def test_rename_maps_the_services_names_to_the_forms():
    form = bound()
    add_service_errors(form, ValidationError({"note": "A note is required."}), rename={"note": "status_note"})
    assert form.errors == {"status_note": ["A note is required."]}


def test_besides_leaves_the_fields_the_form_already_refused_alone():
    form = bound()
    form.add_error("owner", "Choose a member.")
    add_service_errors(form, ValidationError({"owner": "Not in your team.", "lost_reason": "Say why."}), besides=True)
    assert form.errors == {"owner": ["Choose a member."], "lost_reason": ["Say why."]}


# --- error_text ----------------------------------------------------------------------------------


def test_error_text_is_one_line_with_human_labels_never_snake_case():
    error = ValidationError({"lost_reason": "Say why.", "__all__": "Nothing was changed.", "owner": "Not yours."})
    assert error_text(error) == "Lost reason: Say why. Nothing was changed. Owner: Not yours."
    assert error_text(error, form=bound()) == "Lost reason: Say why. Nothing was changed. Lead owner: Not yours."


def test_error_text_says_a_message_bare_where_the_page_names_the_field():
    error = ValidationError({"status": "A lead cannot move from New to Won.", "note": "Add a note."})
    assert error_text(error, labels={"status": ""}) == "A lead cannot move from New to Won. Note: Add a note."
    assert error_text(error, labelled=False) == "A lead cannot move from New to Won. Add a note."
    assert error_text(ValidationError(["One.", "Two."])) == "One. Two."


class OwnerForm(forms.Form):
    owner = forms.CharField(label="Lead owner")
    next_step_date = forms.DateField()


def test_form_error_text_uses_the_forms_labels():
    form = OwnerForm({"next_step_date": "soon"})
    assert not form.is_valid()
    assert form_error_text(form) == "Lead owner: This field is required. Next step date: Enter a valid date."


# --- form_flow -----------------------------------------------------------------------------------


def test_a_valid_form_saves_messages_and_redirects(cast, client_for):
    response = client_for(cast.a.admin).post("/c/alpha/settings/", {"name": "Alpha Ltd", "default_country": "de"})
    assert (response.status_code, response["Location"]) == (302, "/c/alpha/settings/")
    assert Company.objects.get(slug="alpha").name == "Alpha Ltd"


def test_a_service_refusal_rerenders_the_form_with_status_200_and_changes_nothing(cast, client_for):
    response = client_for(cast.a.admin).post(
        reverse("leads:config:status_create", kwargs={"company_slug": "alpha"}),
        {"key": "new", "name": "Again", "color": "#1e88e5", "category": "open"},
    )
    assert response.status_code == 200
    assert response.templates[0].name == "leads/config/status_form.html"
    assert list(response.context["form"].errors) == ["key"]
    assert LeadStatus.objects.filter(company=cast.a.company, name="Again").count() == 0


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/c/alpha/leads/", "/c/alpha/leads/"),
        ("https://evil.example/", "/c/alpha/settings/"),
        ("//evil.example/x", "/c/alpha/settings/"),
    ],
)
def test_form_flow_follows_only_a_next_inside_the_site(cast, client_for, next_url, expected):
    response = client_for(cast.a.admin).post(
        "/c/alpha/settings/", {"name": "Alpha", "default_country": "GB", "next": next_url}
    )
    assert (response.status_code, response["Location"]) == (302, expected)


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [("/c/alpha/pipeline/?owner=me", "/c/alpha/pipeline/?owner=me"), ("https://evil.example/", None)],
)
def test_moving_a_card_ignores_a_next_that_leaves_the_site(cast, client_for, next_url, expected):
    deal = make_opportunity(make_account(cast.a.company), owner=cast.a.sdr1)
    qualified = stage(cast.a.company, "Qualified")
    move = reverse("accounts:opportunity_move", kwargs={"company_slug": "alpha", "opportunity_id": deal.pk})
    response = client_for(cast.a.sdr1).post(move, {"stage": qualified.pk, "next": next_url})
    detail = reverse("accounts:opportunity_detail", kwargs={"company_slug": "alpha", "opportunity_id": deal.pk})
    assert (response.status_code, response["Location"]) == (302, expected or detail)
    deal.refresh_from_db()
    assert deal.stage == qualified


# --- the one confirmation page -------------------------------------------------------------------


def _confirm_urls(cast) -> dict[str, tuple[str, str]]:
    """Every confirm page: its URL and its heading."""
    company = cast.a.company
    lead = make_lead(company, cast.a.admin, first_name="Ada", last_name="Lovelace")
    rule = make_assignment_rule(company, "Inbound", members=[cast.a.sdr1])
    template = make_export_template(company, "Basic")
    sequence = make_sequence(company, name="Welcome")
    step = sequence.steps.get(step_number=1)
    token, _key = crm_services.api_token_create(user=cast.a.admin.user, name="CI")
    demo = settings_services.status_create(company=company, actor=cast.a.admin, data={"key": "demo", "name": "Demo"})
    slug = {"company_slug": "alpha"}
    return {
        "lead": (reverse("leads:delete", kwargs={**slug, "lead_id": lead.pk}), "Delete the lead “Ada Lovelace”?"),
        "status": (reverse("leads:config:status_delete", kwargs={**slug, "status_id": demo.pk}),
                   "Delete status “Demo”?"),
        "rule": (reverse("leads:assignment:rule_delete", kwargs={**slug, "rule_id": rule.pk}),
                 "Delete the assignment rule “Inbound”?"),
        "template": (reverse("leads:transfer:template_delete", kwargs={**slug, "template_id": template.pk}),
                     "Delete the export template “Basic”?"),
        "step": (reverse("nurturing:step_delete", kwargs={**slug, "sequence_id": sequence.pk, "step_id": step.pk}),
                 f"Delete step 1 “{step.subject}”?"),
        "token": (reverse("crm:api_token_revoke", kwargs={**slug, "api_token_id": token.pk}), "Revoke the token “CI”?"),
    }  # fmt: skip


def test_every_confirm_page_is_the_one_template_with_a_csrf_form_and_a_way_back(cast, client_for):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.a.admin.user)
    for name, (url, heading) in _confirm_urls(cast).items():
        response = client.get(url)
        html = response.content.decode()
        assert (name, response.status_code, [t.name for t in response.templates][:2]) == (
            name,
            200,
            ["crm/confirm_delete.html", "base.html"],
        )
        form = html[html.index(f'<form method="post" data-testid="{response.context["testid"]}-form">') :]
        form = form[: form.index("</form>")]
        assert f"<h1>{heading}</h1>" in html, name
        assert 'name="csrfmiddlewaretoken"' in form, name
        assert f'<a href="{response.context["cancel_url"]}">Cancel</a>' in form, name
        assert client.post(url).status_code == 403, name  # no CSRF token: nothing happens
    assert Lead.objects.filter(first_name="Ada").get().is_deleted is False
    assert AssignmentRule.objects.filter(name="Inbound").exists()
    assert ApiToken.objects.get(name="CI").revoked_at is None


def test_the_confirm_button_says_the_views_verb_and_a_blocker_replaces_the_form(cast, client_for):
    client = client_for(cast.a.admin)
    urls = _confirm_urls(cast)
    token_page = client.get(urls["token"][0]).content.decode()
    assert '<button type="submit" class="danger" data-testid="token-revoke-confirm">Revoke</button>' in token_page
    new = status(cast.a.company, "new")
    blocked = client.get(reverse("leads:config:status_delete", kwargs={"company_slug": "alpha", "status_id": new.pk}))
    assert blocked.context["blocker"] == (
        "Status 'New' is the initial status; make another status initial before deleting it."
    )
    assert 'data-testid="delete-blocker"' in blocked.content.decode()
    assert 'data-testid="delete-form"' not in blocked.content.decode()


def test_posting_a_confirm_page_acts_messages_and_goes_back(cast, client_for):
    client = client_for(cast.a.admin)
    urls = _confirm_urls(cast)
    revoked = client.post(urls["token"][0])
    deleted = client.post(urls["rule"][0])
    assert (revoked["Location"], messages_of(client.get(revoked["Location"]))) == (
        "/c/alpha/profile/",
        [
            "Token “CI” revoked: it no longer opens the API.",
            "Rule 'Inbound' deleted. Leads it assigned keep their owners.",
        ],
    )
    assert deleted["Location"] == reverse("leads:assignment:rule_list", kwargs={"company_slug": "alpha"})
    assert ApiToken.objects.get(name="CI").revoked_at is not None
    assert not AssignmentRule.objects.filter(name="Inbound").exists()
