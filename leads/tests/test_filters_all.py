"""Every filter of ``LeadFilterSet`` — the declared ones and each kind of custom-field filter — with a
valid value, on the HTML list and on the API, over leads that match and leads that do not: the
exact leads come back. A filter added without a case here fails ``test_every_filter_has_a_case``."""

import datetime as dt
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from leads.filters import LeadFilterSet
from leads.models import Lead
from leads.testing.factories import make_campaign, make_custom_field, make_duplicate_pair, make_lead, status

TODAY = timezone.localdate()
DAYS_AGO = {"Adams": 20, "Baker": 10, "Clark": 5, "Dunn": 2}


def day(days_ago: int) -> str:
    return (TODAY - dt.timedelta(days=days_ago)).isoformat()


def at(days_ago: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days_ago)


@pytest.fixture
def board(cast):
    """Four leads of alpha that differ in every filtered attribute, a pair of duplicates (Dupe1,
    Dupe2), and bravo's look-alike of Adams that no filter of alpha may return."""
    a = cast.a
    webinar, ads = make_campaign(a.company, "Webinar"), make_campaign(a.company, "Ads")
    make_custom_field(a.company, "seats", "number")
    make_custom_field(a.company, "industry", "text")
    make_custom_field(a.company, "renewal", "date")
    make_custom_field(a.company, "partner", "bool")
    make_custom_field(a.company, "tier", "choice", choices=["gold", "silver"])
    rows = {
        "Adams": dict(owner=a.sdr1, campaign=webinar, country="GB", lead_source="Referral", medium="email",
                      gdpr_consent=True, company_name="Northwind Ltd", job_title="CTO",
                      profile_data={"headline": "CTO at Northwind", "location": "London"},
                      custom_fields={"seats": 50, "industry": "SaaS", "renewal": "2027-03-01", "partner": True,
                                     "tier": "gold"}),
        "Baker": dict(owner=a.sdr2, campaign=ads, country="DE", lead_source="Google Ads", medium="cpc",
                      company_name="Contoso GmbH", profile_data={"headline": "Buyer", "location": "Berlin"},
                      custom_fields={"seats": 5, "industry": "Retail", "renewal": "2026-01-15", "partner": False,
                                     "tier": "silver"}),
        "Clark": dict(owner=None, campaign=webinar, country="FR", lead_source="Referral", dnd=True,
                      company_name="Initech", status=status(a.company, "contacted")),
        "Dunn": dict(owner=a.manager, campaign=ads, country="US", lead_source="Website",
                     company_name="Hooli", phone="+1 212 555 0100"),
    }  # fmt: skip
    leads = {}
    for n, (last, data) in enumerate(rows.items()):
        lead = make_lead(a.company, a.admin, first_name="Pat", last_name=last, **data)
        ago = DAYS_AGO[last]
        Lead.objects.filter(pk=lead.pk).update(
            created_at=at(ago), updated_at=at(ago - 1), last_activity_at=at(ago - 1) if last != "Dunn" else None,
            score=[90, 40, 75, 10][n], priority=["hot", "warm", "hot", "cold"][n],
            stage=["awareness", "consideration", "decision", "awareness"][n],
            converted_at=at(1) if last == "Dunn" else None,
        )  # fmt: skip
        leads[last] = lead
    first, second, _ = make_duplicate_pair(a.company, first_name="Pat", last_name="Dupe", lead_source="Partner")
    for last, lead in (("Dupe1", first), ("Dupe2", second)):
        Lead.objects.filter(pk=lead.pk).update(
            last_name=last, created_at=at(30), updated_at=at(30), last_activity_at=None, score=20, priority="hot",
            stage="consideration",
        )  # fmt: skip
        leads[last] = lead
    make_lead(cast.b.company, cast.b.admin, first_name="Pat", last_name="BravoAdams", company_name="Northwind Ltd",
              country="GB", lead_source="Referral", gdpr_consent=True)  # fmt: skip
    return leads


