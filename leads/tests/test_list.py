import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from crm.models import Activity
from leads import bulk, listing
from leads.models import BulkJob, Lead, LeadComment, SavedFilter, StatusChange
from leads.testing.factories import make_campaign, make_custom_field, make_lead, status


def list_url(company, **params):
    from urllib.parse import urlencode

    base = reverse("leads:list", kwargs={"company_slug": company.slug})
    return f"{base}?{urlencode(params, doseq=True)}" if params else base


def names(response):
    return [lead.last_name for lead in response.context["page"].rows]


@pytest.fixture
def board(cast):
    """Five leads in company a with distinct attributes, and one in company b."""
    a = cast.a
    webinar, ads = make_campaign(a.company, "Webinar"), make_campaign(a.company, "Ads")
    make_custom_field(a.company, "seats", "number")
    make_custom_field(a.company, "industry", "text")
    rows = {
        "Adams": dict(owner=a.sdr1, campaign=webinar, country="GB", lead_source="Referral", gdpr_consent=True,
                      job_title="CTO", company_name="Northwind Ltd", custom_fields={"seats": 50, "industry": "SaaS"},
                      profile_data={"headline": "CTO at Northwind", "location": "London"}),
        "Baker": dict(owner=a.sdr2, campaign=ads, country="DE", lead_source="Google Ads", medium="cpc",
                      company_name="Contoso GmbH", custom_fields={"seats": 5, "industry": "Retail"},
                      profile_data={"location": "Berlin"}),
        "Clark": dict(owner=None, campaign=webinar, country="GB", lead_source="Referral", dnd=True,
                      company_name="Initech", custom_fields={"seats": 500}),
        "Dunn": dict(owner=a.manager, campaign=ads, country="US", phone="+1 212 555 0100", lead_source="Website",
                     company_name="Hooli"),
        "Evans": dict(owner=a.sdr1, campaign=ads, country="GB", lead_source="Website", company_name="Umbrella plc"),
    }  # fmt: skip
    leads = {}
    for days_ago, (last, data) in enumerate(rows.items()):
        lead = make_lead(a.company, a.admin, last_name=last, first_name="Pat", **data)
        Lead.objects.filter(pk=lead.pk).update(created_at=timezone.now() - dt.timedelta(days=10 - days_ago),
                                               score=[90, 40, 75, 10, 55][days_ago],
                                               priority=["hot", "warm", "hot", "cold", "warm"][days_ago])  # fmt: skip
        leads[last] = lead
    make_lead(cast.b.company, cast.b.admin, last_name="BravoHidden", company_name="Northwind Ltd")
    return leads


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["Evans", "Dunn", "Clark", "Baker", "Adams"]),
        ({"owner": "me"}, []),
        ({"owner": "unassigned"}, ["Clark"]),
        ({"country": "GB,US"}, ["Evans", "Dunn", "Clark", "Adams"]),
        ({"source": "referral"}, ["Clark", "Adams"]),
        ({"medium": "CPC"}, ["Baker"]),
        ({"score_min": 50, "score_max": 80}, ["Evans", "Clark"]),
        ({"priority": ["hot", "cold"]}, ["Dunn", "Clark", "Adams"]),
        ({"gdpr_consent": "true"}, ["Adams"]),
        ({"dnd": "true"}, ["Clark"]),
        ({"converted": "false"}, ["Evans", "Dunn", "Clark", "Baker", "Adams"]),
        ({"q": "northwind"}, ["Adams"]),
        ({"q": "pat ev"}, ["Evans"]),
        ({"headline": "cto at"}, ["Adams"]),
        ({"location": "berl"}, ["Baker"]),
        ({"cf_seats_min": 10}, ["Clark", "Adams"]),
        ({"cf_industry": "Retail"}, ["Baker"]),
        ({"cf_industry_contains": "aa"}, ["Adams"]),
        ({"email__startswith": "x", "company__slug": "bravo"}, ["Evans", "Dunn", "Clark", "Baker", "Adams"]),
    ],
)
def test_each_filter(params, expected, cast, board, client_for):
    response = client_for(cast.a.admin).get(list_url(cast.a.company, **params))
    assert response.context["errors"] == {}
    assert names(response) == expected


