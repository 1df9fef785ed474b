"""Company-admin pages for lead statuses, transitions, campaigns and custom fields, and the services
behind them (leads.config.services)."""

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.testing.cast import ROLES
from crm.testing.urlwalk import tenant_routes
from leads import services
from leads.config import services as settings_services
from leads.models import Campaign, CustomField, LeadStatus, StatusChange, StatusTransition
from leads.testing.factories import make_campaign, make_custom_field, make_lead, status

NS = "leads:config"


def url(name, company, **kwargs):
    return reverse(f"{NS}:{name}", kwargs={"company_slug": company.slug, **kwargs})


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def errors_of(call, **kwargs):
    with pytest.raises(ValidationError) as error:
        call(**kwargs)
    return error.value.message_dict


def form_errors(response):
    return dict(response.context["form"].errors)


def status_post(**overrides):
    data = {
        "key": "demo_booked",
        "name": "Demo booked",
        "description": "A demo is in the calendar.",
        "color": "#1E88E5",
        "category": "open",
        "order": "35",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def queries_for(client, path):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    return len(queries), response


def initial_keys(company):
    return list(LeadStatus.objects.filter(company=company, is_initial=True).values_list("key", flat=True))


# --- permissions ---------------------------------------------------------------------------------

# (url name, object param, method, status for a company admin)
PAGES = [
    ("index", None, "get", 200),
    ("status_list", None, "get", 200),
    ("status_create", None, "get", 200),
    ("status_edit", "status_id", "get", 200),
    ("status_retire", "status_id", "post", 302),
    ("status_unretire", "status_id", "post", 302),
    ("status_delete", "status_id", "get", 200),
    ("transition_list", None, "get", 200),
    ("transition_create", None, "get", 200),
    ("transition_edit", "transition_id", "get", 200),
    ("transition_delete", "transition_id", "get", 200),
    ("campaign_list", None, "get", 200),
    ("campaign_create", None, "get", 200),
    ("campaign_edit", "campaign_id", "get", 200),
    ("field_list", None, "get", 200),
    ("field_create", None, "get", 200),
    ("field_edit", "field_id", "get", 200),
]


def object_ids(tenant):
    return {
        "status_id": status(tenant.company, "recycled").pk,
        "transition_id": StatusTransition.objects.filter(company=tenant.company).first().pk,
        "campaign_id": make_campaign(tenant.company, "Spring webinar").pk,
        "field_id": make_custom_field(tenant.company, "industry").pk,
    }


def test_the_permission_table_covers_every_settings_page():
    routes = {r.name.removeprefix(f"{NS}:") for r in tenant_routes() if r.name.startswith(f"{NS}:")}
    assert routes == {name for name, *_ in PAGES}


@pytest.mark.parametrize(("name", "param", "method", "admin_status"), PAGES, ids=[p[0] for p in PAGES])
@pytest.mark.parametrize("role", ROLES)
def test_only_company_admins_reach_the_settings_pages(name, param, method, admin_status, role, cast, client_for):
    kwargs = {param: object_ids(cast.a)[param]} if param else {}
    response = getattr(client_for(cast.a.member(role)), method)(url(name, cast.a.company, **kwargs))
    assert response.status_code == (admin_status if role == "admin" else 403)


def test_the_index_links_the_four_sections(cast, client_for):
    response = client_for(cast.a.admin).get(url("index", cast.a.company))
    for name in ("status_list", "transition_list", "campaign_list", "field_list"):
        assert f'href="{url(name, cast.a.company)}"'.encode() in response.content


# --- statuses ------------------------------------------------------------------------------------


def test_the_status_list_shows_the_companys_statuses_in_order_with_their_lead_counts(cast, client_for):
    contacted = status(cast.a.company, "contacted")
    make_lead(cast.a.company, cast.a.sdr1)
    make_lead(cast.a.company, cast.a.sdr1, status=contacted)
    make_lead(cast.a.company, cast.a.sdr1, status=contacted)
    settings_services.status_create(
        company=cast.b.company, actor=None, data={"key": "bravo_only", "name": "Bravo only"}
    )
    make_lead(cast.b.company, cast.b.sdr1, status=status(cast.b.company, "contacted"))

    response = client_for(cast.a.admin).get(url("status_list", cast.a.company))

    rows = [(s.key, s.lead_count, s.is_active) for s in response.context["statuses"]]
    assert rows == [
        ("new", 1, True),
        ("contacted", 2, True),
        ("qualified", 0, True),
        ("unqualified", 0, True),
        ("converted", 0, True),
        ("recycled", 0, True),
        ("disqualified", 0, True),
    ]
    assert b'fill="#8e24aa"' in response.content  # Contacted's colour swatch
    assert b"Bravo only" not in response.content


def test_the_status_list_costs_the_same_queries_however_many_statuses(cast, client_for):
    client = client_for(cast.a.admin)
    client.get(url("status_list", cast.a.company))  # warm the session
    seven, _ = queries_for(client, url("status_list", cast.a.company))
    for n in range(3):
        settings_services.status_create(company=cast.a.company, actor=None, data={"key": f"s{n}", "name": f"S{n}"})
    ten, response = queries_for(client, url("status_list", cast.a.company))
    assert len(response.context["statuses"]) == 10
    assert ten == seven


def test_an_admin_creates_a_status(cast, client_for):
    client = client_for(cast.a.admin)
    response = client.post(url("status_create", cast.a.company), status_post(), follow=True)

    assert response.redirect_chain == [(url("status_list", cast.a.company), 302)]
    assert messages_of(response) == ["Status 'Demo booked' created."]
    created = LeadStatus.objects.get(company=cast.a.company, key="demo_booked")
    assert (created.name, created.color, created.order, created.is_initial, created.is_active) == (
        "Demo booked",
        "#1e88e5",
        35,
        False,
        True,
    )
    history = created.history.get()
    assert (history.history_change_reason, history.history_user) == ("leads.status.created", cast.a.admin.user)


def test_a_status_without_an_order_goes_last(cast):
    created = settings_services.status_create(
        company=cast.a.company, actor=cast.a.admin, data={"key": "late", "name": "Late"}
    )
    assert created.order == 70


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"key": "contacted"}, "key", "A status with the key 'contacted' already exists."),
        ({"name": "CONTACTED"}, "name", "A status named 'CONTACTED' already exists."),
        ({"key": "Demo Booked"}, "key", "Enter a valid “slug” consisting of letters, numbers, underscores or hyphens."),
        ({"color": "blue"}, "color", "Use a colour like #1e88e5."),
        ({"is_initial": "on", "is_terminal": "on"}, "is_terminal", None),
    ],
)
def test_a_bad_status_names_the_field_and_creates_nothing(overrides, field, message, cast, client_for):
    before = LeadStatus.objects.count()
    response = client_for(cast.a.admin).post(url("status_create", cast.a.company), status_post(**overrides))
    assert response.status_code == 200
    expected = message or "The initial status cannot be terminal: new leads could never move on."
    assert form_errors(response)[field] == [expected]
    assert LeadStatus.objects.count() == before
    assert initial_keys(cast.a.company) == ["new"]


