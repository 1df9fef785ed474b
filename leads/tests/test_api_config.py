"""The workflow, saved views, export templates and scheduled exports over the API: the same
services and rules as the pages, refused roles get 403, another company's objects are 404."""

import pytest
from django.urls import reverse
from django_q.models import Schedule
from rest_framework.test import APIClient

from leads.config.services import KEY_IS_FIXED
from leads.listing import NOT_YOUR_VIEW
from leads.models import ExportRun, ExportTemplate, LeadStatus, SavedFilter, ScheduledExport, StatusTransition
from leads.testing.factories import make_export_template, make_lead, make_scheduled_export, status
from leads.transfer.schedules import SCHEDULE_FUNC

NOT_FOUND = {"detail": "Not found."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
ROLES = ("admin", "manager", "sdr1", "sdr2")


def api_for(membership) -> APIClient:
    client = APIClient()
    client.force_authenticate(membership.user)
    return client


def url(company, path: str) -> str:
    return f"/api/companies/{company.pk}/{path}"


# --- statuses ------------------------------------------------------------------------------------

NEW_STATUS = {"key": "nurture", "name": "Nurture", "description": "Not now, later.", "color": "#00897b",
              "category": "open"}  # fmt: skip


def test_an_admin_adds_a_status_through_the_workflow_service(cast):
    response = api_for(cast.a.admin).post(url(cast.a.company, "statuses"), NEW_STATUS, format="json")

    created = LeadStatus.objects.get(company=cast.a.company, key="nurture")
    assert response.status_code == 201
    assert response.json() == {
        "id": created.pk, "key": "nurture", "name": "Nurture", "description": "Not now, later.", "order": 70,
        "color": "#00897b", "category": "open", "is_initial": False, "is_terminal": False, "is_active": True,
    }  # fmt: skip
    assert (created.history.get().history_change_reason, created.history.get().history_user) == (
        "leads.status.created",
        cast.a.admin.user,
    )


@pytest.mark.parametrize("role", ["manager", "sdr1", "sdr2"])
def test_managers_and_sdrs_list_statuses_but_cannot_change_them(role, cast):
    client = api_for(cast.a.member(role))
    contacted = status(cast.a.company, "contacted")

    listed = client.get(url(cast.a.company, "statuses"))
    writes = [
        client.post(url(cast.a.company, "statuses"), NEW_STATUS, format="json"),
        client.get(url(cast.a.company, f"statuses/{contacted.pk}")),
        client.patch(url(cast.a.company, f"statuses/{contacted.pk}"), {"name": "Reached"}, format="json"),
        client.delete(url(cast.a.company, f"statuses/{contacted.pk}")),
        client.post(url(cast.a.company, f"statuses/{contacted.pk}/retire")),
        client.post(url(cast.a.company, f"statuses/{contacted.pk}/unretire")),
    ]

    assert [s["key"] for s in listed.json()] == [
        "new", "contacted", "qualified", "unqualified", "converted", "recycled", "disqualified",
    ]  # fmt: skip
    assert [(r.status_code, r.json()) for r in writes] == [(403, FORBIDDEN)] * 6
    contacted.refresh_from_db()
    assert (contacted.name, contacted.is_active, LeadStatus.objects.filter(company=cast.a.company).count()) == (
        "Contacted",
        True,
        7,
    )


def test_an_admin_renames_a_status_but_never_changes_its_key(cast):
    contacted = status(cast.a.company, "contacted")
    client = api_for(cast.a.admin)

    renamed = client.patch(url(cast.a.company, f"statuses/{contacted.pk}"), {"name": "Reached"}, format="json")
    rekeyed = client.patch(url(cast.a.company, f"statuses/{contacted.pk}"), {"key": "reached"}, format="json")

    assert (renamed.status_code, renamed.json()["name"], renamed.json()["key"]) == (200, "Reached", "contacted")
    assert (rekeyed.status_code, rekeyed.json()) == (400, {"key": [KEY_IS_FIXED]})
    contacted.refresh_from_db()
    assert (contacted.key, contacted.name) == ("contacted", "Reached")


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({**NEW_STATUS, "name": "contacted"}, {"name": ["A status named 'contacted' already exists."]}),
        ({**NEW_STATUS, "color": "teal"}, {"color": ["Use a colour like #1e88e5."]}),
        ({**NEW_STATUS, "is_initial": True, "is_terminal": True},
         {"is_terminal": ["The initial status cannot be terminal: new leads could never move on."]}),
        ({**NEW_STATUS, "category": "maybe"}, {"category": ['"maybe" is not a valid choice.']}),
        ({**NEW_STATUS, "is_active": False, "rank": 1}, {"rank": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_a_bad_status_is_a_400_naming_the_field_and_nothing_is_created(body, errors, cast):
    response = api_for(cast.a.admin).post(url(cast.a.company, "statuses"), body, format="json")

    assert (response.status_code, response.json()) == (400, errors)
    assert LeadStatus.objects.filter(company=cast.a.company).count() == 7


def test_a_retired_status_leaves_the_list_unless_asked_for(cast):
    recycled = status(cast.a.company, "recycled")
    client = api_for(cast.a.admin)

    retired = client.post(url(cast.a.company, f"statuses/{recycled.pk}/retire"))
    active = client.get(url(cast.a.company, "statuses"))
    everything = client.get(url(cast.a.company, "statuses"), {"include_retired": "true"})
    again = client.post(url(cast.a.company, f"statuses/{recycled.pk}/retire"))
    back = client.post(url(cast.a.company, f"statuses/{recycled.pk}/unretire"))

    assert (retired.status_code, retired.json()["is_active"]) == (200, False)
    assert "recycled" not in [s["key"] for s in active.json()]
    assert [(s["key"], s["is_active"]) for s in everything.json()][-2:] == [("recycled", False), ("disqualified", True)]
    assert (again.status_code, again.json()) == (400, {"is_active": ["Status 'Recycled' is already retired."]})
    assert (back.status_code, back.json()["is_active"]) == (200, True)


def test_the_initial_status_cannot_be_retired(cast):
    new = status(cast.a.company, "new")

    response = api_for(cast.a.admin).post(url(cast.a.company, f"statuses/{new.pk}/retire"))

    assert (response.status_code, response.json()) == (
        400,
        {"is_active": ["Status 'New' is the initial status; make another status initial first."]},
    )


def test_an_unused_status_is_deleted_and_a_used_one_must_be_retired(cast):
    client = api_for(cast.a.admin)
    created = client.post(url(cast.a.company, "statuses"), NEW_STATUS, format="json").json()
    make_lead(cast.a.company, cast.a.admin, status=status(cast.a.company, "contacted"))
    contacted = status(cast.a.company, "contacted")

    deleted = client.delete(url(cast.a.company, f"statuses/{created['id']}"))
    refused = client.delete(url(cast.a.company, f"statuses/{contacted.pk}"))

    assert deleted.status_code == 204
    assert (refused.status_code, refused.json()) == (
        400,
        {"non_field_errors": ["Status 'Contacted' is used by 1 lead; retire it instead."]},
    )
    assert set(LeadStatus.objects.filter(company=cast.a.company).values_list("key", flat=True)) == {
        "new", "contacted", "qualified", "unqualified", "converted", "recycled", "disqualified",
    }  # fmt: skip


def test_another_companys_status_is_404(cast):
    theirs = status(cast.b.company, "contacted")
    client = api_for(cast.a.admin)

    responses = [
        client.get(url(cast.a.company, f"statuses/{theirs.pk}")),
        client.patch(url(cast.a.company, f"statuses/{theirs.pk}"), {"name": "Mine"}, format="json"),
        client.post(url(cast.a.company, f"statuses/{theirs.pk}/retire")),
        client.get(url(cast.b.company, "statuses")),
    ]

    assert [(r.status_code, r.json()) for r in responses] == [(404, NOT_FOUND)] * 4
    theirs.refresh_from_db()
    assert (theirs.name, theirs.is_active) == ("Contacted", True)


# --- transitions ---------------------------------------------------------------------------------


def transition_body(cast, source="new", target="converted", **extra):
    return {"from_status": status(cast.a.company, source).pk, "to_status": status(cast.a.company, target).pk, **extra}


def test_an_admin_allows_a_move_for_some_roles(cast):
    response = api_for(cast.a.admin).post(
        url(cast.a.company, "transitions"),
        transition_body(cast, allowed_roles=["sdr", "admin"], note_required=True),
        format="json",
    )

    created = StatusTransition.objects.get(from_status__key="new", to_status__key="converted", company=cast.a.company)
    assert response.status_code == 201
    assert response.json() == {
        "id": created.pk,
        "from_status": created.from_status_id,
        "to_status": created.to_status_id,
        "allowed_roles": ["admin", "sdr"],
        "note_required": True,
    }


@pytest.mark.parametrize("role", ["manager", "sdr1", "sdr2"])
def test_managers_and_sdrs_list_transitions_but_cannot_change_them(role, cast):
    client = api_for(cast.a.member(role))
    existing = StatusTransition.objects.filter(company=cast.a.company).first()

    listed = client.get(url(cast.a.company, "transitions"))
    writes = [
        client.post(url(cast.a.company, "transitions"), transition_body(cast), format="json"),
        client.patch(url(cast.a.company, f"transitions/{existing.pk}"), {"note_required": True}, format="json"),
        client.delete(url(cast.a.company, f"transitions/{existing.pk}")),
    ]

    assert len(listed.json()) == 14
    assert [(r.status_code, r.json()) for r in writes] == [(403, FORBIDDEN)] * 3
    assert StatusTransition.objects.filter(company=cast.a.company).count() == 14


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"from_status": "bravo", "to_status": "converted"}, {"from_status": ["Choose a status of this company."]}),
        ({"from_status": "new", "to_status": "new"}, {"to_status": ["A transition must lead to a different status."]}),
        ({"from_status": "converted", "to_status": "new"},
         {"from_status": ["Converted is terminal: no transition may leave it."]}),
        ({"from_status": "new", "to_status": "contacted"},
         {"to_status": ["There is already a transition from New to Contacted."]}),
        ({"from_status": "new", "to_status": "converted", "allowed_roles": ["owner"]},
         {"allowed_roles": ['"owner" is not a valid choice.']}),
        ({"from_status": "new"}, {"to_status": ["This field is required."]}),
        ({"from_status": "new", "to_status": 2**63}, {"to_status": ["Give a valid id: a whole number from 1 to 9223372036854775807."]}),
    ],
)  # fmt: skip
def test_a_bad_transition_is_a_400_naming_the_field(body, errors, cast):
    def resolve(value):
        if value == "bravo":
            return status(cast.b.company, "new").pk
        return status(cast.a.company, value).pk if isinstance(value, str) else value

    body = {key: (resolve(value) if key.endswith("status") else value) for key, value in body.items()}

    response = api_for(cast.a.admin).post(url(cast.a.company, "transitions"), body, format="json")

    assert (response.status_code, response.json()) == (400, errors)
    assert StatusTransition.objects.filter(company=cast.a.company).count() == 14


