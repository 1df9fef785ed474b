"""The company's sending settings (rate limit, UTC window, consent policy, default sequence, sweep
threshold): the page for company admins, the service's field-named refusals with nothing saved, the
API, and the saved values at work (the sweep's threshold)."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from nurturing import services, tasks
from nurturing.models import ConsentPolicy, Enrolment, NurturingSettings
from nurturing.testing.factories import make_consenting_lead, make_sequence
from nurturing.tests.test_views import field_errors, messages_of

pytestmark = pytest.mark.django_db

DEFAULTS = {"rate_per_minute": 600, "window_start": None, "window_end": None,
            "consent_policy": ConsentPolicy.CONSENT, "default_sequence": None, "sweep_threshold": 70}  # fmt: skip


CHANGED = "nurturing.settings.changed"


def settings_url(tenant) -> str:
    return reverse("nurturing:settings", kwargs={"company_slug": tenant.company.slug})


def saved(company) -> dict:
    settings = services.settings_for(company)
    return {name: getattr(settings, name) for name in DEFAULTS}


def form_data(**changes) -> dict:
    data = {"rate_per_minute": "600", "window_start": "", "window_end": "", "consent_policy": "consent",
            "default_sequence": "", "sweep_threshold": "70"}  # fmt: skip
    return {**data, **changes}


# --- the page ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "expected"), [("admin", 200), ("manager", 403), ("sdr1", 403)])
def test_only_company_admins_open_the_settings_page(cast, client_for, role, expected):
    client = client_for(cast.a.member(role))
    assert client.get(settings_url(cast.a)).status_code == expected
    assert client.post(settings_url(cast.a), form_data(rate_per_minute="5")).status_code == (
        302 if role == "admin" else 403
    )
    assert saved(cast.a.company)["rate_per_minute"] == (5 if role == "admin" else 600)


def test_another_companys_settings_page_is_404(cast, client_for):
    client = client_for(cast.a.admin)
    assert client.get(settings_url(cast.b)).status_code == 404
    assert client.post(settings_url(cast.b), form_data(rate_per_minute="5")).status_code == 404
    assert saved(cast.b.company) == DEFAULTS


def test_the_sequence_list_links_to_the_settings_for_admins_only(cast, client_for):
    link = f'href="{settings_url(cast.a)}" data-testid="nurturing-settings"'
    list_url = reverse("nurturing:sequence_list", kwargs={"company_slug": "alpha"})
    assert link in client_for(cast.a.admin).get(list_url).content.decode()
    assert link not in client_for(cast.a.manager).get(list_url).content.decode()


def test_the_default_sequence_choices_are_the_companys_active_sequences(cast, client_for):
    active = make_sequence(cast.a.company, name="Active one")
    make_sequence(cast.a.company, name="Draft", steps=[], active=False)
    make_sequence(cast.b.company, name="Bravo's")
    form = client_for(cast.a.admin).get(settings_url(cast.a)).context["form"]
    assert list(form.fields["default_sequence"].queryset) == [active]


def test_an_admin_saves_the_settings_with_a_history_row(cast, client_for):
    sequence = make_sequence(cast.a.company, name="Default nurture")
    response = client_for(cast.a.admin).post(settings_url(cast.a), form_data(
        rate_per_minute="120", window_start="22:00", window_end="06:30", consent_policy="legitimate_interest",
        default_sequence=str(sequence.pk), sweep_threshold="40"))  # fmt: skip
    assert (response.status_code, response["Location"]) == (302, settings_url(cast.a))
    assert saved(cast.a.company) == {
        "rate_per_minute": 120, "window_start": dt.time(22), "window_end": dt.time(6, 30),
        "consent_policy": ConsentPolicy.LEGITIMATE_INTEREST, "default_sequence": sequence, "sweep_threshold": 40,
    }  # fmt: skip
    history = services.settings_for(cast.a.company).history.first()
    assert (history.history_change_reason, history.history_user) == (CHANGED, cast.a.admin.user)
    page = client_for(cast.a.admin).get(settings_url(cast.a))
    assert messages_of(response) == ["Sending settings saved: the next run uses them."]
    assert (page.context["form"]["window_start"].value(), page.context["form"]["sweep_threshold"].value()) == (
        dt.time(22), 40)  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"window_start": "09:00", "window_end": "09:00"},
         {"window_end": ["The sending window must end at another time than it starts."]}),
        ({"window_start": "09:00"}, {"window_end": ["Give both ends of the sending window, or neither."]}),
        ({"rate_per_minute": "-5"}, {"rate_per_minute": ["Give at least 1 email per minute."]}),
        ({"rate_per_minute": "0"}, {"rate_per_minute": ["Give at least 1 email per minute."]}),
        ({"sweep_threshold": "-1"}, {"sweep_threshold": ["Give a threshold from 0 to 100."]}),
        ({"sweep_threshold": "101"}, {"sweep_threshold": ["Ensure this value is less than or equal to 100."]}),
        ({"consent_policy": "nobody"},
         {"consent_policy": ["Select a valid choice. nobody is not one of the available choices."]}),
        ({"window_start": "25:00", "window_end": "09:00"}, {"window_start": ["Enter a valid time."]}),
    ],
)  # fmt: skip
def test_bad_settings_are_a_field_error_and_save_nothing(cast, client_for, changes, errors):
    response = client_for(cast.a.admin).post(settings_url(cast.a), form_data(**{"rate_per_minute": "9", **changes}))
    assert (response.status_code, field_errors(response)) == (200, errors)
    assert saved(cast.a.company) == DEFAULTS
    assert not services.settings_for(cast.a.company).history.filter(history_change_reason=CHANGED).exists()


@pytest.mark.parametrize("whose", ["other company", "inactive"])
def test_a_sequence_of_another_company_or_an_inactive_one_is_not_a_choice(cast, client_for, whose):
    company = cast.b.company if whose == "other company" else cast.a.company
    sequence = make_sequence(company, active=whose == "other company")
    response = client_for(cast.a.admin).post(settings_url(cast.a), form_data(default_sequence=str(sequence.pk)))
    assert field_errors(response) == {
        "default_sequence": ["Select a valid choice. That choice is not one of the available choices."]
    }
    assert saved(cast.a.company) == DEFAULTS


# --- the service ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"window_start": dt.time(8), "window_end": dt.time(8)},
         {"window_end": ["The sending window must end at another time than it starts."]}),
        ({"rate_per_minute": -1}, {"rate_per_minute": ["Give at least 1 email per minute."]}),
        ({"sweep_threshold": 101}, {"sweep_threshold": ["Ensure this value is less than or equal to 100."]}),
        ({"colour": "blue"}, {"colour": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_the_service_refuses_bad_values_naming_the_field(cast, fields, errors):
    with pytest.raises(ValidationError) as refused:
        services.nurturing_settings_update(actor=cast.a.admin, settings=services.settings_for(cast.a.company),
                                           **{"consent_policy": ConsentPolicy.LEGITIMATE_INTEREST, **fields})  # fmt: skip
    assert refused.value.message_dict == errors
    assert saved(cast.a.company) == DEFAULTS


def test_the_service_refuses_a_sequence_of_another_company_and_an_inactive_one(cast):
    settings = services.settings_for(cast.a.company)
    cases = [(make_sequence(cast.b.company), "Choose a sequence of this company."),
             (make_sequence(cast.a.company, active=False), "Choose an active sequence: the sweep enrols only into "
                                                           "those.")]  # fmt: skip
    for sequence, message in cases:
        with pytest.raises(ValidationError) as refused:
            services.nurturing_settings_update(actor=cast.a.admin, settings=settings, default_sequence=sequence,
                                               sweep_threshold=10)  # fmt: skip
        assert refused.value.message_dict == {"default_sequence": [message]}
    assert saved(cast.a.company) == DEFAULTS


def test_a_default_sequence_deactivated_since_stays_while_other_settings_change(cast):
    sequence = make_sequence(cast.a.company)
    settings = services.nurturing_settings_update(actor=cast.a.admin, settings=services.settings_for(cast.a.company),
                                                  default_sequence=sequence)  # fmt: skip
    services.sequence_update(actor=cast.a.admin, sequence=sequence, data={"is_active": False})
    services.nurturing_settings_update(actor=cast.a.admin, settings=settings, default_sequence=sequence,
                                       rate_per_minute=30)  # fmt: skip
    assert (saved(cast.a.company)["default_sequence"], saved(cast.a.company)["rate_per_minute"]) == (sequence, 30)


@pytest.mark.parametrize("role", ["manager", "sdr1"])
def test_only_company_admins_may_change_the_settings(cast, role):
    with pytest.raises(PermissionDenied):
        services.nurturing_settings_update(actor=cast.a.member(role), settings=services.settings_for(cast.a.company),
                                           rate_per_minute=5)  # fmt: skip
    with pytest.raises(PermissionDenied):
        services.nurturing_settings_update(actor=cast.a.admin, settings=services.settings_for(cast.b.company),
                                           rate_per_minute=5)  # fmt: skip
    assert (saved(cast.a.company), saved(cast.b.company)) == (DEFAULTS, DEFAULTS)


# --- the saved settings at work ------------------------------------------------------------------


def test_the_sweep_uses_the_threshold_saved_on_the_page(cast, client_for):
    sequence = make_sequence(cast.a.company, name="Default nurture")
    low = make_consenting_lead(cast.a.company)
    high = make_consenting_lead(cast.a.company, lead_source="Referral", authority_level="decision_maker")
    assert low.score < high.score
    client = client_for(cast.a.admin)
    client.post(settings_url(cast.a), form_data(default_sequence=str(sequence.pk), sweep_threshold=str(high.score)))
    assert tasks.sweep_all_companies() == {cast.a.company.pk: 1}
    assert list(Enrolment.objects.values_list("lead_id", flat=True)) == [low.pk]
    client.post(settings_url(cast.a), form_data(default_sequence=str(sequence.pk), sweep_threshold=str(high.score + 1)))
    assert tasks.sweep_all_companies() == {cast.a.company.pk: 1}
    assert set(Enrolment.objects.values_list("lead_id", flat=True)) == {low.pk, high.pk}


# --- the API -------------------------------------------------------------------------------------


def api_url(tenant) -> str:
    return f"/api/companies/{tenant.company.pk}/nurturing-settings"


def test_members_read_the_settings_through_the_api(cast, client_for):
    response = client_for(cast.a.sdr1).get(api_url(cast.a))
    assert (response.status_code, response.json()) == (200, {
        "rate_per_minute": 600, "window_start": None, "window_end": None, "consent_policy": "consent",
        "default_sequence": None, "sweep_threshold": 70})  # fmt: skip


def test_an_admin_patches_the_settings_through_the_api(cast, client_for):
    sequence = make_sequence(cast.a.company)
    response = client_for(cast.a.admin).patch(api_url(cast.a), {
        "window_start": "09:00", "window_end": "17:00", "default_sequence": sequence.pk, "sweep_threshold": 50},
        content_type="application/json")  # fmt: skip
    assert (response.status_code, response.json()) == (200, {
        "rate_per_minute": 600, "window_start": "09:00:00", "window_end": "17:00:00", "consent_policy": "consent",
        "default_sequence": sequence.pk, "sweep_threshold": 50})  # fmt: skip
    assert saved(cast.a.company)["default_sequence"] == sequence


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"window_start": "09:00", "window_end": "09:00"},
         {"window_end": ["The sending window must end at another time than it starts."]}),
        ({"rate_per_minute": -3}, {"rate_per_minute": ["Give at least 1 email per minute."]}),
        ({"default_sequence": "other company"}, {"default_sequence": ["Choose a valid sequence of this company."]}),
        ({"colour": "blue"}, {"colour": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_bad_settings_through_the_api_are_400_naming_the_field(cast, client_for, body, errors):
    if body.get("default_sequence") == "other company":
        body = {"default_sequence": make_sequence(cast.b.company).pk}
    response = client_for(cast.a.admin).patch(api_url(cast.a), body, content_type="application/json")
    assert (response.status_code, response.json()) == (400, errors)
    assert saved(cast.a.company) == DEFAULTS


def test_the_settings_api_is_403_for_a_manager_and_404_for_another_company(cast, client_for):
    manager = client_for(cast.a.manager)
    assert manager.patch(api_url(cast.a), {"rate_per_minute": 5}, content_type="application/json").status_code == 403
    admin = client_for(cast.a.admin)
    assert admin.get(api_url(cast.b)).status_code == 404
    assert admin.patch(api_url(cast.b), {"rate_per_minute": 5}, content_type="application/json").status_code == 404
    assert NurturingSettings.objects.filter(rate_per_minute=5).count() == 0