def test_the_same_status_key_may_exist_in_another_company(cast):
    settings_services.status_create(company=cast.b.company, actor=cast.b.admin, data={"key": "demo", "name": "Demo"})
    created = settings_services.status_create(
        company=cast.a.company, actor=cast.a.admin, data={"key": "demo", "name": "Demo"}
    )
    assert created.company == cast.a.company


def test_an_admin_edits_a_status_but_not_its_key(cast, client_for):
    contacted = status(cast.a.company, "contacted")
    data = status_post(key="reached", name="Reached", color="#00897b", category="open", order="15")
    response = client_for(cast.a.admin).post(url("status_edit", cast.a.company, status_id=contacted.pk), data)

    assert response.status_code == 302
    contacted.refresh_from_db()
    assert (contacted.key, contacted.name, contacted.color, contacted.order) == ("contacted", "Reached", "#00897b", 15)
    assert contacted.history.first().history_change_reason == "leads.status.changed"


def test_the_key_of_a_status_cannot_change_through_the_service(cast):
    contacted = status(cast.a.company, "contacted")
    errors = errors_of(settings_services.status_update, actor=cast.a.admin, status=contacted, data={"key": "reached"})
    assert errors == {"key": [settings_services.KEY_IS_FIXED]}


def test_making_a_status_initial_takes_over_from_the_previous_one(cast, client_for):
    contacted = status(cast.a.company, "contacted")
    data = status_post(key="contacted", name="Contacted", color="#8e24aa", order="10", is_initial="on")
    response = client_for(cast.a.admin).post(url("status_edit", cast.a.company, status_id=contacted.pk), data)

    assert response.status_code == 302
    assert initial_keys(cast.a.company) == ["contacted"]
    assert initial_keys(cast.b.company) == ["new"]
    previous = status(cast.a.company, "new").history.first()
    assert (previous.is_initial, previous.history_change_reason) == (False, "leads.status.changed")
    assert make_lead(cast.a.company, cast.a.sdr1).status == contacted