def test_an_admin_changes_and_removes_a_transition(cast):
    existing = StatusTransition.objects.get(from_status__key="new", to_status__key="contacted", company=cast.a.company)
    client = api_for(cast.a.admin)

    changed = client.patch(url(cast.a.company, f"transitions/{existing.pk}"), {"allowed_roles": ["manager"]},
                           format="json")  # fmt: skip
    removed = client.delete(url(cast.a.company, f"transitions/{existing.pk}"))

    assert (changed.status_code, changed.json()["allowed_roles"]) == (200, ["manager"])
    assert removed.status_code == 204
    assert not StatusTransition.objects.filter(pk=existing.pk).exists()


def test_another_companys_transition_is_404(cast):
    theirs = StatusTransition.objects.filter(company=cast.b.company).first()
    client = api_for(cast.a.admin)

    responses = [
        client.get(url(cast.a.company, f"transitions/{theirs.pk}")),
        client.delete(url(cast.a.company, f"transitions/{theirs.pk}")),
        client.get(url(cast.b.company, "transitions")),
    ]

    assert [(r.status_code, r.json()) for r in responses] == [(404, NOT_FOUND)] * 3
    assert StatusTransition.objects.filter(pk=theirs.pk).exists()


# --- saved views ---------------------------------------------------------------------------------