def test_filters_by_status_owner_team_campaign_and_dates(cast, board, client_for):
    client = client_for(cast.a.admin)
    contacted = status(cast.a.company, "contacted")
    from leads import services

    services.lead_transition(actor=cast.a.admin, lead=board["Baker"], to_status=contacted)
    assert names(client.get(list_url(cast.a.company, status=[contacted.pk]))) == ["Baker"]
    assert names(client.get(list_url(cast.a.company, owner=[cast.a.sdr1.pk, "unassigned"]))) == [
        "Evans",
        "Clark",
        "Adams",
    ]
    assert names(client.get(list_url(cast.a.company, team=cast.a.manager.pk))) == ["Evans", "Dunn", "Adams"]
    campaign = board["Adams"].campaign_id
    assert names(client.get(list_url(cast.a.company, campaign=[campaign]))) == ["Clark", "Adams"]
    since = (timezone.localdate() - dt.timedelta(days=7)).isoformat()
    assert names(client.get(list_url(cast.a.company, created_after=since))) == ["Evans", "Dunn"]


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"created_after": "2026-02-31"}, {"created_after": ["Enter a valid date."]}),
        ({"score_min": "lots"}, {"score_min": ["Enter a number."]}),
        ({"score_min": 120}, {"score_min": ["Scores run from 0 to 100."]}),
        ({"score_min": 80, "score_max": 20}, {"score_max": ["The end of the range must not be before its start."]}),
        ({"status": 999999}, {"status": ["Select a valid choice. 999999 is not one of the available choices."]}),
        ({"owner": "nobody"}, {"owner": ["Select a valid choice. nobody is not one of the available choices."]}),
        ({"sort": "-shoe_size"}, {"sort": ["Unknown sort key 'shoe_size'. Use one of: name, company, status, owner, score, priority, created, updated, activity."]}),
        ({"per_page": -5}, {"per_page": ["Page size must be at least 1."]}),
        ({"page": -2}, {"page": ["Page numbers start at 1."]}),
        ({"page": "two"}, {"page": ["Page must be a whole number."]}),
        ({"page": 2000}, {"page": ["Page numbers reach the first 10,000 leads; go further with Next and Previous."]}),
        ({"cursor": "%%%not-base64"}, {"cursor": ["This page link is broken; start again from the first page."]}),
    ],
)  # fmt: skip
def test_bad_input_shows_an_error_and_no_rows(params, errors, cast, board, client_for):
    response = client_for(cast.a.admin).get(list_url(cast.a.company, **params))
    assert response.status_code == 200
    assert response.context["errors"] == errors
    assert response.context["page"] is None
    assert b'data-testid="list-errors"' in response.content


def test_another_companys_status_is_an_invalid_filter_not_a_wider_one(cast, board, client_for):
    foreign = status(cast.b.company, "new").pk
    response = client_for(cast.a.admin).get(list_url(cast.a.company, status=[foreign]))
    assert response.context["errors"] == {
        "status": [f"Select a valid choice. {foreign} is not one of the available choices."]
    }


def test_sorting_by_several_keys_is_stable(cast, board, client_for):
    client = client_for(cast.a.admin)
    assert names(client.get(list_url(cast.a.company, sort="-score"))) == ["Adams", "Clark", "Evans", "Baker", "Dunn"]
    assert names(client.get(list_url(cast.a.company, sort="-priority,score"))) == [
        "Clark",
        "Adams",
        "Baker",
        "Evans",
        "Dunn",
    ]
    assert names(client.get(list_url(cast.a.company, sort="company"))) == ["Baker", "Dunn", "Clark", "Adams", "Evans"]
    by_owner = ["Clark", "Dunn", "Adams", "Evans", "Baker"]  # pool "", Alpha Manager, SDR One ×2 by name, SDR Two
    assert names(client.get(list_url(cast.a.company, sort="owner,name"))) == by_owner
    same = client.get(list_url(cast.a.company, sort="country")).context["errors"]
    assert same == {
        "sort": [
            "Unknown sort key 'country'. Use one of: name, company, status, owner, score, priority, created, updated, activity."
        ]
    }


def test_keyset_pages_walk_forward_and_back_without_offsets(cast, board, client_for, django_assert_max_num_queries):
    client = client_for(cast.a.admin)
    first = client.get(list_url(cast.a.company, sort="-score", per_page=2))
    assert names(first) == ["Adams", "Clark"]
    second = client.get(list_url(cast.a.company, sort="-score", per_page=2, cursor=first.context["page"].next_cursor))
    assert (names(second), second.context["page"].number) == (["Evans", "Baker"], 2)
    third = client.get(list_url(cast.a.company, sort="-score", per_page=2, cursor=second.context["page"].next_cursor))
    assert (names(third), third.context["page"].has_next) == (["Dunn"], False)
    back = client.get(list_url(cast.a.company, sort="-score", per_page=2, cursor=third.context["page"].prev_cursor))
    assert (names(back), back.context["page"].number) == (["Evans", "Baker"], 2)
    assert first.context["count"] == 5


@pytest.mark.parametrize(
    "sort", ["-score", "score", "name", "-name", "-priority,score", "owner,-created", "-activity", "status,-name"]
)
def test_walking_every_page_either_way_visits_each_lead_once_in_order(sort, cast, board):
    """Same-direction sorts seek with one row-value comparison, mixed ones with its OR expansion;
    ties (equal scores, names, priorities, no activity) are broken by id either way."""
    for _ in range(4):  # ties on every key but id
        make_lead(
            cast.a.company, cast.a.admin, last_name="Twin", first_name="Pat", company_name="Initech", country="GB"
        )
    Lead.objects.filter(company=cast.a.company, last_name="Twin").update(score=55, priority="warm")
    leads = Lead.objects.filter(company=cast.a.company)
    parsed = listing.parse_sort(sort)
    expected = list(listing.sorted_leads(leads, parsed).values_list("id", flat=True))
    assert len(expected) == 9
    seen, cursor, pages = [], None, []
    while True:
        page = listing.paginate(leads, parsed, cursor=cursor, per_page=2)
        seen += [lead.pk for lead in page.rows]
        pages.append(page)
        if not page.has_next:
            break
        cursor = page.next_cursor
    assert seen == expected
    back, page = [], pages[-1]
    while page.has_previous:
        page = listing.paginate(leads, parsed, cursor=page.prev_cursor, per_page=2)
        back = [lead.pk for lead in page.rows] + back
    assert back + [lead.pk for lead in pages[-1].rows] == expected


