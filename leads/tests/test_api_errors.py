"""The REST API never answers bad input with a server error: ids out of range or of the wrong type
in bodies, query strings and URLs, values of the wrong JSON type, bad page sizes, OPTIONS on every
route, URLs that match nothing. Each is a JSON 4xx naming the field, and nothing changes."""

import json

import pytest
from django.apps import apps
from django.urls import reverse
from rest_framework.test import APIClient

from crm.ids import ID_MESSAGE
from crm.testing.urlwalk import all_routes, fill_params
from leads.dedup.merge import leads_merge
from leads.models import BulkJob, ExportRun, ImportJob, Lead, LeadComment, MergeRecord
from leads.testing.factories import make_comment, make_duplicate_pair, make_lead, status

BIG = 2**63  # one more than the largest id
BAD_IDS = [BIG, 10**30, -1, 0, 1.5, "x", "7", True]
NOT_FOUND = {"detail": "Not found."}


def api_for(membership) -> APIClient:
    client = APIClient()
    client.force_authenticate(membership.user)
    return client


def url(company, path: str) -> str:
    return f"/api/companies/{company.pk}/{path}"


def id_error(value) -> str:
    """What a JSON body's bad id gets: the range, or the type for a number in a string (which DRF
    alone would take)."""
    if isinstance(value, str) and value.isdecimal():
        return "Give a whole number, not a string."
    return ID_MESSAGE


def snapshot():
    return [model.objects.count() for model in (Lead, LeadComment, MergeRecord, BulkJob, ExportRun, ImportJob)]


# A URL naming an object inside another (a lead's comment) needs the parent of that very object.
NESTED = {"comment_id": ("lead_id", "leads.LeadComment"), "step_id": ("sequence_id", "nurturing.EmailSequenceStep")}


def coherent_params(route, company) -> dict:
    values = fill_params(route, tenant_company=company, object_company=company)
    for child, (parent, model) in NESTED.items():
        if child in values and parent in values:
            values[parent] = getattr(apps.get_model(model).objects.get(pk=values[child]), parent)
    return values


def api_routes():
    return [route for route in all_routes() if route.route.startswith("api/companies/")]


# --- merges: the list is paged ---------------------------------------------------------------------


def test_the_merge_list_is_paged_latest_first(cast):
    first = leads_merge(actor=cast.a.admin, survivor=make_duplicate_pair(cast.a.company)[0],
                        others=[Lead.objects.order_by("-pk").first()])  # fmt: skip
    pair = make_duplicate_pair(cast.a.company)
    second = leads_merge(actor=cast.a.admin, survivor=pair[0], others=[pair[1]])
    leads_merge(actor=cast.b.admin, survivor=make_duplicate_pair(cast.b.company)[0],
                others=[Lead.objects.filter(company=cast.b.company).order_by("-pk").first()])  # fmt: skip
    client = api_for(cast.a.admin)

    page = client.get(url(cast.a.company, "merges"), {"page_size": 1})

    assert page.status_code == 200
    assert ([row["id"] for row in page.json()["results"]], page.json()["previous"]) == ([second.pk], None)
    assert page.json()["results"][0]["leads"] == [pair[1].pk]
    following = client.get(page.json()["next"])
    assert ([row["id"] for row in following.json()["results"]], following.json()["next"]) == ([first.pk], None)


def test_sdrs_may_not_list_merges(cast):
    response = api_for(cast.a.sdr1).get(url(cast.a.company, "merges"))
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "You do not have permission to perform this action."},
    )


@pytest.mark.parametrize("page_size", ["0", "-3", "ten", "1.5"])
def test_a_bad_page_size_is_a_400_naming_it(page_size, cast):
    response = api_for(cast.a.admin).get(url(cast.a.company, "merges"), {"page_size": page_size})
    assert (response.status_code, response.json()) == (400, {"page_size": ["Give a whole number from 1 to 200."]})


# --- OPTIONS -----------------------------------------------------------------------------------------


def test_options_answers_on_every_api_route(cast):
    client = api_for(cast.a.admin)
    checked = []
    for route in api_routes():
        path = route.fill(coherent_params(route, cast.a.company))
        response = client.options(path)
        assert (path, response.status_code) == (path, 200)
        body = response.json()
        assert (path, sorted(body)) == (path, ["description", "name", "parses", "renders"])
        assert (path, body["renders"], "OPTIONS" in response["Allow"]) == (path, ["application/json"], True)
        checked.append(route.name)
    assert {"api:lead-list", "api:merge-list", "api:lead-comments", "api:export-list", "api:import-list"} <= set(
        checked
    )