def save_view(cast, membership, **body):
    data = {"name": "GB hot", "filter": "country=GB&priority=hot", "sort": "-score", "visibility": "private", **body}
    return api_for(membership).post(url(cast.a.company, "saved-views"), data, format="json")


def test_a_member_saves_a_private_view_only_they_see(cast):
    response = save_view(cast, cast.a.sdr1)

    saved = SavedFilter.objects.get()
    assert response.status_code == 201
    assert response.json() == {
        "id": saved.pk, "name": "GB hot", "filter": "country=GB&priority=hot", "sort": "-score",
        "visibility": "private", "owner": cast.a.sdr1.pk, "owner_name": "Alpha SDR One", "can_change": True,
        "created_at": saved.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": saved.updated_at.isoformat().replace("+00:00", "Z"),
    }  # fmt: skip
    assert saved.query == {"country": ["GB"], "priority": ["hot"]}
    seen = {role: [v["id"] for v in api_for(cast.a.member(role)).get(url(cast.a.company, "saved-views")).json()]
            for role in ROLES}  # fmt: skip
    assert seen == {"admin": [], "manager": [], "sdr1": [saved.pk], "sdr2": []}


def test_a_team_view_reaches_the_managers_team_only(cast):
    response = save_view(cast, cast.a.manager, visibility="team")

    seen = {role: [v["id"] for v in api_for(cast.a.member(role)).get(url(cast.a.company, "saved-views")).json()]
            for role in ROLES}  # fmt: skip
    assert seen == {"admin": [], "manager": [response.json()["id"]], "sdr1": [response.json()["id"]], "sdr2": []}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"visibility": "company"}, {"visibility": ["Only managers and admins share views with the whole company."]}),
        ({"name": " "}, {"name": ["Give the view a name."]}),
        ({"filter": "colour=red"}, {"filter": ["Unknown filter: colour."]}),
        ({"filter": "score_min=lots"}, {"filter": ["score_min: Enter a number."]}),
        ({"sort": "-salary"}, {"sort": ["Unknown sort key 'salary'. Use one of: name, company, status, owner, score, "
                                        "priority, created, updated, activity."]}),
        ({"visibility": "world"}, {"visibility": ['"world" is not a valid choice.']}),
        ({"sort": "score," + " " * 300 + "name"}, {"sort": ["Keep the sort under 200 characters."]}),
        ({"name": "V" * 101}, {"name": ["Keep the name under 100 characters."]}),
        ({"query": {}}, {"query": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_a_bad_view_is_a_400_naming_the_field_and_nothing_is_saved(body, errors, cast):
    response = save_view(cast, cast.a.sdr1, **body)

    assert (response.status_code, response.json()) == (400, errors)
    assert SavedFilter.objects.count() == 0


def test_the_list_page_refuses_the_same_bad_filter(cast, client_for):
    response = client_for(cast.a.sdr1).post(
        reverse("leads:saved_view_create", kwargs={"company_slug": "alpha"}),
        {"name": "Red", "visibility": "private", "filter_query": "colour=red&sort=-score"},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == ["Unknown filter: colour."]
    assert SavedFilter.objects.count() == 0


def test_a_second_view_with_the_same_name_is_refused(cast):
    save_view(cast, cast.a.sdr1)

    response = save_view(cast, cast.a.sdr1, name="gb HOT")

    assert (response.status_code, response.json()) == (400, {"name": ["You already have a view called “gb HOT”."]})


def test_the_owner_changes_their_view(cast):
    saved = save_view(cast, cast.a.manager, visibility="team").json()

    response = api_for(cast.a.manager).patch(
        url(cast.a.company, f"saved-views/{saved['id']}"), {"name": "DE", "filter": "country=DE"}, format="json"
    )

    assert (response.status_code, response.json()["name"], response.json()["filter"]) == (200, "DE", "country=DE")
    assert (response.json()["sort"], response.json()["visibility"]) == ("-score", "team")
    assert SavedFilter.objects.get().query == {"country": ["DE"]}


def test_someone_who_sees_a_view_but_does_not_own_it_cannot_change_or_delete_it(cast):
    saved = save_view(cast, cast.a.manager, visibility="company").json()
    client = api_for(cast.a.sdr1)

    listed = client.get(url(cast.a.company, "saved-views")).json()
    changed = client.patch(url(cast.a.company, f"saved-views/{saved['id']}"), {"name": "Mine"}, format="json")
    deleted = client.delete(url(cast.a.company, f"saved-views/{saved['id']}"))

    assert [(v["id"], v["can_change"]) for v in listed] == [(saved["id"], False)]
    assert [(r.status_code, r.json()) for r in (changed, deleted)] == [(403, {"detail": NOT_YOUR_VIEW})] * 2
    assert SavedFilter.objects.get().name == "GB hot"


def test_an_admin_may_change_and_delete_a_view_they_see(cast):
    saved = save_view(cast, cast.a.manager, visibility="company").json()
    client = api_for(cast.a.admin)

    changed = client.patch(url(cast.a.company, f"saved-views/{saved['id']}"), {"visibility": "private"},
                           format="json")  # fmt: skip
    response = save_view(cast, cast.a.manager, name="Again", visibility="company").json()
    deleted = client.delete(url(cast.a.company, f"saved-views/{response['id']}"))

    assert (changed.status_code, changed.json()["visibility"]) == (200, "private")
    assert deleted.status_code == 204
    assert list(SavedFilter.objects.values_list("name", flat=True)) == ["GB hot"]


def test_the_owner_deletes_their_view(cast):
    saved = save_view(cast, cast.a.sdr1).json()

    response = api_for(cast.a.sdr1).delete(url(cast.a.company, f"saved-views/{saved['id']}"))

    assert response.status_code == 204
    assert SavedFilter.objects.count() == 0


def test_a_view_you_cannot_see_is_404(cast):
    private = save_view(cast, cast.a.sdr2).json()
    theirs = SavedFilter.objects.create(company=cast.b.company, owner=cast.b.admin, name="Everything",
                                        visibility="company")  # fmt: skip
    client = api_for(cast.a.admin)

    responses = [
        client.get(url(cast.a.company, f"saved-views/{private['id']}")),
        client.get(url(cast.a.company, f"saved-views/{theirs.pk}")),
        client.patch(url(cast.a.company, f"saved-views/{theirs.pk}"), {"name": "Mine"}, format="json"),
        client.delete(url(cast.a.company, f"saved-views/{theirs.pk}")),
        client.get(url(cast.b.company, "saved-views")),
    ]

    assert [(r.status_code, r.json()) for r in responses] == [(404, NOT_FOUND)] * 5
    assert SavedFilter.objects.count() == 2


@pytest.mark.parametrize("item_count", [1, 3])
def test_listing_views_costs_the_same_whatever_their_number(item_count, cast, django_assert_num_queries):
    for n in range(item_count):
        SavedFilter.objects.create(company=cast.a.company, owner=cast.a.manager, name=f"V{n}", visibility="company")

    # membership, the member's manager chain (manager, admin), the views with their owners
    with django_assert_num_queries(4):
        response = api_for(cast.a.sdr1).get(url(cast.a.company, "saved-views"))

    assert len(response.json()) == item_count


# --- export templates ----------------------------------------------------------------------------

COLUMNS = [{"field": "email", "label": "E-mail"}, {"field": "status", "label": ""}]


def test_a_manager_keeps_an_export_template(cast):
    client = api_for(cast.a.manager)

    created = client.post(url(cast.a.company, "export-templates"), {"name": "Mailing", "columns": COLUMNS},
                          format="json")  # fmt: skip
    template = ExportTemplate.objects.get()
    renamed = client.patch(url(cast.a.company, f"export-templates/{template.pk}"), {"name": "Mailing list"},
                           format="json")  # fmt: skip
    listed = client.get(url(cast.a.company, "export-templates"))

    assert created.status_code == 201
    assert created.json() == {
        "id": template.pk, "name": "Mailing",
        "columns": [{"field": "email", "label": "E-mail"}, {"field": "status", "label": "Status"}],
        "created_by": cast.a.manager.pk, "created_at": template.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": created.json()["updated_at"],
    }  # fmt: skip
    assert (renamed.status_code, renamed.json()["name"]) == (200, "Mailing list")
    assert [t["name"] for t in listed.json()] == ["Mailing list"]
    assert [h.history_change_reason for h in template.history.order_by("history_id")] == [
        "leads.export_template.created",
        "leads.export_template.changed",
    ]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": "X", "columns": [{"field": "salary", "label": "Pay"}]},
         {"columns": ["Column 1: “salary” is not a lead field."]}),
        ({"name": "X", "columns": []}, {"columns": ["Choose at least one column."]}),
        ({"name": "", "columns": COLUMNS}, {"name": ["Give the template a name."]}),
        ({"name": "X", "columns": [{"label": "Pay"}]}, {"columns": {"0": {"field": ["This field is required."]}}}),
    ],
)  # fmt: skip
def test_a_bad_export_template_is_a_400_naming_the_field(body, errors, cast):
    response = api_for(cast.a.admin).post(url(cast.a.company, "export-templates"), body, format="json")

    assert (response.status_code, response.json()) == (400, errors)
    assert ExportTemplate.objects.count() == 0