def test_a_new_initial_status_takes_over_too(cast):
    settings_services.status_create(
        company=cast.a.company, actor=cast.a.admin, data={"key": "inbox", "name": "Inbox", "is_initial": True}
    )
    assert initial_keys(cast.a.company) == ["inbox"]


def test_the_only_initial_status_cannot_be_unflagged(cast, client_for):
    new = status(cast.a.company, "new")
    data = status_post(key="new", name="New", color="#1e88e5", order="0")  # is_initial left unticked
    response = client_for(cast.a.admin).post(url("status_edit", cast.a.company, status_id=new.pk), data)

    assert response.status_code == 200
    assert form_errors(response) == {"is_initial": [settings_services.INITIAL_NEEDED]}
    assert response.context["status"].is_initial is True  # the page still describes the saved status
    assert initial_keys(cast.a.company) == ["new"]
    new.refresh_from_db()
    assert new.name == "New"


def test_converted_must_stay_terminal(cast):
    converted = status(cast.a.company, "converted")
    errors = errors_of(
        settings_services.status_update, actor=cast.a.admin, status=converted, data={"is_terminal": False}
    )
    assert errors == {"is_terminal": ["Converted is final: it must stay terminal."]}
    converted.refresh_from_db()
    assert converted.is_terminal is True


def test_a_status_with_transitions_out_cannot_become_terminal(cast):
    recycled = status(cast.a.company, "recycled")
    errors = errors_of(settings_services.status_update, actor=cast.a.admin, status=recycled, data={"is_terminal": True})
    assert errors == {"is_terminal": ["Remove the 1 transition out of Recycled before making it terminal."]}


def test_a_manager_cannot_change_statuses_through_the_service_either(cast):
    with pytest.raises(PermissionDenied):
        settings_services.status_create(company=cast.a.company, actor=cast.a.manager, data={"key": "x", "name": "X"})
    with pytest.raises(PermissionDenied):
        settings_services.status_retire(actor=cast.a.admin, status=status(cast.b.company, "recycled"))


def test_an_admin_retires_and_unretires_a_status(cast, client_for):
    client = client_for(cast.a.admin)
    recycled = status(cast.a.company, "recycled")

    response = client.post(url("status_retire", cast.a.company, status_id=recycled.pk), follow=True)
    assert messages_of(response) == ["Status 'Recycled' retired: leads can no longer move into it."]
    recycled.refresh_from_db()
    assert recycled.is_active is False
    assert recycled.history.first().history_change_reason == "leads.status.retired"

    lead = make_lead(cast.a.company, cast.a.sdr1, status=status(cast.a.company, "contacted"))
    with pytest.raises(ValidationError):
        services.lead_transition(actor=cast.a.sdr1, lead=lead, to_status=recycled)

    response = client.post(url("status_unretire", cast.a.company, status_id=recycled.pk), follow=True)
    assert messages_of(response) == ["Status 'Recycled' is in use again."]
    recycled.refresh_from_db()
    assert recycled.is_active is True
    assert recycled.history.first().history_change_reason == "leads.status.unretired"


def test_the_initial_status_cannot_be_retired(cast, client_for):
    new = status(cast.a.company, "new")
    response = client_for(cast.a.admin).post(url("status_retire", cast.a.company, status_id=new.pk), follow=True)
    assert messages_of(response) == ["Status 'New' is the initial status; make another status initial first."]
    new.refresh_from_db()
    assert new.is_active is True


def test_retiring_is_post_only(cast, client_for):
    recycled = status(cast.a.company, "recycled")
    response = client_for(cast.a.admin).get(url("status_retire", cast.a.company, status_id=recycled.pk))
    assert response.status_code == 405
    recycled.refresh_from_db()
    assert recycled.is_active is True