def test_options_on_another_companys_route_is_a_404(cast):
    response = api_for(cast.a.admin).options(url(cast.b.company, "leads"))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


# --- ids in bodies -------------------------------------------------------------------------------------


@pytest.fixture
def pair(cast):
    first, second, _ = make_duplicate_pair(cast.a.company)
    return first, second


def merge_bodies(pair):
    first, second = pair
    return [
        (lambda bad: {"survivor": bad, "leads": [second.pk]}, lambda bad: {"survivor": [id_error(bad)]}),
        (lambda bad: {"survivor": first.pk, "leads": [second.pk, bad]}, lambda bad: {"leads": {"1": [id_error(bad)]}}),
        (lambda bad: {"survivor": first.pk, "leads": [second.pk], "choices": {"email": bad}},
         lambda bad: {"choices": {"email": [id_error(bad)]}}),
    ]  # fmt: skip


@pytest.mark.parametrize("path", ["merges", "merges/preview"])
def test_bad_ids_in_a_merge_are_a_400_naming_the_field(path, cast, pair):
    client, before = api_for(cast.a.admin), snapshot()
    for body, errors in merge_bodies(pair):
        for bad in BAD_IDS:
            response = client.post(url(cast.a.company, path), body(bad), format="json")
            assert (bad, response.status_code, response.json()) == (bad, 400, errors(bad))
    assert snapshot() == before
    assert Lead.objects.get(pk=pair[1].pk).merged_into is None


@pytest.mark.parametrize(
    ("operation", "field"), [("status", "status"), ("assign", "owner"), ("campaign", "campaign"), ("delete", "ids")]
)
def test_bad_ids_in_a_bulk_request_are_a_400_naming_the_field(operation, field, cast):
    lead = make_lead(cast.a.company, cast.a.admin)
    client, before = api_for(cast.a.admin), snapshot()
    for bad in BAD_IDS:
        body = {"operation": operation, "ids": [lead.pk, bad] if field == "ids" else [lead.pk]}
        if field != "ids":
            body[field] = bad
        response = client.post(url(cast.a.company, "leads/bulk"), body, format="json")
        expected = {"ids": {"1": [id_error(bad)]}} if field == "ids" else {field: [id_error(bad)]}
        assert (bad, response.status_code, response.json()) == (bad, 400, expected)
    assert snapshot() == before
    assert Lead.objects.get(pk=lead.pk).is_deleted is False


def test_bad_ids_in_comments_exports_and_imports_are_a_400_naming_the_field(cast):
    lead = make_lead(cast.a.company, cast.a.admin)
    make_comment(lead, cast.a.admin)
    client, before = api_for(cast.a.admin), snapshot()
    for bad in BAD_IDS:
        reply = client.post(url(cast.a.company, f"leads/{lead.pk}/comments"), {"body": "Hi", "parent": bad},
                            format="json")  # fmt: skip
        assert (bad, reply.status_code, reply.json()) == (bad, 400, {"parent": [id_error(bad)]})
        export = client.post(url(cast.a.company, "exports"), {"ids": [lead.pk, bad]}, format="json")
        assert (bad, export.status_code, export.json()) == (bad, 400, {"ids": {"1": [id_error(bad)]}})
    for bad in ["9223372036854775808", "-1", "x"]:  # a form: every value is text
        upload = client.post(url(cast.a.company, "imports"), {"file": _csv(), "campaign": bad}, format="multipart")
        assert (bad, upload.status_code, upload.json()) == (bad, 400, {"campaign": [ID_MESSAGE]})
    assert snapshot() == before


def _csv():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("leads.csv", b"email\nann@example.com\n", content_type="text/csv")


# --- ids in query strings and URLs --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["status", "campaign"])
def test_an_id_out_of_range_in_a_list_filter_is_a_400_naming_it(name, cast, client_for):
    make_lead(cast.a.company, cast.a.admin)
    page = reverse("leads:list", kwargs={"company_slug": cast.a.company.slug})
    for bad in [str(BIG), "-1", "x", "²"]:
        response = api_for(cast.a.admin).get(url(cast.a.company, "leads"), {name: bad})
        assert (response.status_code, response.json()) == (400, {name: [f"“{bad}” is not a valid value."]})
        html = client_for(cast.a.admin).get(page, {name: bad})
        assert (html.status_code, html.context["errors"], html.context["page"]) == (
            200,
            {name: [f"“{bad}” is not a valid value."]},
            None,
        )