@pytest.mark.parametrize("role", ["sdr1", "sdr2"])
def test_sdrs_have_no_export_templates(role, cast):
    template = make_export_template(cast.a.company)
    client = api_for(cast.a.member(role))

    responses = [
        client.get(url(cast.a.company, "export-templates")),
        client.post(url(cast.a.company, "export-templates"), {"name": "X", "columns": COLUMNS}, format="json"),
        client.delete(url(cast.a.company, f"export-templates/{template.pk}")),
    ]

    assert [(r.status_code, r.json()) for r in responses] == [(403, FORBIDDEN)] * 3
    assert list(ExportTemplate.objects.values_list("name", flat=True)) == ["Basic"]


def test_another_companys_export_template_is_404(cast):
    theirs = make_export_template(cast.b.company)
    client = api_for(cast.a.admin)

    responses = [
        client.get(url(cast.a.company, f"export-templates/{theirs.pk}")),
        client.delete(url(cast.a.company, f"export-templates/{theirs.pk}")),
        client.get(url(cast.b.company, "export-templates")),
    ]

    assert [(r.status_code, r.json()) for r in responses] == [(404, NOT_FOUND)] * 3
    assert ExportTemplate.objects.filter(pk=theirs.pk).exists()


def test_an_export_template_is_deleted(cast):
    template = make_export_template(cast.a.company)

    response = api_for(cast.a.admin).delete(url(cast.a.company, f"export-templates/{template.pk}"))

    assert response.status_code == 204
    assert ExportTemplate.objects.count() == 0


