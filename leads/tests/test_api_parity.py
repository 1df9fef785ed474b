"""The API keeps up with the pages: the lead list's sorting and views, filtered activities and
history, a comment's versions, where each change came from, and a 400 for any query parameter an
endpoint does not know."""

import datetime as dt
import json
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import resolve, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from crm.api import UNKNOWN_PARAMETER
from crm.models import Activity
from crm.testing.urlwalk import all_routes, fill_params
from leads import services
from leads.models import Lead, LeadComment, SavedFilter
from leads.testing.factories import make_comment, make_custom_field, make_lead

NOT_FOUND = {"detail": "Not found."}
UNKNOWN_SORT = (
    "Unknown sort key 'bogus'. Use one of: name, company, status, owner, score, priority, created, updated, activity."
)


def api_for(membership, **headers) -> APIClient:
    client = APIClient(**headers)
    client.force_authenticate(membership.user)
    return client


def url(company, path: str = "leads") -> str:
    return f"/api/companies/{company.pk}/{path}"


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def scored(cast):
    """Five leads of company a with known scores and names (the pool: every role sees them), one of b."""
    rows = [("Zed", 50), ("Adams", 50), ("Moe", 80), ("Bob", 10), ("Cole", 80)]
    leads = {}
    for n, (last, score) in enumerate(rows):
        lead = make_lead(cast.a.company, cast.a.admin, last_name=last, first_name="Pat")
        Lead.objects.filter(pk=lead.pk).update(score=score, created_at=timezone.now() - dt.timedelta(days=10 - n))
        leads[last] = lead
    make_lead(cast.b.company, cast.b.admin, last_name="Hidden")
    return leads


# --- sorting -------------------------------------------------------------------------------------


def test_the_list_sorts_by_several_keys_like_the_html_list(cast, scored, client_for):
    response = api_for(cast.a.sdr1).get(url(cast.a.company), {"sort": "-score,last_name"})
    page = client_for(cast.a.sdr1).get(reverse("leads:list", kwargs={"company_slug": "alpha"}), {"sort": "-score,name"})

    expected = [scored[name].pk for name in ("Cole", "Moe", "Adams", "Zed", "Bob")]
    assert response.status_code == 200
    assert ids(response) == expected
    assert [lead.pk for lead in page.context["page"].rows] == expected


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("score", ["Bob", "Zed", "Adams", "Moe", "Cole"]),  # ties broken by id, ascending
        ("name", ["Adams", "Bob", "Cole", "Moe", "Zed"]),
        ("-created", ["Cole", "Bob", "Moe", "Adams", "Zed"]),
        ("created_at", ["Zed", "Adams", "Moe", "Bob", "Cole"]),
    ],
)
def test_each_sort_key_orders_the_whole_list(sort, order, cast, scored):
    response = api_for(cast.a.admin).get(url(cast.a.company), {"sort": sort})

    assert ids(response) == [scored[name].pk for name in order]


def test_sorted_pages_follow_one_another_without_gaps_or_repeats(cast, scored):
    client = api_for(cast.a.manager)

    first = client.get(url(cast.a.company), {"sort": "-score,last_name", "page_size": 2})
    second = client.get(first.json()["next"])
    third = client.get(second.json()["next"])
    back = client.get(third.json()["previous"])

    assert [ids(first), ids(second), ids(third)] == [
        [scored["Cole"].pk, scored["Moe"].pk],
        [scored["Adams"].pk, scored["Zed"].pk],
        [scored["Bob"].pk],
    ]
    assert parse_qs(urlparse(first.json()["next"]).query)["sort"] == ["-score,last_name"]
    assert (first.json()["previous"], third.json()["next"]) == (None, None)
    assert ids(back) == ids(second)


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"sort": "-score,bogus"}, {"sort": [UNKNOWN_SORT]}),
        ({"sort": "score,-score"}, {"sort": ["Sort key 'score' is given twice."]}),
        ({"sort": "name,score,priority,status,owner"}, {"sort": ["Sort by at most four columns."]}),
        ({"page_size": "ten"}, {"page_size": ["Give a whole number from 1 to 200."]}),
        ({"page_size": "0"}, {"page_size": ["Give a whole number from 1 to 200."]}),
        ({"cursor": "not-a-cursor"}, {"cursor": ["This page link is broken; start again from the first page."]}),
        ({"score_min": "high"}, {"score_min": ["Enter a number."]}),
    ],
)
def test_a_bad_sort_page_or_filter_is_a_400_naming_it(params, errors, cast, scored):
    response = api_for(cast.a.admin).get(url(cast.a.company), params)

    assert (response.status_code, response.json()) == (400, errors)