def test_an_id_out_of_range_for_owner_team_or_member_is_a_400_naming_it(cast):
    client = api_for(cast.a.admin)
    owner = client.get(url(cast.a.company, "leads"), {"owner": str(BIG)})
    assert (owner.status_code, owner.json()) == (
        400,
        {"owner": [f"Select a valid choice. {BIG} is not one of the available choices."]},
    )
    team = client.get(url(cast.a.company, "leads"), {"team": str(BIG)})
    assert (team.status_code, team.json()) == (
        400,
        {"team": ["Select a valid choice. That choice is not one of the available choices."]},
    )
    queue = client.get(url(cast.a.company, "queue"), {"member": str(BIG)})
    assert (queue.status_code, queue.json()) == (400, {"member": ["Choose a member you can see."]})


def test_an_id_out_of_range_in_any_api_url_is_a_json_404(cast):
    client = api_for(cast.a.admin)
    for route in api_routes():
        values = fill_params(route, tenant_company=cast.a.company, object_company=cast.a.company)
        for param in ("company_id", *route.object_params):
            path = route.fill({**values, param: BIG})
            response = client.get(path)
            assert (path, response.status_code, response.json()) == (path, 404, NOT_FOUND)


@pytest.mark.parametrize("path", ["leads/-1", "leads/abc", "leads/1.5/comments", "nothing-here"])
def test_an_api_url_that_matches_nothing_is_a_json_404(path, cast):
    response = api_for(cast.a.admin).get(url(cast.a.company, path))
    assert (response.status_code, response["Content-Type"], response.json()) == (404, "application/json", NOT_FOUND)


def test_a_page_url_that_matches_nothing_is_still_the_html_404_page(cast, client_for):
    response = client_for(cast.a.admin).get(f"/c/{cast.a.company.slug}/leads/-1/")
    assert (response.status_code, response["Content-Type"]) == (404, "text/html; charset=utf-8")


# --- JSON types ----------------------------------------------------------------------------------------


def test_a_value_of_the_wrong_json_type_is_a_400_naming_the_field(cast):
    client, before = api_for(cast.a.admin), snapshot()
    campaign = make_lead(cast.a.company).campaign_id
    body = {"email": "ann@example.com", "lead_source": "Web", "campaign": campaign}
    wrong = [  # each a value DRF alone would have taken and converted
        ({"first_name": 12}, {"first_name": ["Give a string, not a number."]}),
        ({"phone": 442079460000}, {"phone": ["Give a string, not a number."]}),
        ({"gdpr_consent": "yes"}, {"gdpr_consent": ["Give true or false, not a string."]}),
        ({"dnd": 1}, {"dnd": ["Give true or false, not a number."]}),
        ({"campaign": str(campaign)}, {"campaign": ["Give a whole number, not a string."]}),
        ({"status": str(status(cast.a.company, "contacted").pk)}, {"status": ["Give a whole number, not a string."]}),
    ]
    for extra, errors in wrong:
        response = client.post(url(cast.a.company, "leads"), {**body, **extra}, format="json")
        assert (extra, response.status_code, response.json()) == (extra, 400, errors)
    assert snapshot() == [before[0] + 1, *before[1:]]  # only the lead made for its campaign