# --- scheduled exports ---------------------------------------------------------------------------


def export_schedules():
    return Schedule.objects.filter(func=SCHEDULE_FUNC)


def schedule_body(**extra):
    return {"name": "Weekly", "format": "xlsx", "frequency": "weekly", "time_of_day": "07:30", "weekday": 2,
            "recipients": ["boss@example.com"], **extra}  # fmt: skip


def test_a_manager_schedules_an_export_with_their_view_and_a_template(cast):
    view = save_view(cast, cast.a.manager).json()
    template = make_export_template(cast.a.company)

    response = api_for(cast.a.manager).post(
        url(cast.a.company, "scheduled-exports"),
        schedule_body(saved_filter=view["id"], template=template.pk),
        format="json",
    )

    saved = ScheduledExport.objects.get()
    assert response.status_code == 201
    assert response.json() == {
        "id": saved.pk, "name": "Weekly", "owner": cast.a.manager.pk, "owner_name": "Alpha Manager",
        "saved_filter": view["id"], "template": template.pk, "format": "xlsx", "frequency": "weekly",
        "time_of_day": "07:30:00", "weekday": 2, "cron": "", "recipients": ["boss@example.com"], "is_active": True,
        "created_at": saved.created_at.isoformat().replace("+00:00", "Z"), "last_run_at": None,
    }  # fmt: skip
    row = Schedule.objects.get(pk=saved.schedule_id)
    assert (row.schedule_type, row.next_run.weekday(), row.next_run.hour, row.next_run.minute) == (
        Schedule.WEEKLY, 2, 7, 30,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "errors"),
    [
        ({"frequency": "cron", "cron": "every day"},
         {"cron": ["Give five fields: minute hour day-of-month month day-of-week (e.g. “0 7 * * 1-5”)."]}),
        ({"recipients": ["not-an-address"]}, {"recipients": ["“not-an-address” is not a valid email address."]}),
        ({"weekday": 7}, {"weekday": ["Ensure this value is less than or equal to 6."]}),
        ({"template": 2**63}, {"template": ["Give a valid id: a whole number from 1 to 9223372036854775807."]}),
        ({"frequency": "hourly"}, {"frequency": ['"hourly" is not a valid choice.']}),
    ],
)  # fmt: skip
def test_a_bad_schedule_is_a_400_naming_the_field(extra, errors, cast):
    response = api_for(cast.a.manager).post(url(cast.a.company, "scheduled-exports"), schedule_body(**extra),
                                            format="json")  # fmt: skip

    assert (response.status_code, response.json()) == (400, errors)
    assert (ScheduledExport.objects.count(), export_schedules().count()) == (0, 0)