def test_a_forged_cursor_with_huge_numbers_is_a_400_not_a_crash(cast, scored):
    import base64
    import json

    forged = {"v": [10**30, 10**30], "d": "n", "p": 2}  # score, then id: no column holds these
    cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")

    response = api_for(cast.a.admin).get(url(cast.a.company), {"sort": "score", "cursor": cursor})

    assert (response.status_code, response.json()) == (
        400,
        {"cursor": ["This page link is broken; start again from the first page."]},
    )


def test_page_size_is_capped_at_the_lists_largest_page(cast, scored):
    response = api_for(cast.a.admin).get(url(cast.a.company), {"page_size": "100000"})

    assert (response.status_code, len(ids(response))) == (200, 5)


# --- views ---------------------------------------------------------------------------------------


def test_a_saved_view_lists_its_leads_in_its_sort(cast, scored):
    Lead.objects.filter(pk__in=[scored["Moe"].pk, scored["Bob"].pk]).update(country="DE")
    saved = SavedFilter.objects.create(company=cast.a.company, owner=cast.a.manager, name="Germany", query={"country": ["DE"]},
                                       sort="score", visibility="team")  # fmt: skip

    own = api_for(cast.a.manager).get(url(cast.a.company), {"view": f"saved:{saved.pk}"})
    resorted = api_for(cast.a.sdr1).get(url(cast.a.company), {"view": f"saved:{saved.pk}", "sort": "-score"})
    other_team = api_for(cast.a.sdr2).get(url(cast.a.company), {"view": f"saved:{saved.pk}"})

    assert ids(own) == [scored["Bob"].pk, scored["Moe"].pk]
    assert ids(resorted) == [scored["Moe"].pk, scored["Bob"].pk]
    assert (other_team.status_code, other_team.json()) == (
        400,
        {"view": ["This saved view no longer exists or is not shared with you."]},
    )


def test_a_builtin_view_works_over_the_api(cast, scored):
    Lead.objects.filter(pk=scored["Zed"].pk).update(owner=cast.a.sdr1)

    response = api_for(cast.a.sdr1).get(url(cast.a.company), {"view": "builtin:mine"})

    assert ids(response) == [scored["Zed"].pk]


def test_a_view_and_filters_together_are_refused(cast, scored):
    response = api_for(cast.a.sdr1).get(url(cast.a.company), {"view": "builtin:mine", "country": "GB"})

    assert (response.status_code, response.json()) == (
        400,
        {"view": ["Give a view or filters, not both (got country)."]},
    )


def test_another_companys_view_does_not_exist_here(cast, scored):
    theirs = SavedFilter.objects.create(company=cast.b.company, owner=cast.b.admin, name="All", visibility="company")

    response = api_for(cast.a.admin).get(url(cast.a.company), {"view": f"saved:{theirs.pk}"})

    assert (response.status_code, response.json()) == (
        400,
        {"view": ["This saved view no longer exists or is not shared with you."]},
    )


# --- unknown query parameters ------------------------------------------------------------------------


def test_an_unknown_parameter_on_the_lead_list_is_a_400_naming_it(cast, scored):
    response = api_for(cast.a.sdr1).get(url(cast.a.company), {"satus": "3", "country": "GB"})

    assert response.status_code == 400
    assert list(response.json()) == ["satus"]
    message = response.json()["satus"][0]
    assert message.startswith(f"{UNKNOWN_PARAMETER} Use activity_after, activity_before, campaign, converted,")
    assert message.endswith("updated_after, updated_before, view.")


def test_custom_field_filters_are_known_parameters_of_the_company(cast, scored):
    make_custom_field(cast.a.company, "seats", "number")
    Lead.objects.filter(pk=scored["Moe"].pk).update(custom_fields={"seats": 40})
    client = api_for(cast.a.admin)

    known = client.get(url(cast.a.company), {"cf_seats_min": "30"})
    unknown = client.get(url(cast.a.company), {"cf_floors_min": "30"})

    assert ids(known) == [scored["Moe"].pk]
    assert (unknown.status_code, list(unknown.json())) == (400, ["cf_floors_min"])
    assert "cf_seats_max, cf_seats_min" in unknown.json()["cf_floors_min"][0]