def test_an_unused_status_is_deleted_with_its_transitions(cast, client_for):
    demo = settings_services.status_create(
        company=cast.a.company, actor=cast.a.admin, data={"key": "demo", "name": "Demo"}
    )
    settings_services.transition_create(
        company=cast.a.company,
        actor=cast.a.admin,
        data={"from_status": status(cast.a.company, "new"), "to_status": demo},
    )
    client = client_for(cast.a.admin)
    confirm = client.get(url("status_delete", cast.a.company, status_id=demo.pk))
    assert confirm.context["blocker"] is None

    response = client.post(url("status_delete", cast.a.company, status_id=demo.pk), follow=True)

    assert messages_of(response) == ["Status 'Demo' deleted."]
    assert not LeadStatus.objects.filter(pk=demo.pk).exists()
    assert not StatusTransition.objects.filter(to_status_id=demo.pk).exists()
    deleted = LeadStatus.history.filter(id=demo.pk).first()
    assert (deleted.history_type, deleted.history_change_reason) == ("-", "leads.status.deleted")


def test_a_status_in_use_is_not_deleted(cast, client_for):
    contacted = status(cast.a.company, "contacted")
    for _ in range(2):
        make_lead(cast.a.company, cast.a.sdr1, status=contacted)
    transitions = StatusTransition.objects.filter(company=cast.a.company).count()
    client = client_for(cast.a.admin)

    confirm = client.get(url("status_delete", cast.a.company, status_id=contacted.pk))
    assert confirm.context["blocker"] == "Status 'Contacted' is used by 2 leads; retire it instead."
    response = client.post(url("status_delete", cast.a.company, status_id=contacted.pk), follow=True)

    assert messages_of(response) == ["Status 'Contacted' is used by 2 leads; retire it instead."]
    contacted.refresh_from_db()
    assert (contacted.name, contacted.is_active) == ("Contacted", True)
    assert StatusTransition.objects.filter(company=cast.a.company).count() == transitions


def test_a_status_left_in_the_history_of_a_lead_is_not_deleted(cast):
    contacted = status(cast.a.company, "contacted")
    lead = make_lead(cast.a.company, cast.a.sdr1, status=contacted)
    services.lead_transition(actor=cast.a.sdr1, lead=lead, to_status=status(cast.a.company, "qualified"))

    errors = errors_of(settings_services.status_delete, actor=cast.a.admin, status=contacted)

    assert errors == {"__all__": ["Status 'Contacted' is in the status history of 1 lead; retire it instead."]}
    assert StatusChange.objects.filter(to_status=contacted).count() == 1


def test_the_initial_and_converted_statuses_are_never_deleted(cast):
    new, converted = status(cast.a.company, "new"), status(cast.a.company, "converted")
    assert errors_of(settings_services.status_delete, actor=cast.a.admin, status=new) == {
        "__all__": ["Status 'New' is the initial status; make another status initial before deleting it."]
    }
    assert errors_of(settings_services.status_delete, actor=cast.a.admin, status=converted) == {
        "__all__": ["Converted is needed to convert leads and cannot be deleted."]
    }
    assert LeadStatus.objects.filter(pk__in=[new.pk, converted.pk]).count() == 2


# --- transitions ---------------------------------------------------------------------------------


def test_the_transition_list_shows_the_companys_transitions_at_a_fixed_cost(cast, client_for):
    client = client_for(cast.a.admin)
    client.get(url("transition_list", cast.a.company))
    fourteen, response = queries_for(client, url("transition_list", cast.a.company))
    pairs = [(t.from_status.key, t.to_status.key) for t in response.context["transitions"]]
    assert pairs[:3] == [("new", "contacted"), ("new", "unqualified"), ("new", "disqualified")]
    assert len(pairs) == 14
    assert {t.company_id for t in response.context["transitions"]} == {cast.a.company.pk}

    StatusTransition.objects.filter(company=cast.a.company, from_status__key="new").delete()
    eleven, response = queries_for(client, url("transition_list", cast.a.company))
    assert len(response.context["transitions"]) == 11
    assert eleven == fourteen


def test_an_admin_adds_a_transition(cast, client_for):
    new, qualified = status(cast.a.company, "new"), status(cast.a.company, "qualified")
    data = {
        "from_status": new.pk,
        "to_status": qualified.pk,
        "allowed_roles": ["manager", "admin"],
        "note_required": "on",
    }
    response = client_for(cast.a.admin).post(url("transition_create", cast.a.company), data, follow=True)

    assert messages_of(response) == ["Transition New → Qualified added."]
    transition = StatusTransition.objects.get(from_status=new, to_status=qualified)
    assert (transition.company, transition.allowed_roles, transition.note_required) == (
        cast.a.company,
        ["admin", "manager"],
        True,
    )