def test_a_schedule_uses_only_views_its_owner_sees_and_templates_of_the_company(cast):
    private = save_view(cast, cast.a.sdr2).json()
    theirs = make_export_template(cast.b.company)

    response = api_for(cast.a.manager).post(
        url(cast.a.company, "scheduled-exports"),
        schedule_body(saved_filter=private["id"], template=theirs.pk),
        format="json",
    )

    assert (response.status_code, response.json()) == (
        400,
        {"saved_filter": ["Choose one of your saved views."],
         "template": [f"No export template “{theirs.pk}” in this company."]},
    )  # fmt: skip


def test_only_the_owner_or_an_admin_changes_a_schedule(cast):
    of_sdr = make_scheduled_export(cast.a.company, owner=cast.a.sdr1, name="SDR one's")

    seen = [s["name"] for s in api_for(cast.a.manager).get(url(cast.a.company, "scheduled-exports")).json()]
    manager = api_for(cast.a.manager).patch(url(cast.a.company, f"scheduled-exports/{of_sdr.pk}"), {"name": "Mine"},
                                            format="json")  # fmt: skip
    admin = api_for(cast.a.admin).patch(url(cast.a.company, f"scheduled-exports/{of_sdr.pk}"),
                                        {"frequency": "daily", "time_of_day": "05:00"}, format="json")  # fmt: skip

    assert seen == ["SDR one's"]  # the manager's team
    assert (manager.status_code, manager.json()) == (403, FORBIDDEN)
    assert (admin.status_code, admin.json()["frequency"], admin.json()["time_of_day"]) == (200, "daily", "05:00:00")
    of_sdr.refresh_from_db()
    assert (of_sdr.name, of_sdr.frequency) == ("SDR one's", "daily")