def test_the_list_parameters_stay_valid(cast, scored):
    response = api_for(cast.a.admin).get(
        url(cast.a.company), {"format": "json", "page_size": "2", "sort": "name", "q": "", "country": "GB"}
    )

    assert (response.status_code, ids(response)) == (200, [scored["Adams"].pk, scored["Bob"].pk])


def test_the_comment_list_names_what_it_accepts(cast):
    lead = make_lead(cast.a.company)

    response = api_for(cast.a.admin).get(url(cast.a.company, f"leads/{lead.pk}/comments"), {"order": "new"})

    assert (response.status_code, response.json()) == (
        400,
        {"order": [f"{UNKNOWN_PARAMETER} Use cursor, format, page_size."]},
    )


def _api_get_routes():
    """Every company-scoped API path that answers GET."""
    for route in all_routes():
        if route.name.startswith("api:") and "company_id" in route.params:
            view = resolve(route.fill(dict.fromkeys(route.params, 1))).func.cls
            if hasattr(view, "get"):
                yield route


@pytest.mark.parametrize("route", list(_api_get_routes()), ids=lambda r: r.name)
def test_every_api_get_refuses_a_parameter_it_does_not_know(route, cast):
    values = fill_params(route, tenant_company=cast.a.company, object_company=cast.a.company)
    if "comment_id" in values:
        values["lead_id"] = LeadComment.objects.get(pk=values["comment_id"]).lead_id

    response = api_for(cast.a.admin).get(route.fill(values), {"bogus": "1"})

    assert response.status_code == 400
    assert list(response.json()) == ["bogus"]
    assert response.json()["bogus"][0].startswith(f"{UNKNOWN_PARAMETER} Use ")


def test_other_methods_are_not_checked_for_query_parameters(cast):
    lead = make_lead(cast.a.company)

    response = api_for(cast.a.sdr1).post(
        f"{url(cast.a.company, f'leads/{lead.pk}/comments')}?bogus=1", {"body": "Hi"}, format="json"
    )

    assert response.status_code == 201


def test_another_company_is_404_before_its_parameters_are_read(cast):
    response = api_for(cast.a.admin).get(url(cast.b.company), {"bogus": "1"})

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


# --- activities ----------------------------------------------------------------------------------


@pytest.fixture
def worked(cast):
    lead = make_lead(cast.a.company, owner=cast.a.sdr1)
    now = timezone.now()
    logged = {}
    for kind, days_ago in (("call", 0), ("email", 1), ("meeting", 3), ("call", 5)):
        activity = services.activity_log(actor=cast.a.sdr1, lead=lead, kind=kind, subject=f"{kind} {days_ago}",
                                         occurred_at=now - dt.timedelta(days=days_ago))  # fmt: skip
        logged[f"{kind} {days_ago}"] = activity.pk
    return lead, logged


def activity_ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "call"}, ["call 0", "call 5"]),
        ({"kind": ["call", "email"]}, ["call 0", "email 1", "call 5"]),
        ({"kind": "whatsapp"}, []),
        ({}, ["call 0", "email 1", "meeting 3", "call 5"]),
    ],
)
def test_a_leads_activities_filter_by_kind(params, expected, cast, worked):
    lead, logged = worked

    response = api_for(cast.a.sdr1).get(url(cast.a.company, f"leads/{lead.pk}/activities"), params)

    assert response.status_code == 200
    assert activity_ids(response) == [logged[name] for name in expected]


def test_a_leads_activities_filter_by_day(cast, worked):
    lead, logged = worked
    today = timezone.localdate()
    path = url(cast.a.company, f"leads/{lead.pk}/activities")

    response = api_for(cast.a.manager).get(
        path, {"since": (today - dt.timedelta(days=3)).isoformat(), "until": (today - dt.timedelta(days=1)).isoformat()}
    )

    assert activity_ids(response) == [logged["email 1"], logged["meeting 3"]]


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"kind": "fax"}, {"kind": ['"fax" is not a valid choice.']}),
        ({"since": "yesterday"}, {"since": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]}),
        (
            {"since": "2026-02-02", "until": "2026-02-01"},
            {"until": ["The end of the range must not be before its start."]},
        ),
    ],
)
def test_bad_activity_filters_are_a_400_naming_them(params, errors, cast, worked):
    lead, _ = worked

    response = api_for(cast.a.sdr1).get(url(cast.a.company, f"leads/{lead.pk}/activities"), params)

    assert (response.status_code, response.json()) == (400, errors)