def test_a_transition_to_or_from_another_companys_status_is_refused(cast, client_for):
    new, foreign = status(cast.a.company, "new"), status(cast.b.company, "qualified")
    before = StatusTransition.objects.count()
    client = client_for(cast.a.admin)

    to_foreign = client.post(url("transition_create", cast.a.company), {"from_status": new.pk, "to_status": foreign.pk})
    from_foreign = client.post(
        url("transition_create", cast.a.company), {"from_status": foreign.pk, "to_status": new.pk}
    )

    choice_error = ["Select a valid choice. That choice is not one of the available choices."]
    assert form_errors(to_foreign) == {"to_status": choice_error}
    assert form_errors(from_foreign) == {"from_status": choice_error}
    assert errors_of(
        settings_services.transition_create,
        company=cast.a.company,
        actor=cast.a.admin,
        data={"from_status": new, "to_status": foreign},
    ) == {"to_status": ["Choose a status of this company."]}
    transition = StatusTransition.objects.filter(company=cast.a.company).first()
    assert errors_of(
        settings_services.transition_update, actor=cast.a.admin, transition=transition, data={"from_status": foreign.pk}
    ) == {"from_status": ["Choose a status of this company."]}
    assert StatusTransition.objects.count() == before


@pytest.mark.parametrize(
    ("source", "target", "roles", "errors"),
    [
        ("converted", "new", [], {"from_status": ["Converted is terminal: no transition may leave it."]}),
        ("new", "new", [], {"to_status": ["A transition must lead to a different status."]}),
        ("new", "contacted", [], {"to_status": ["There is already a transition from New to Contacted."]}),
        (
            "new",
            "qualified",
            ["sdr", "boss"],
            {"allowed_roles": ["Unknown role(s): boss. Choose from admin, manager, sdr."]},
        ),
    ],
)
def test_the_workflow_rules_of_transitions(source, target, roles, errors, cast):
    before = StatusTransition.objects.count()
    data = {
        "from_status": status(cast.a.company, source),
        "to_status": status(cast.a.company, target),
        "allowed_roles": roles,
    }
    assert (
        errors_of(settings_services.transition_create, company=cast.a.company, actor=cast.a.admin, data=data) == errors
    )
    assert StatusTransition.objects.count() == before


def test_an_admin_edits_and_deletes_a_transition(cast, client_for):
    transition = StatusTransition.objects.get(from_status=status(cast.a.company, "new"), to_status__key="contacted")
    client = client_for(cast.a.admin)
    data = {"from_status": transition.from_status_id, "to_status": transition.to_status_id, "allowed_roles": ["sdr"]}

    response = client.post(url("transition_edit", cast.a.company, transition_id=transition.pk), data, follow=True)
    assert messages_of(response) == ["Transition New → Contacted saved."]
    transition.refresh_from_db()
    assert (transition.allowed_roles, transition.note_required) == (["sdr"], False)

    response = client.post(url("transition_delete", cast.a.company, transition_id=transition.pk), follow=True)
    assert messages_of(response) == ["Transition New → Contacted deleted."]
    assert not StatusTransition.objects.filter(pk=transition.pk).exists()


# --- campaigns -----------------------------------------------------------------------------------


def test_an_admin_creates_and_edits_a_campaign(cast, client_for):
    client = client_for(cast.a.admin)
    data = {
        "name": " Autumn fair ",
        "source": "Event",
        "medium": "offline",
        "starts_on": "2025-09-01",
        "is_active": "on",
    }
    response = client.post(url("campaign_create", cast.a.company), data, follow=True)

    assert messages_of(response) == ["Campaign 'Autumn fair' created."]
    campaign = Campaign.objects.get(company=cast.a.company, name="Autumn fair")
    assert campaign.history.get().history_change_reason == "leads.campaign.created"

    data.update(name="Autumn fair 2025", ends_on="2025-09-03")
    response = client.post(url("campaign_edit", cast.a.company, campaign_id=campaign.pk), data)
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, str(campaign.ends_on)) == ("Autumn fair 2025", "2025-09-03")
    latest = campaign.history.first()
    assert (latest.history_change_reason, latest.history_user) == ("leads.campaign.changed", cast.a.admin.user)