def test_a_body_that_is_not_an_object_or_not_json_is_a_400(cast):
    client = api_for(cast.a.admin)
    not_object = client.post(url(cast.a.company, "leads"), [1, 2], format="json")
    assert (not_object.status_code, not_object.json()) == (
        400,
        {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
    )
    broken = client.post(url(cast.a.company, "leads"), "{", content_type="application/json")
    assert broken.status_code == 400
    assert broken.json()["detail"].startswith("JSON parse error")


# --- empty query parameters --------------------------------------------------------------------------------


def test_an_empty_query_parameter_is_the_same_as_none(cast):
    client = api_for(cast.a.admin)
    lead = make_lead(cast.a.company, cast.a.admin, status=status(cast.a.company, "contacted"))
    everything = client.get(url(cast.a.company, "leads"))
    blank = client.get(url(cast.a.company, "leads"), {"created_before": "", "status": "", "q": "", "page_size": ""})
    assert (blank.status_code, blank.json()) == (200, everything.json())
    assert [row["id"] for row in blank.json()["results"]] == [lead.pk]
    own_queue = client.get(url(cast.a.company, "queue"), {"member": ""})
    assert (own_queue.status_code, own_queue.json()) == (200, client.get(url(cast.a.company, "queue")).json())


# --- the schema documents the errors --------------------------------------------------------------------


def test_the_schema_documents_error_answers_and_blank_values(cast):
    client = api_for(cast.a.admin)
    schema = client.get(reverse("schema"), {"format": "json"}).json()
    operations = [
        (f"{method.upper()} {path}", operation)
        for path, methods in schema["paths"].items()
        if path.startswith("/api/companies/")
        for method, operation in methods.items()
    ]
    assert len(operations) >= 60
    for label, operation in operations:
        codes = set(operation["responses"])
        assert (label, {"401", "403", "404"} <= codes) == (label, True)
        if "requestBody" in operation:
            assert (label, {"400", "415"} <= codes) == (label, True)
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query":
                assert (label, parameter["name"], parameter.get("allowEmptyValue")) == (label, parameter["name"], True)
    merges = schema["paths"]["/api/companies/{company_id}/merges"]["get"]
    assert {"cursor", "page_size"} <= {p["name"] for p in merges["parameters"]}
    lead = schema["components"]["schemas"]["Lead"]["properties"]
    assert lead["profile_url"]["anyOf"] == [{"format": "uri"}, {"maxLength": 0}]
    assert [ref["$ref"].rsplit("/", 1)[-1] for ref in lead["authority_level"]["oneOf"]] == [
        "AuthorityLevelEnum",
        "BlankEnum",
    ]


def test_an_id_out_of_range_in_the_list_pages_bulk_form_is_a_message(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.admin)
    before = snapshot()
    url_ = reverse("leads:bulk", kwargs={"company_slug": cast.a.company.slug})
    response = client_for(cast.a.admin).post(url_, {"operation": "delete", "ids": [lead.pk, BIG]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [ID_MESSAGE]
    assert (snapshot(), Lead.objects.get(pk=lead.pk).is_deleted) == (before, False)


@pytest.mark.parametrize(
    ("method", "path", "body", "errors"),
    [
        ("post", "assignment-rules", {"name": "R", "strategy": "round_robin", "members": [{"membership": BIG}]},
         {"members": ["Member 1: choose a member of this company."]}),
        ("post", "assignment-rules", {"name": "R", "strategy": "round_robin", "members": [{"membership": "x"}]},
         {"members": ["Member 1: choose a member of this company."]}),
        ("post", "exports", {"template": "²"}, {"template": ["No export template “²” in this company."]}),
        ("get", "queue?member=²", None, {"member": ["Choose a member you can see."]}),
        ("get", "pool/preview?count=²", None, {"count": ["Give a whole number from 1 to 200."]}),
        ("get", "leads?view=saved:²", None, {"view": ["This saved view no longer exists or is not shared with you."]}),
        ("get", "assignment-stats?since=9999-12-30&until=9999-12-31", None,
         {"until": ["Give a period inside the years 1 to 9999."]}),
        ("get", "assignment-stats?until=0001-01-02", None, {"until": ["Give a period inside the years 1 to 9999."]}),
    ],
)  # fmt: skip
def test_unusual_digits_and_the_ends_of_the_calendar_are_400s(method, path, body, errors, cast):
    client, before = api_for(cast.a.admin), snapshot()
    response = (
        client.post(url(cast.a.company, path), body, format="json")
        if method == "post"
        else client.get(url(cast.a.company, path))
    )
    assert (response.status_code, response.json()) == (400, errors)
    assert snapshot() == before


def test_server_and_request_errors_under_api_are_json_and_elsewhere_the_pages():
    from django.test import RequestFactory

    from crm.api_errors import bad_request, server_error

    factory = RequestFactory()
    api_error = server_error(factory.get("/api/companies/1/leads"))
    assert (api_error.status_code, json.loads(api_error.content)) == (
        500,
        {"detail": "Server error. It has been logged; please try again in a moment."},
    )
    assert (bad_request(factory.get("/api/x"), None).status_code, server_error(factory.get("/c/x/")).status_code) == (
        400,
        500,
    )
    assert b"Something went wrong" in server_error(factory.get("/c/x/")).content