def test_an_open_ended_range_to_the_last_day_is_fine(cast, worked):
    lead, logged = worked

    response = api_for(cast.a.sdr1).get(url(cast.a.company, f"leads/{lead.pk}/activities"), {"until": "9999-12-31"})

    assert len(activity_ids(response)) == 4


def test_another_sdrs_lead_activities_stay_hidden_whatever_the_filter(cast, worked):
    lead, _ = worked

    response = api_for(cast.a.sdr2).get(url(cast.a.company, f"leads/{lead.pk}/activities"), {"kind": "call"})

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


# --- history -------------------------------------------------------------------------------------


@pytest.fixture
def edited(cast):
    """A lead created by the admin over the API, then changed by the manager and the admin."""
    admin = api_for(cast.a.admin, REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="PartnerSync/2.1")
    manager = api_for(cast.a.manager, REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="Mozilla/5.0 (X11)")
    campaign = make_lead(cast.a.company).campaign_id
    created = admin.post(url(cast.a.company), {"first_name": "Ana", "email": "ana@example.com", "lead_source": "Web",
                                               "campaign": campaign}, format="json").json()  # fmt: skip
    path = url(cast.a.company, f"leads/{created['id']}")
    manager.patch(path, {"job_title": "CTO"}, format="json")
    admin.patch(path, {"job_title": "CEO", "phone": "+44 20 7946 0000"}, format="json")
    return Lead.objects.get(pk=created["id"])


def history(cast, lead, membership=None, **params):
    return api_for(membership or cast.a.admin).get(url(cast.a.company, f"leads/{lead.pk}/history"), params)


def test_each_history_row_says_where_the_change_came_from(cast, edited):
    rows = history(cast, edited).json()

    assert [(r["change_reason"], r["user"], r["ip_address"], r["user_agent"]) for r in rows] == [
        ("leads.lead.changed", "admin@alpha.test", "203.0.113.9", "PartnerSync/2.1"),
        ("leads.lead.changed", "manager@alpha.test", "198.51.100.7", "Mozilla/5.0 (X11)"),
        ("leads.lead.created", "admin@alpha.test", "203.0.113.9", "PartnerSync/2.1"),
    ]


def test_history_filters_by_field_and_shows_only_that_fields_changes(cast, edited):
    response = history(cast, edited, field="job_title")

    assert response.status_code == 200
    assert [(r["user"], r["changes"]) for r in response.json()] == [
        ("admin@alpha.test", [{"field": "job_title", "old": "CTO", "new": "CEO"}]),
        ("manager@alpha.test", [{"field": "job_title", "old": "", "new": "CTO"}]),
    ]


def test_history_filters_by_actor(cast, edited):
    response = history(cast, edited, actor=cast.a.manager.pk)

    assert [(r["user"], [c["field"] for c in r["changes"]]) for r in response.json()] == [
        ("manager@alpha.test", ["job_title"]),
    ]


def test_history_filters_by_day(cast, edited):
    today = timezone.localdate()

    tomorrow = history(cast, edited, since=(today + dt.timedelta(days=1)).isoformat())
    until_yesterday = history(cast, edited, until=(today - dt.timedelta(days=1)).isoformat())
    today_only = history(cast, edited, since=today.isoformat(), until=today.isoformat())

    assert (tomorrow.json(), until_yesterday.json()) == ([], [])
    assert len(today_only.json()) == 3


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"field": "salary"}, {"field": ['"salary" is not a valid choice.']}),
        ({"actor": "bravo-admin"}, {"actor": ["Choose a valid member of this company."]}),
        ({"actor": str(2**64)}, {"actor": ["Choose a valid member of this company."]}),
        ({"actor": "-1"}, {"actor": ["Choose a valid member of this company."]}),
        ({"since": "2026-13-01"}, {"since": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]}),
    ],
)
def test_bad_history_filters_are_a_400_naming_them(params, errors, cast, edited):
    response = history(cast, edited, **params)

    assert (response.status_code, response.json()) == (400, errors)


def test_a_member_of_another_company_is_not_an_actor_here(cast, edited):
    response = history(cast, edited, actor=cast.b.admin.pk)

    assert (response.status_code, response.json()) == (400, {"actor": ["Choose a valid member of this company."]})