def test_campaign_names_are_unique_per_company(cast, client_for):
    make_campaign(cast.a.company, "Spring webinar")
    make_campaign(cast.b.company, "Trade show")
    client = client_for(cast.a.admin)

    taken = client.post(url("campaign_create", cast.a.company), {"name": "spring WEBINAR", "is_active": "on"})
    free = client.post(url("campaign_create", cast.a.company), {"name": "Trade show", "is_active": "on"})

    assert form_errors(taken) == {"name": ["A campaign named 'spring WEBINAR' already exists."]}
    assert free.status_code == 302
    assert sorted(Campaign.objects.filter(company=cast.a.company).values_list("name", flat=True)) == [
        "Spring webinar",
        "Trade show",
    ]


def test_a_campaign_cannot_end_before_it_starts(cast, client_for):
    data = {"name": "Backwards", "starts_on": "2025-05-10", "ends_on": "2025-05-01"}
    response = client_for(cast.a.admin).post(url("campaign_create", cast.a.company), data)
    assert form_errors(response) == {"ends_on": ["The end date cannot be before the start date."]}
    assert not Campaign.objects.filter(name="Backwards").exists()


def test_the_campaign_list_shows_only_the_companys_campaigns(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.sdr1)
    make_lead(cast.b.company, cast.b.sdr1, campaign=make_campaign(cast.b.company, "Bravo secret launch"))
    response = client_for(cast.a.admin).get(url("campaign_list", cast.a.company))
    assert [(c.name, c.lead_count) for c in response.context["campaigns"]] == [(lead.campaign.name, 1)]
    assert b"Bravo secret launch" not in response.content


# --- custom fields -------------------------------------------------------------------------------


def field_post(**overrides):
    data = {
        "key": "industry",
        "label": "Industry",
        "field_type": "choice",
        "choices": "Retail\n Banking \n\n",
        "is_active": "on",
    }
    data.update(overrides)
    return data


def test_an_admin_creates_a_choice_field(cast, client_for):
    response = client_for(cast.a.admin).post(url("field_create", cast.a.company), field_post(), follow=True)
    assert messages_of(response) == ["Custom field 'Industry' created."]
    field = CustomField.objects.get(company=cast.a.company, key="industry")
    assert (field.field_type, field.choices, field.required, field.is_active) == (
        "choice",
        ["Retail", "Banking"],
        False,
        True,
    )


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"choices": ""}, {"choices": ["A choice field needs at least one choice."]}),
        (
            {"field_type": "text"},
            {"choices": ["Only a choice field has choices: clear them or make it a choice field."]},
        ),
        ({"choices": "Retail\nRetail"}, {"choices": ["Each choice must appear once: Retail."]}),
        ({"key": "Industry"}, {"key": ["Use lower-case letters, digits and _."]}),
    ],
)
def test_custom_field_choices_belong_to_choice_fields_only(overrides, errors, cast, client_for):
    response = client_for(cast.a.admin).post(url("field_create", cast.a.company), field_post(**overrides))
    assert form_errors(response) == errors
    assert not CustomField.objects.filter(company=cast.a.company).exists()


def test_a_custom_field_key_is_unique_per_company(cast, client_for):
    make_custom_field(cast.b.company, "industry", "text")
    client = client_for(cast.a.admin)
    assert client.post(url("field_create", cast.a.company), field_post()).status_code == 302
    again = client.post(url("field_create", cast.a.company), field_post())
    assert form_errors(again) == {"key": ["A custom field with the key 'industry' already exists."]}


def test_a_custom_field_keeps_its_key_when_edited(cast, client_for):
    field = make_custom_field(cast.a.company, "industry", "choice", choices=["Retail"])
    data = field_post(key="sector", label="Sector", choices="Retail\nEnergy", required="on", is_active="on")
    response = client_for(cast.a.admin).post(url("field_edit", cast.a.company, field_id=field.pk), data)

    assert response.status_code == 302
    field.refresh_from_db()
    assert (field.key, field.label, field.choices, field.required, field.is_active) == (
        "industry",
        "Sector",
        ["Retail", "Energy"],
        True,
        True,
    )
    assert errors_of(
        settings_services.custom_field_update, actor=cast.a.admin, field=field, data={"key": "sector"}
    ) == {"key": [settings_services.KEY_IS_FIXED]}


def test_the_edit_form_shows_the_choices_one_per_line(cast, client_for):
    field = make_custom_field(cast.a.company, "industry", "choice", choices=["Retail", "Energy"])
    response = client_for(cast.a.admin).get(url("field_edit", cast.a.company, field_id=field.pk))
    assert response.context["form"]["choices"].value() == "Retail\nEnergy"
    assert response.context["form"].fields["key"].disabled is True