def test_a_same_direction_sort_seeks_with_one_row_value_comparison(cast, board):
    leads = Lead.objects.filter(company=cast.a.company)
    for sort, expected in (("-score", '("leads_lead"."score", "leads_lead"."id") < ('), ("-priority,score", " OR ")):
        first = listing.paginate(leads, listing.parse_sort(sort), cursor=None, per_page=2)
        second = listing.sorted_leads(leads, listing.parse_sort(sort)).filter(
            listing._seek(first.columns, [listing._value_of(first.rows[-1], k) for k, _ in first.columns], True)
        )
        assert expected in str(second.query)


def test_the_page_query_uses_no_offset(cast, board):
    leads = Lead.objects.filter(company=cast.a.company)
    first = listing.paginate(leads, listing.parse_sort("-created"), cursor=None, per_page=2)
    deep = listing.sorted_leads(leads, listing.parse_sort("-created")).filter(
        listing._seek(first.columns, [listing._value_of(first.rows[-1], k) for k, _ in first.columns], True)
    )
    sql = str(deep[:3].query).upper()
    assert "OFFSET" not in sql


def test_a_cursor_past_the_end_shows_an_empty_page(cast, board, client_for):
    client = client_for(cast.a.admin)
    last = client.get(list_url(cast.a.company, per_page=5)).context["page"]
    beyond = listing._encode({"v": [listing._value_of(last.rows[-1], k) for k, _ in last.columns], "d": "n", "p": 2})
    response = client.get(list_url(cast.a.company, per_page=5, cursor=beyond))
    assert (response.status_code, names(response), response.context["errors"]) == (200, [], {})
    assert b"No more leads here." in response.content


def test_page_size_is_capped(cast, board, client_for):
    response = client_for(cast.a.admin).get(list_url(cast.a.company, per_page=5000))
    assert response.context["per_page"] == 200


def test_counts_stop_at_the_cap(cast, board):
    leads = Lead.objects.filter(company=cast.a.company)
    assert listing.capped_count(leads, cap=3) == (3, True)
    assert listing.capped_count(leads, cap=10) == (5, False)


def test_builtin_views(cast, board, client_for):
    client = client_for(cast.a.sdr1)
    assert names(client.get(list_url(cast.a.company, view="builtin:mine"))) == ["Evans", "Adams"]
    assert names(client.get(list_url(cast.a.company, view="builtin:unassigned"))) == ["Clark"]
    assert names(client.get(list_url(cast.a.company, view="builtin:hot"))) == ["Adams", "Clark"]


def test_save_a_view_share_it_with_the_team_and_make_it_default(cast, board, client_for):
    manager = client_for(cast.a.manager)
    response = manager.post(reverse("leads:saved_view_create", kwargs={"company_slug": "alpha"}),
                            {"name": "GB webinar", "visibility": "team", "filter_query": "country=GB&sort=-score"})  # fmt: skip
    saved = SavedFilter.objects.get(name="GB webinar")
    assert (saved.query, saved.sort, saved.visibility) == ({"country": ["GB"]}, "-score", "team")
    assert response["Location"] == f"/c/alpha/leads/?view=saved:{saved.pk}"
    sdr1 = client_for(cast.a.sdr1)  # reports to the manager: sees the team view
    assert names(sdr1.get(list_url(cast.a.company, view=f"saved:{saved.pk}"))) == ["Adams", "Clark", "Evans"]
    sdr2 = client_for(cast.a.sdr2)  # another team: the view does not exist for them
    assert sdr2.get(list_url(cast.a.company, view=f"saved:{saved.pk}")).context["errors"] == {
        "view": ["This saved view no longer exists or is not shared with you."]
    }
    sdr1 = client_for(cast.a.sdr1)  # the same test client, logged in as sdr1 again
    sdr1.post(reverse("leads:saved_view_default", kwargs={"company_slug": "alpha"}), {"view": f"saved:{saved.pk}"})
    assert client_for(cast.a.sdr1).get(list_url(cast.a.company)).context["view_key"] == f"saved:{saved.pk}"


def test_a_view_that_names_a_deleted_status_says_so(cast, board, client_for):
    gone = status(cast.a.company, "recycled")
    gone_id = gone.pk
    saved = SavedFilter.objects.create(company=cast.a.company, owner=cast.a.admin, name="Recycled",
                                       query={"status": [str(gone_id)]})  # fmt: skip
    gone.delete()
    response = client_for(cast.a.admin).get(list_url(cast.a.company, view=f"saved:{saved.pk}"))
    assert response.context["errors"] == {
        "status": [f"Select a valid choice. {gone_id} is not one of the available choices."]
    }
    assert response.context["page"] is None


def test_sdrs_cannot_share_with_the_whole_company(cast, client_for):
    response = client_for(cast.a.sdr1).post(reverse("leads:saved_view_create", kwargs={"company_slug": "alpha"}),
                                            {"name": "Mine", "visibility": "company", "filter_query": ""}, follow=True)  # fmt: skip
    assert [str(m) for m in response.context["messages"]] == [
        "Only managers and admins share views with the whole company."
    ]
    assert SavedFilter.objects.count() == 0


# --- bulk operations -----------------------------------------------------------------------------