def test_another_companys_lead_history_is_404_whatever_the_filter(cast):
    theirs = make_lead(cast.b.company)

    response = api_for(cast.a.admin).get(url(cast.a.company, f"leads/{theirs.pk}/history"), {"field": "email"})

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


# --- a comment's versions --------------------------------------------------------------------------


def comment_history(cast, membership, comment):
    return api_for(membership).get(url(cast.a.company, f"leads/{comment.lead_id}/comments/{comment.pk}/history"))


def test_a_comments_earlier_bodies_are_readable_sanitised_with_who_and_when(cast):
    lead = make_lead(cast.a.company, owner=cast.a.sdr1)
    client = api_for(cast.a.sdr1)
    created = client.post(url(cast.a.company, f"leads/{lead.pk}/comments"), {"body": "<p>First <b>try</b></p>"},
                          format="json").json()  # fmt: skip
    client.patch(url(cast.a.company, f"leads/{lead.pk}/comments/{created['id']}"),
                 {"body": "<p>Second <script>alert(1)</script></p>"}, format="json")  # fmt: skip
    comment = LeadComment.objects.get()

    response = comment_history(cast, cast.a.manager, comment)

    versions = list(comment.history.order_by("-history_date", "-history_id"))
    assert response.status_code == 200
    assert response.json() == [
        {"id": versions[0].history_id, "date": versions[0].history_date.isoformat().replace("+00:00", "Z"),
         "user": "sdr1@alpha.test", "change_reason": "leads.comment.edited", "type": "changed",
         "body": "<p>Second alert(1)</p>"},
        {"id": versions[1].history_id, "date": versions[1].history_date.isoformat().replace("+00:00", "Z"),
         "user": "sdr1@alpha.test", "change_reason": "leads.comment.created", "type": "created",
         "body": "<p>First <b>try</b></p>"},
    ]  # fmt: skip


def test_a_stored_unsafe_body_is_sanitised_on_the_way_out(cast):
    comment = make_comment(make_lead(cast.a.company), cast.a.sdr1, "Fine")
    comment.history.update(body='<img src=x onerror="alert(1)"><a href="javascript:alert(2)">x</a>')

    response = comment_history(cast, cast.a.admin, comment)

    assert [v["body"] for v in response.json()] == ['<a rel="nofollow noopener noreferrer">x</a>']


def test_a_deleted_comments_versions_keep_who_and_when_but_not_what(cast):
    comment = make_comment(make_lead(cast.a.company), cast.a.sdr1, "Secret")
    services.comment_delete(actor=cast.a.sdr1, comment=comment)

    response = comment_history(cast, cast.a.admin, comment)

    assert [(v["change_reason"], v["user"], v["body"]) for v in response.json()] == [
        ("leads.comment.deleted", "sdr1@alpha.test", ""),
        ("leads.comment.created", "sdr1@alpha.test", ""),
    ]


def test_a_comment_on_a_lead_you_cannot_see_has_no_history_for_you(cast):
    comment = make_comment(make_lead(cast.a.company, owner=cast.a.sdr2), cast.a.sdr2, "Mine")

    owner = comment_history(cast, cast.a.sdr2, comment)
    other = comment_history(cast, cast.a.sdr1, comment)

    assert [v["body"] for v in owner.json()] == ["Mine"]
    assert (other.status_code, other.json()) == (404, NOT_FOUND)


def test_a_comment_of_another_lead_or_company_is_404(cast):
    lead = make_lead(cast.a.company)
    elsewhere = make_comment(make_lead(cast.a.company), cast.a.sdr1)
    theirs = make_comment(make_lead(cast.b.company), cast.b.sdr1)
    client = api_for(cast.a.admin)

    wrong_lead = client.get(url(cast.a.company, f"leads/{lead.pk}/comments/{elsewhere.pk}/history"))
    other_company = client.get(url(cast.a.company, f"leads/{theirs.lead_id}/comments/{theirs.pk}/history"))

    assert [(r.status_code, r.json()) for r in (wrong_lead, other_company)] == [(404, NOT_FOUND)] * 2


# --- query counts --------------------------------------------------------------------------------