@pytest.mark.parametrize("role", ["sdr1", "sdr2"])
def test_sdrs_have_no_scheduled_exports(role, cast):
    mine = make_scheduled_export(cast.a.company, owner=cast.a.member(role), name="Old")
    client = api_for(cast.a.member(role))

    responses = [
        client.get(url(cast.a.company, "scheduled-exports")),
        client.post(url(cast.a.company, "scheduled-exports"), schedule_body(), format="json"),
        client.delete(url(cast.a.company, f"scheduled-exports/{mine.pk}")),
        client.post(url(cast.a.company, f"scheduled-exports/{mine.pk}/run")),
    ]

    assert [(r.status_code, r.json()) for r in responses] == [(403, FORBIDDEN)] * 4
    assert list(ScheduledExport.objects.values_list("name", flat=True)) == ["Old"]


def test_run_now_exports_with_the_schedules_owner_view_and_format(cast):
    make_lead(cast.a.company, country="GB")
    make_lead(cast.a.company, country="DE")
    view = save_view(cast, cast.a.manager, filter="country=DE").json()
    created = api_for(cast.a.manager).post(url(cast.a.company, "scheduled-exports"),
                                           schedule_body(saved_filter=view["id"], format="csv"), format="json").json()  # fmt: skip

    response = api_for(cast.a.admin).post(url(cast.a.company, f"scheduled-exports/{created['id']}/run"))

    run = ExportRun.objects.get()
    assert response.status_code == 202
    assert (response.json()["id"], response.json()["scheduled_export"], response.json()["format"]) == (
        run.pk,
        created["id"],
        "csv",
    )
    assert (run.status, run.row_count, run.created_by) == ("succeeded", 1, cast.a.manager)