def bulk_post(client, **data):
    return client.post(reverse("leads:bulk", kwargs={"company_slug": "alpha"}), data, follow=True)


def test_bulk_status_change_is_all_or_nothing(cast, board, client_for):
    from leads import services

    services.lead_transition(actor=cast.a.admin, lead=board["Clark"], to_status=status(cast.a.company, "contacted"))
    ids = [board[n].pk for n in ("Adams", "Clark", "Evans")]
    response = bulk_post(
        client_for(cast.a.admin), operation="status", status=status(cast.a.company, "contacted").pk, ids=ids
    )
    job = BulkJob.objects.get()
    assert job.status == "failed"
    assert job.error == (
        f"1 lead(s) cannot make this change: #{board['Clark'].pk} Pat Clark (The lead is already Contacted). "
        "Nothing was changed."
    )
    assert b'data-testid="bulk-error"' in response.content
    assert sorted(Lead.objects.filter(pk__in=ids).values_list("status__key", flat=True)) == ["contacted", "new", "new"]


def test_bulk_status_change_writes_history_changes_and_one_summary(cast, board, client_for):
    ids = [board[n].pk for n in ("Adams", "Evans")]
    before = Activity.objects.count()
    bulk_post(client_for(cast.a.sdr1), operation="status", status=status(cast.a.company, "contacted").pk, ids=ids)
    job = BulkJob.objects.get()
    assert (job.status, job.result) == ("succeeded", {"changed": 2, "operation": "status"})
    for lead in Lead.objects.filter(pk__in=ids):
        assert lead.status.key == "contacted"
        latest = lead.history.first()
        assert (latest.history_change_reason, latest.history_user, latest.history_type) == (
            f"leads.lead.bulk_status:{job.pk}",
            cast.a.sdr1.user,
            "~",
        )
        # The history row is the whole lead as it is now.
        tracked = [f.attname for f in Lead.history.model.tracked_fields]
        assert [getattr(latest, name) for name in tracked] == [getattr(lead, name) for name in tracked]
        assert latest.history_date == lead.updated_at
    changes = StatusChange.objects.filter(lead_id__in=ids, to_status__key="contacted")
    assert sorted(changes.values_list("lead_id", "from_status__key", "changed_by", "note")) == sorted(
        (pk, "new", cast.a.sdr1.pk, "") for pk in ids
    )
    assert Activity.objects.count() == before + 1
    assert Activity.objects.latest("id").subject == "Change status: 2 leads"


def test_one_invisible_lead_refuses_the_whole_request(cast, board, client_for):
    ids = [board["Adams"].pk, board["Baker"].pk]  # Baker belongs to sdr2
    response = bulk_post(
        client_for(cast.a.sdr1), operation="status", status=status(cast.a.company, "contacted").pk, ids=ids
    )
    assert [str(m) for m in response.context["messages"]] == [
        f"1 lead(s) are not available to you: #{board['Baker'].pk}. Nothing was changed."
    ]
    assert BulkJob.objects.count() == 0
    assert Lead.objects.get(pk=board["Adams"].pk).status.key == "new"


def test_leads_of_another_company_are_refused(cast, board, client_for):
    foreign = Lead.objects.get(last_name="BravoHidden")
    response = bulk_post(client_for(cast.a.admin), operation="delete", ids=[foreign.pk])
    assert [str(m) for m in response.context["messages"]] == [
        f"1 lead(s) are not available to you: #{foreign.pk}. Nothing was changed."
    ]
    assert Lead.objects.get(pk=foreign.pk).is_deleted is False


def test_bulk_assign_all_matching_a_filter(cast, board, client_for):
    response = bulk_post(client_for(cast.a.manager), operation="assign", owner=cast.a.sdr1.pk, all_matching="1",
                         filter_query="owner=unassigned")  # fmt: skip
    assert b'data-testid="bulk-summary"' in response.content
    assert Lead.objects.get(pk=board["Clark"].pk).owner == cast.a.sdr1
    assert Lead.objects.filter(company=cast.a.company, owner__isnull=True).count() == 0


def test_a_manager_cannot_assign_outside_their_team(cast, board, client_for):
    response = bulk_post(client_for(cast.a.manager), operation="assign", owner=cast.a.sdr2.pk, ids=[board["Clark"].pk])
    assert [str(m) for m in response.context["messages"]] == ["Alpha SDR Two is not in your team."]
    assert Lead.objects.get(pk=board["Clark"].pk).owner is None


def test_bulk_campaign_comment_delete_and_restore(cast, board, client_for):
    client = client_for(cast.a.admin)
    ids = [board["Adams"].pk, board["Baker"].pk]
    other = make_campaign(cast.a.company, "Retarget")
    bulk_post(client, operation="campaign", campaign=other.pk, ids=ids)
    assert set(Lead.objects.filter(pk__in=ids).values_list("campaign__name", flat=True)) == {"Retarget"}
    bulk_post(client, operation="comment", body="<b>Batch</b> note<script>x</script>", ids=ids)
    assert set(LeadComment.objects.filter(lead_id__in=ids).values_list("body", flat=True)) == {"<b>Batch</b> notex"}
    bulk_post(client, operation="delete", ids=ids)
    assert Lead.objects.filter(pk__in=ids, is_deleted=True).count() == 2
    bulk_post(client, operation="restore", ids=ids)
    assert Lead.objects.filter(pk__in=ids, is_deleted=False).count() == 2


