import datetime as dt

import pytest
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
        ({"page": 2000}, {"page": ["Jumping to a page number is not supported; follow Next and Previous."]}),
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
        f"1 lead(s) cannot make this change: #{board['Clark'].pk} Pat Clark (Contacted → Contacted is not allowed). "
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