def cases(cast, board) -> dict[str, tuple[object, list[str]]]:
    """Filter → (a valid value, the exact leads it keeps): never all of alpha's leads, never none."""
    a = cast.a
    return {
        "q": ("northwind", ["Adams"]),
        "status": ([status(a.company, "contacted").pk], ["Clark"]),
        "owner": ([a.sdr1.pk, "unassigned"], ["Clark", "Dupe1", "Dupe2", "Adams"]),
        "team": (a.manager.pk, ["Dunn", "Adams"]),
        "campaign": ([board["Adams"].campaign_id], ["Clark", "Adams"]),
        "source": ("referral", ["Clark", "Adams"]),
        "medium": ("CPC", ["Baker"]),
        "stage": (["awareness", "decision"], ["Dunn", "Clark", "Adams"]),
        "country": ("GB,US", ["Dunn", "Dupe1", "Dupe2", "Adams"]),
        "score_min": (50, ["Clark", "Adams"]),
        "score_max": (40, ["Dunn", "Baker", "Dupe1", "Dupe2"]),
        "priority": (["warm", "cold"], ["Dunn", "Baker"]),
        "gdpr_consent": ("true", ["Adams"]),
        "dnd": ("false", ["Dunn", "Baker", "Dupe1", "Dupe2", "Adams"]),
        "converted": ("true", ["Dunn"]),
        "has_duplicates": ("true", ["Dupe1", "Dupe2"]),
        "headline": ("cto at", ["Adams"]),
        "location": ("berl", ["Baker"]),
        "created_after": (day(5), ["Dunn", "Clark"]),
        "created_before": (day(10), ["Baker", "Adams", "Dupe1", "Dupe2"]),
        "updated_after": (day(4), ["Dunn", "Clark"]),
        "updated_before": (day(19), ["Adams", "Dupe1", "Dupe2"]),
        "activity_after": (day(9), ["Clark", "Baker"]),
        "activity_before": (day(9), ["Baker", "Adams"]),
        "cf_seats_min": (10, ["Adams"]),
        "cf_seats_max": (10, ["Baker"]),
        "cf_industry": ("Retail", ["Baker"]),
        "cf_industry_contains": ("aa", ["Adams"]),
        "cf_renewal_after": ("2026-06-01", ["Adams"]),
        "cf_renewal_before": ("2026-06-01", ["Baker"]),
        "cf_partner": ("false", ["Baker"]),
        "cf_tier": ("gold", ["Adams"]),
    }


def html_names(client, company, params) -> list[str]:
    url = reverse("leads:list", kwargs={"company_slug": company.slug})
    response = client.get(f"{url}?{urlencode({**params, 'per_page': 200}, doseq=True)}")
    assert response.context["errors"] == {}
    return [lead.last_name for lead in response.context["page"].rows]


def api_names(client, company, params) -> list[str]:
    response = client.get(f"/api/companies/{company.pk}/leads", {**params, "page_size": 200})
    assert response.status_code == 200, response.json()
    return [row["last_name"] for row in response.json()["results"]]


def ordered(board, names: list[str]) -> list[str]:
    """Newest first, as both lists sort by default."""
    return sorted(
        names, key=lambda name: (-Lead.objects.get(pk=board[name].pk).created_at.timestamp(), -board[name].pk)
    )


def test_every_filter_has_a_case(cast, board):
    declared = LeadFilterSet(None, queryset=Lead.objects.none(), membership=cast.a.admin).filters
    assert set(LeadFilterSet.base_filters) <= set(declared)
    assert set(cases(cast, board)) == set(declared)


def test_every_filter_returns_exactly_its_leads_on_the_page_and_the_api(cast, board, client_for):
    html = client_for(cast.a.admin)
    api = APIClient()
    api.force_authenticate(cast.a.admin.user)
    everyone = ordered(board, list(board))
    assert html_names(html, cast.a.company, {}) == everyone
    for name, (value, expected) in cases(cast, board).items():
        assert 0 < len(expected) < len(everyone), name  # leads that match and leads that do not
        wanted = ordered(board, expected)
        assert (name, html_names(html, cast.a.company, {name: value})) == (name, wanted)
        assert (name, api_names(api, cast.a.company, {name: value})) == (name, wanted)


def test_has_duplicates_false_keeps_the_others_and_a_dismissed_pair_no_longer_counts(cast, board, client_for):
    from leads import dedup
    from leads.models import DuplicateCandidate

    client = client_for(cast.a.admin)
    assert html_names(client, cast.a.company, {"has_duplicates": "false"}) == ordered(
        board, ["Dunn", "Clark", "Baker", "Adams"]
    )
    dedup.candidate_dismiss(actor=cast.a.admin, candidate=DuplicateCandidate.objects.get())
    assert html_names(client, cast.a.company, {"has_duplicates": "true"}) == []


def test_has_duplicates_only_counts_pairs_the_member_can_see(cast, board, client_for):
    """sdr1 sees their own leads and the pool: a pair with a lead of sdr2 is not theirs to review,
    while a pair inside the pool is."""
    a = cast.a
    Lead.objects.filter(pk=board["Dupe2"].pk).update(owner=a.sdr2)
    sdr1 = client_for(a.sdr1)
    assert html_names(sdr1, a.company, {"has_duplicates": "true"}) == []
    Lead.objects.filter(pk=board["Dupe2"].pk).update(owner=None)
    assert html_names(sdr1, a.company, {"has_duplicates": "true"}) == ordered(board, ["Dupe1", "Dupe2"])


@pytest.mark.parametrize("name", ["gdpr_consent", "dnd", "converted", "has_duplicates", "cf_partner"])
def test_a_yes_no_filter_refuses_other_values_instead_of_showing_everything(name, cast, board, client_for):
    url = reverse("leads:list", kwargs={"company_slug": cast.a.company.slug})
    response = client_for(cast.a.admin).get(url, {name: "maybe"})
    assert (response.context["errors"], response.context["page"]) == ({name: ["Give true or false."]}, None)
    api = APIClient()
    api.force_authenticate(cast.a.admin.user)
    answer = api.get(f"/api/companies/{cast.a.company.pk}/leads", {name: "maybe"})
    assert (answer.status_code, answer.json()) == (400, {name: ["Give true or false."]})