def test_bulk_requests_over_the_cap_are_refused(cast, board):
    ids = list(range(1, bulk.MAX_LEADS + 2))
    with pytest.raises(bulk.BulkError) as error:
        bulk.bulk_job_create(actor=cast.a.admin, operation="delete", lead_ids=ids)
    assert error.value.message_dict == {"ids": ["At most 100,000 leads per operation; narrow the filter."]}


def test_sdrs_cannot_bulk_assign(cast, board, client_for):
    response = bulk_post(client_for(cast.a.sdr1), operation="assign", owner=cast.a.sdr1.pk, ids=[board["Clark"].pk])
    assert [str(m) for m in response.context["messages"]] == ["Your role may not assign leads in bulk."]


def test_large_jobs_run_as_a_django_q_task(cast, board, client_for, settings):
    settings.CRM_BULK_INLINE_LIMIT = 1  # Q_CLUSTER is sync in tests: the task runs in-process
    bulk_post(client_for(cast.a.admin), operation="delete", ids=[board["Adams"].pk, board["Baker"].pk])
    job = BulkJob.objects.get()
    from django_q.models import Task

    assert (job.status, Task.objects.get().name) == ("succeeded", f"bulk-job-{job.pk}")
    assert Lead.objects.filter(is_deleted=True).count() == 2


def test_job_pages_are_private_to_their_creator_and_admins(cast, board, client_for):
    bulk_post(client_for(cast.a.sdr1), operation="comment", body="hi", ids=[board["Adams"].pk])
    job = BulkJob.objects.get()
    job_url = reverse("leads:bulk_job", kwargs={"company_slug": "alpha", "bulk_job_id": job.pk})
    assert client_for(cast.a.sdr1).get(job_url).status_code == 200
    assert client_for(cast.a.manager).get(job_url).status_code == 404
    assert client_for(cast.a.admin).get(job_url).status_code == 200


def test_bulk_over_the_api(cast, board):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(cast.a.admin.user)
    base = f"/api/companies/{cast.a.company.pk}"
    response = client.post(f"{base}/leads/bulk", {"operation": "status", "status": status(cast.a.company, "contacted").pk,
                                                  "filter": "country=US"}, format="json")  # fmt: skip
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["total"]) == ("succeeded", 1)
    assert Lead.objects.get(pk=board["Dunn"].pk).status.key == "contacted"
    job = client.get(f"{base}/bulk-jobs/{response.json()['id']}").json()
    assert (job["progress"], job["result"]) == (1, {"changed": 1, "operation": "status"})
    bad = client.post(f"{base}/leads/bulk", {"operation": "explode", "ids": [1]}, format="json")
    assert bad.status_code == 400
    assert bad.json() == {"operation": ['"explode" is not a valid choice.']}
    bad_filter = client.post(
        f"{base}/leads/bulk", {"operation": "delete", "filter": "created_after=never"}, format="json"
    )
    assert (bad_filter.status_code, bad_filter.json()) == (400, {"created_after": ["Enter a valid date."]})


def test_the_api_list_uses_the_same_filters(cast, board):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(cast.a.admin.user)
    response = client.get(f"/api/companies/{cast.a.company.pk}/leads", {"country": "DE"})
    assert [r["last_name"] for r in response.json()["results"]] == ["Baker"]
    bad = client.get(f"/api/companies/{cast.a.company.pk}/leads", {"score_min": "x"})
    assert (bad.status_code, bad.json()) == (400, {"score_min": ["Enter a number."]})


# --- the page around the rows: filter panel, chips, columns, pager, bulk controls ---------------


class Tags(HTMLParser):
    """Start tags as (tag, attrs, path of enclosing tags' classes), for asserting page structure."""

    def __init__(self):
        super().__init__()
        self.tags, self.stack = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs, [cls for _, cls in self.stack]))
        if tag not in ("input", "br", "img", "link", "meta"):
            self.stack.append((tag, attrs.get("class", "")))

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass


def tags_of(response) -> list[tuple[str, dict, list[str]]]:
    parser = Tags()
    parser.feed(response.content.decode())
    return parser.tags


def filter_cells(response) -> list[tuple[str, list[tuple[str, str]]]]:
    """Each filter cell: the `for` of its label and its controls as (tag, id)."""
    cells = []
    for tag, attrs, path in tags_of(response):
        if "filter-field" in path:
            if tag == "label":
                cells.append((attrs["for"], []))
            elif tag in ("input", "select", "textarea"):
                cells[-1][1].append((tag, attrs["id"]))
    return cells


def test_every_filter_is_one_cell_with_its_label_above_its_control(cast, board, client_for):
    response = client_for(cast.a.admin).get(list_url(cast.a.company))
    cells = filter_cells(response)
    names = list(response.context["filterset"].form.fields)
    assert [label_for for label_for, _ in cells] == [f"id_{name}" for name in names]
    assert [controls for _, controls in cells] == [
        [("select" if name in SELECTS else "input", f"id_{name}")] for name in names
    ]
    assert {"cf_seats_min", "cf_industry_contains"} <= set(names)  # custom fields get cells too
    form_controls = [
        attrs.get("id")
        for tag, attrs, path in tags_of(response)
        if tag in ("input", "select") and "filter-grid" in path and attrs.get("type") != "hidden"
    ]
    assert form_controls == [f"id_{name}" for name in names]  # no control outside a cell