@pytest.mark.parametrize("item_count", [1, 3])
def test_a_sorted_page_costs_the_same_whatever_its_length(item_count, cast, django_assert_num_queries):
    for _ in range(item_count):
        make_lead(cast.a.company, owner=cast.a.sdr1)
    client = api_for(cast.a.manager)

    # membership, team ids, the filter's owner and custom-field choices, the capped count, one page
    with django_assert_num_queries(6):
        response = client.get(url(cast.a.company), {"sort": "-score,owner,last_name"})

    assert len(response.json()["results"]) == item_count


@pytest.mark.parametrize("edits", [1, 3])
def test_a_comments_history_costs_the_same_whatever_its_length(edits, cast, django_assert_num_queries):
    comment = make_comment(make_lead(cast.a.company), cast.a.sdr1, "v0")
    for n in range(edits):
        services.comment_edit(actor=cast.a.sdr1, comment=comment, body=f"v{n + 1}")

    # membership, the lead, the comment, its versions with their users
    with django_assert_num_queries(4):
        response = comment_history(cast, cast.a.admin, comment)

    assert len(response.json()) == edits + 1


def test_the_activity_filter_keeps_a_fixed_number_of_queries(cast, worked, django_assert_num_queries):
    lead, _ = worked

    # membership, the lead, one page of activities with their owners
    with django_assert_num_queries(3):
        response = api_for(cast.a.admin).get(url(cast.a.company, f"leads/{lead.pk}/activities"), {"kind": "call"})

    assert len(response.json()["results"]) == 2
    assert Activity.objects.count() >= 4


# --- the schema ----------------------------------------------------------------------------------


def query_parameters(operation) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}


def test_the_schema_documents_the_new_endpoints_parameters_and_shapes(cast, client_for):
    schema = json.loads(client_for(cast.a.admin).get("/api/schema/", HTTP_ACCEPT="application/json").content)
    paths, components = schema["paths"], schema["components"]["schemas"]
    base = "/api/companies/{company_id}/"

    def methods(path):
        return set(paths[base + path]) - {"parameters"}

    assert {path: methods(path) for path in (
        "statuses", "statuses/{status_id}", "statuses/{status_id}/retire", "statuses/{status_id}/unretire",
        "transitions", "transitions/{transition_id}", "saved-views", "saved-views/{view_id}", "export-templates",
        "export-templates/{template_id}", "scheduled-exports", "scheduled-exports/{schedule_id}",
        "scheduled-exports/{schedule_id}/run", "leads/{lead_id}/comments/{comment_id}/history",
    )} == {
        "statuses": {"get", "post"}, "statuses/{status_id}": {"get", "patch", "delete"},
        "statuses/{status_id}/retire": {"post"}, "statuses/{status_id}/unretire": {"post"},
        "transitions": {"get", "post"}, "transitions/{transition_id}": {"get", "patch", "delete"},
        "saved-views": {"get", "post"}, "saved-views/{view_id}": {"get", "patch", "delete"},
        "export-templates": {"get", "post"}, "export-templates/{template_id}": {"get", "patch", "delete"},
        "scheduled-exports": {"get", "post"}, "scheduled-exports/{schedule_id}": {"get", "patch", "delete"},
        "scheduled-exports/{schedule_id}/run": {"post"}, "leads/{lead_id}/comments/{comment_id}/history": {"get"},
    }  # fmt: skip
    leads = paths[base + "leads"]["get"]
    assert {
        "sort",
        "view",
        "cursor",
        "page_size",
        "status",
        "owner",
        "score_min",
        "has_duplicates",
    } <= query_parameters(leads)
    assert leads["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginatedLeadList"
    }
    assert set(components["PaginatedLeadList"]["properties"]) == {"next", "previous", "results"}
    assert query_parameters(paths[base + "leads/{lead_id}/activities"]["get"]) == {
        "kind", "since", "until", "cursor", "page_size",
    }  # fmt: skip
    assert query_parameters(paths[base + "leads/{lead_id}/history"]["get"]) == {"field", "actor", "since", "until"}
    assert query_parameters(paths[base + "statuses"]["get"]) == {"include_retired"}
    assert {"ip_address", "user_agent"} <= set(components["HistoryEntry"]["properties"])
    assert set(components["CommentVersion"]["properties"]) == {"id", "date", "user", "change_reason", "type", "body"}
    assert set(components["SavedView"]["properties"]) == {
        "id", "name", "filter", "sort", "visibility", "owner", "owner_name", "can_change", "created_at", "updated_at",
    }  # fmt: skip