def test_deleting_a_schedule_removes_its_django_q2_row(cast):
    created = api_for(cast.a.manager).post(url(cast.a.company, "scheduled-exports"), schedule_body(),
                                           format="json").json()  # fmt: skip

    response = api_for(cast.a.manager).delete(url(cast.a.company, f"scheduled-exports/{created['id']}"))

    assert response.status_code == 204
    assert (ScheduledExport.objects.count(), export_schedules().count()) == (0, 0)


def test_another_companys_schedule_is_404(cast):
    theirs = make_scheduled_export(cast.b.company)
    client = api_for(cast.a.admin)

    responses = [
        client.get(url(cast.a.company, f"scheduled-exports/{theirs.pk}")),
        client.patch(url(cast.a.company, f"scheduled-exports/{theirs.pk}"), {"name": "Mine"}, format="json"),
        client.post(url(cast.a.company, f"scheduled-exports/{theirs.pk}/run")),
        client.get(url(cast.b.company, "scheduled-exports")),
    ]

    assert [(r.status_code, r.json()) for r in responses] == [(404, NOT_FOUND)] * 4
    assert (ScheduledExport.objects.get().name, ExportRun.objects.count()) == ("Daily export", 0)


@pytest.mark.parametrize("item_count", [1, 3])
def test_listing_schedules_costs_the_same_whatever_their_number(item_count, cast, django_assert_num_queries):
    for n in range(item_count):
        make_scheduled_export(cast.a.company, owner=[cast.a.admin, cast.a.manager][n % 2], name=f"S{n}")

    # membership, the schedules with their owners
    with django_assert_num_queries(2):
        response = api_for(cast.a.admin).get(url(cast.a.company, "scheduled-exports"))

    assert len(response.json()) == item_count