SELECTS = {"status", "owner", "team", "campaign", "stage", "priority", "gdpr_consent", "dnd", "converted",
           "has_duplicates"}  # fmt: skip


def test_apply_and_reset_come_after_the_grid(cast, board, client_for):
    tags = tags_of(client_for(cast.a.admin).get(list_url(cast.a.company, sort="-score")))
    actions = [(tag, attrs.get("href"), path) for tag, attrs, path in tags if attrs.get("data-testid") in
               ("apply-filters", "reset-filters")]  # fmt: skip
    assert [(tag, href, path[-1]) for tag, href, path in actions] == [
        ("button", None, "filter-actions"),
        ("a", "?sort=-score", "filter-actions"),
    ]
    assert all("filter-grid" not in path for _, _, path in actions)


def test_date_filters_are_date_pickers(cast, board, client_for):
    make_custom_field(cast.a.company, "renewal", "date")
    tags = tags_of(client_for(cast.a.admin).get(list_url(cast.a.company, created_after="2026-01-31")))
    dates = {attrs["name"]: (attrs["type"], attrs.get("value")) for tag, attrs, _ in tags
             if tag == "input" and attrs.get("type") == "date"}  # fmt: skip
    assert dates == {
        "created_after": ("date", "2026-01-31"),
        "created_before": ("date", None),
        "updated_after": ("date", None),
        "updated_before": ("date", None),
        "activity_after": ("date", None),
        "activity_before": ("date", None),
        "cf_renewal_after": ("date", None),
        "cf_renewal_before": ("date", None),
    }


def options_of(response, name: str) -> list[tuple[str, str, bool]]:
    select = response.content.decode().split(f'<select name="{name}"')[1].split("</select>")[0]
    return [(value, label, selected == " selected")
            for value, selected, label in re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select)]  # fmt: skip


def test_yes_no_filters_offer_any_yes_no_and_never_say_unknown(cast, board, client_for):
    make_custom_field(cast.a.company, "vip", "bool")
    response = client_for(cast.a.admin).get(list_url(cast.a.company, dnd="true"))
    assert options_of(response, "dnd") == [("", "Any", False), ("true", "Yes", True), ("false", "No", False)]
    assert options_of(response, "gdpr_consent") == [("", "Any", True), ("true", "Yes", False), ("false", "No", False)]
    assert options_of(response, "cf_vip")[0] == ("", "Any", True)
    assert options_of(response, "team") == [
        ("", "Any", True),
        (str(cast.a.admin.pk), "Alpha Admin", False),
        (str(cast.a.manager.pk), "Alpha Manager", False),
    ]
    assert b"Unknown" not in response.content
    assert b"---------" not in response.content
    assert names(response) == ["Clark"]
    # What older links and the API send keeps working: "unknown" is no filter.
    assert names(client_for(cast.a.admin).get(list_url(cast.a.company, dnd="unknown"))) == [
        "Evans", "Dunn", "Clark", "Baker", "Adams"
    ]  # fmt: skip


def chips_of(response) -> list[tuple[str, str]]:
    return [(chip.text, chip.href) for chip in response.context["chips"]]


def test_active_filters_are_chips_with_human_values_and_exact_removal_links(cast, board, client_for):
    contacted, qualified = status(cast.a.company, "contacted"), status(cast.a.company, "qualified")
    webinar = board["Adams"].campaign
    params = {"status": [contacted.pk, qualified.pk], "owner": [cast.a.sdr1.pk], "campaign": [webinar.pk],
              "team": cast.a.manager.pk, "score_min": 70, "gdpr_consent": "true", "created_after": "2026-01-02",
              "q": "north", "medium": ""}  # fmt: skip
    response = client_for(cast.a.admin).get(list_url(cast.a.company, sort="-score", **params))
    base = (f"status={contacted.pk}&status={qualified.pk}&owner={cast.a.sdr1.pk}&campaign={webinar.pk}"
            f"&team={cast.a.manager.pk}&score_min=70&gdpr_consent=true&created_after=2026-01-02&q=north")  # fmt: skip

    def without(part):
        return "?" + "&".join(p for p in base.split("&") if p != part) + "&sort=-score"

    assert chips_of(response) == [
        ("Search: north", without("q=north")),
        ("Status: Contacted", without(f"status={contacted.pk}")),
        ("Status: Qualified", without(f"status={qualified.pk}")),
        ("Owner: Alpha SDR One", without(f"owner={cast.a.sdr1.pk}")),
        ("Team of: Alpha Manager", without(f"team={cast.a.manager.pk}")),
        ("Campaign: Webinar", without(f"campaign={webinar.pk}")),
        ("Score ≥ 70", without("score_min=70")),
        ("GDPR consent: Yes", without("gdpr_consent=true")),
        ("Created from: 2026-01-02", without("created_after=2026-01-02")),
    ]
    links = [(attrs["href"], attrs["aria-label"]) for tag, attrs, _ in tags_of(response)
             if attrs.get("data-testid") == "filter-chip"]  # fmt: skip
    assert links == [(href, f"Remove filter {text}") for text, href in chips_of(response)]
    assert response.context["clear_filters"] == "?sort=-score"


def test_a_chip_escapes_what_the_user_typed(cast, board, client_for):
    response = client_for(cast.a.admin).get(list_url(cast.a.company, q='<b>"x"</b>'))
    assert chips_of(response) == [('Search: <b>"x"</b>', "?sort=-created")]
    assert b"Search: &lt;b&gt;&quot;x&quot;&lt;/b&gt;" in response.content


def test_removing_the_last_chip_of_a_view_does_not_bring_the_default_view_back(cast, board, client_for):
    client = client_for(cast.a.sdr1)
    listing.list_default_set(actor=cast.a.sdr1, view="builtin:mine")
    response = client.get(list_url(cast.a.company))
    assert chips_of(response) == [("Owner: Me", "?sort=-updated")]
    removed = client.get(list_url(cast.a.company, sort="-updated"))
    assert (chips_of(removed), removed.context["view_key"]) == ([], "")
    assert names(removed) == ["Evans", "Clark", "Adams"]  # sdr1's own and the pool, unfiltered


def test_a_bad_filter_still_gets_a_chip_to_remove_it(cast, board, client_for):
    response = client_for(cast.a.admin).get(list_url(cast.a.company, score_min="lots", country="GB"))
    assert response.context["page"] is None
    assert chips_of(response) == [("Country: GB", "?score_min=lots&sort=-created"),
                                  ("Score ≥ lots", "?country=GB&sort=-created")]  # fmt: skip


def test_optional_email_and_phone_columns_are_kept_by_every_link(cast, board, client_for):
    client = client_for(cast.a.admin)
    response = client.get(list_url(cast.a.company, cols=["phone", "email"], country="US"))
    assert response.context["columns"] == ["email", "phone"]
    tags = tags_of(response)
    heads = [attrs["data-testid"] for _, attrs, _ in tags if attrs.get("data-testid", "").startswith("column-head")]
    assert heads == ["column-head-email", "column-head-phone"]
    email = board["Dunn"].email
    assert f'<td data-testid="row-email"><a href="mailto:{email}">{email}</a></td>'.encode() in response.content
    assert b'<td data-testid="row-phone"><a href="tel:+1 212 555 0100">+1 212 555 0100</a></td>' in response.content
    sort_link = next(a["href"] for _, a, _ in tags if a.get("data-testid") == "sort-name")
    assert sort_link == "?cols=email&cols=phone&country=US&sort=-name,-created"
    assert chips_of(response) == [("Country: US", "?cols=email&cols=phone&sort=-created")]
    assert client.get(list_url(cast.a.company)).context["columns"] == []
    assert client.get(list_url(cast.a.company, cols="phone,fax")).context["columns"] == ["phone"]


def test_a_saved_view_keeps_its_columns(cast, board, client_for):
    client = client_for(cast.a.sdr1)
    client.post(reverse("leads:saved_view_create", kwargs={"company_slug": "alpha"}),
                {"name": "Call list", "visibility": "private", "filter_query": "owner=me&cols=phone"})  # fmt: skip
    saved = SavedFilter.objects.get(name="Call list")
    assert saved.query == {"owner": ["me"], "cols": ["phone"]}
    response = client.get(list_url(cast.a.company, view=f"saved:{saved.pk}"))
    assert (response.context["columns"], names(response), chips_of(response)) == (
        ["phone"], ["Evans", "Adams"], [("Owner: Me", "?cols=phone&sort=-created")]
    )  # fmt: skip


def test_dates_take_one_short_line_with_the_full_time_in_the_title(cast, board, client_for):
    now = timezone.now()
    Lead.objects.filter(pk=board["Adams"].pk).update(
        created_at=dt.datetime(2024, 3, 5, 9, 7, tzinfo=dt.UTC), updated_at=now, last_activity_at=None
    )
    response = client_for(cast.a.admin).get(list_url(cast.a.company, source="referral", gdpr_consent="true"))
    cells = [(a["datetime"], a["title"]) for t, a, _ in tags_of(response) if t == "time"]
    assert cells == [("2024-03-05T09:07:00+00:00", "2024-03-05 09:07 UTC"),
                     (timezone.localtime(now).isoformat(), timezone.localtime(now).strftime("%Y-%m-%d %H:%M UTC"))]  # fmt: skip
    row = response.content.decode().split('data-testid="lead-row"')[1]
    assert ">5 Mar 2024</time>" in row
    assert f">{timezone.localtime(now):%H:%M}</time>" in row
    assert '<td class="date">—</td>' in row


def pager_links(response) -> list[tuple[str, str]]:
    return [(a["data-testid"], a.get("href", "")) for t, a, _ in tags_of(response)
            if a.get("data-testid") in ("page-link", "page-current", "prev-page", "next-page")]  # fmt: skip


def test_the_pager_numbers_the_pages_and_jumps_to_one(cast, board, client_for):
    client = client_for(cast.a.admin)
    first = client.get(list_url(cast.a.company, sort="-score", per_page=2))
    assert pager_links(first) == [
        ("page-current", ""),
        ("page-link", "?sort=-score&per_page=2&page=2"),
        ("page-link", "?sort=-score&per_page=2&page=3"),
        ("next-page", f"?sort=-score&per_page=2&cursor={first.context['page'].next_cursor}"),
    ]
    assert b'data-testid="page-of">Page 1 of 3</span>' in first.content
    third = client.get(list_url(cast.a.company, sort="-score", per_page=2, page=3))
    assert (names(third), third.context["page"].number, third.context["page"].has_next) == (["Dunn"], 3, False)
    back = client.get(list_url(cast.a.company, sort="-score", per_page=2, cursor=third.context["page"].prev_cursor))
    assert (names(back), back.context["page"].number) == (["Evans", "Baker"], 2)
    assert [n for n, _ in pager_links(back)] == ["prev-page", "page-link", "page-current", "page-link", "next-page"]
    assert client.get(list_url(cast.a.company, per_page=2, page=4)).context["page"].rows == []


def test_page_numbers_skip_the_middle_and_stop_where_the_count_stops():
    assert listing.page_numbers(1, 1) == [1]
    assert listing.page_numbers(1, 9) == [1, 2, 3, None, 9]
    assert listing.page_numbers(6, 40) == [1, None, 4, 5, 6, 7, 8, None, 40]
    assert listing.page_numbers(39, 40) == [1, None, 37, 38, 39, 40]
    assert listing.last_numbered_page(0, 50) == 1
    assert listing.last_numbered_page(101, 50) == 3
    assert listing.last_numbered_page(listing.COUNT_CAP, 50) == 200  # capped: pages 1–200 start under the cap
    assert listing.page_number_of("200", 50) == 200
    with pytest.raises(ValidationError) as error:
        listing.page_number_of("201", 50)
    assert error.value.message_dict == {
        "page": ["Page numbers reach the first 10,000 leads; go further with Next and Previous."]
    }


@pytest.mark.parametrize("item_count", [1, 3])
def test_a_filtered_list_with_chips_and_columns_costs_a_fixed_number_of_queries(
    item_count, cast, client_for, django_assert_num_queries
):
    contacted = status(cast.a.company, "contacted")
    campaign = make_campaign(cast.a.company, "Fixed")
    for _ in range(item_count):
        lead = make_lead(cast.a.company, cast.a.admin, owner=cast.a.sdr1, campaign=campaign)
        Lead.objects.filter(pk=lead.pk).update(status=contacted)
    client = client_for(cast.a.admin)
    params = {"status": [contacted.pk], "campaign": [campaign.pk], "team": cast.a.manager.pk,
              "owner": [cast.a.sdr1.pk], "cols": ["email", "phone"], "page": 1}  # fmt: skip
    client.get(list_url(cast.a.company, **params))
    # session, user, membership, preference, owner choices, custom fields, the three filter values
    # checked, the team's ids, rows, count, the three choice lists (chips and controls share them),
    # notifications, switcher, saved views, bulk statuses, owners and campaigns
    with django_assert_num_queries(21):
        response = client.get(list_url(cast.a.company, **params))
    assert len(response.context["page"]) == item_count
    assert len(response.context["chips"]) == 4


@pytest.mark.parametrize(
    ("role", "operations"),
    [
        ("sdr1", ["status", "campaign", "comment", "delete"]),
        ("manager", ["status", "assign", "campaign", "comment", "delete"]),
        ("admin", ["status", "assign", "campaign", "comment", "delete"]),
    ],
)
def test_bulk_actions_offered_are_those_the_role_may_run(role, operations, cast, board, client_for):
    response = client_for(cast.a.member(role)).get(list_url(cast.a.company))
    select = response.content.decode().split('data-testid="bulk-operation"')[1].split("</select>")[0]
    assert re.findall(r'<option value="(\w+)">', select) == operations
    assert ('data-testid="bulk-owner"' in response.content.decode()) == ("assign" in operations)
    boxes = [t for t, a, _ in tags_of(response) if a.get("name") == "ids"]
    assert len(boxes) == len(response.context["page"].rows)


def test_pool_rows_are_marked_for_members_who_may_not_trash_them(cast, board, client_for):
    def pool_boxes(membership):
        response = client_for(membership).get(list_url(cast.a.company))
        form = next(a for t, a, _ in tags_of(response) if a.get("id") == "bulk-form")
        boxes = [a["value"] for t, a, _ in tags_of(response) if a.get("name") == "ids" and "data-pool" in a]
        return "data-pool-untrashable" in form, boxes

    assert pool_boxes(cast.a.sdr1) == (True, [str(board["Clark"].pk)])
    assert pool_boxes(cast.a.admin) == (False, [str(board["Clark"].pk)])


def test_without_the_bulk_permission_there_is_no_bulk_bar_and_no_checkbox(cast, board, client_for):
    """Every role holds ``leads.bulk`` today; the table partial hides the controls from one without."""
    response = client_for(cast.a.sdr1).get(list_url(cast.a.company))
    names = response.context.keys()  # a ContextList: iterating it yields contexts, not names
    context = {key: response.context[key] for key in names}
    kept = render_to_string("leads/partials/lead_table.html", context, request=response.wsgi_request)
    context.update(can_bulk=False, perms_crm=frozenset({"leads.view"}))
    html = render_to_string("leads/partials/lead_table.html", context, request=response.wsgi_request)

    def controls(page):  # row checkboxes, bulk bars, "select page" boxes
        return page.count('name="ids"'), page.count('data-testid="bulk-form"'), page.count("data-select-page")

    assert (controls(kept), controls(html)) == ((3, 1, 1), (0, 0, 0))
    assert "<kbd>x</kbd>" not in html
    assert html.count('data-testid="lead-row"') == 3
