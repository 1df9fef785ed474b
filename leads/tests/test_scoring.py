"""Scoring: the seed's defaults, explanations, caps, bands, engagement with decay, the spam hold,
the per-process cache and batch rescoring."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from leads import scoring, services
from leads.models import Lead, LeadSettings, ScoringRule
from leads.testing.factories import make_campaign, make_custom_field, make_lead


def breakdown(lead):
    return [(e["rule"], e["points"]) for e in Lead.objects.get(pk=lead.pk).score_breakdown]


def test_a_new_company_gets_the_seed_defaults(cast):
    rules = ScoringRule.objects.filter(company=cast.a.company)

    assert rules.count() == len(scoring.DEFAULT_RULES) == 17
    assert list(rules.filter(field="lead_source").values_list("value", "points")) == [
        ("referral", 25), ("partner_api, partner", 20), ("google_ads", 15), ("website_form, website", 10),
        ("referral, partner_api, partner, google_ads, website_form, website", 5),
    ]  # fmt: skip
    settings = LeadSettings.objects.get(company=cast.a.company)
    assert (settings.hot_threshold, settings.warm_threshold, settings.sla_hours, settings.spam_threshold) == (
        70, 40, 24, 60,
    )  # fmt: skip


def test_the_score_explains_which_rule_gave_what(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, lead_source="Referral", authority_level="decision_maker",
                     budget_range="10-50k", timeline="30 days", email="ana@acme-corp.com")  # fmt: skip

    assert (lead.score, lead.priority) == (80, "hot")
    assert breakdown(lead) == [
        ("Referral source", 25), ("Decision maker", 20), ("Budget given", 15), ("Timeline within 60 days", 20),
    ]  # fmt: skip
    assert Lead.objects.get(pk=lead.pk).score_breakdown[0]["detail"] == "Lead source is one of referral"


@pytest.mark.parametrize(
    ("fields", "score", "priority"),
    [
        ({"lead_source": "Trade show"}, 5, "cold"),
        ({"lead_source": "google ads", "authority_level": "influencer", "timeline": "3 months"}, 40, "warm"),
        ({"lead_source": "partner_api", "authority_level": "user", "timeline": "3-6 Months"}, 35, "cold"),
        ({"lead_source": "website_form", "budget_range": "5k", "timeline": "Q3"}, 25, "cold"),
    ],
)
def test_scores_and_bands_follow_the_seed(cast, fields, score, priority):
    lead = make_lead(cast.a.company, cast.a.sdr1, email="ana@acme-corp.com", **fields)

    assert (lead.score, lead.priority) == (score, priority)


def test_the_score_is_capped_at_100_and_the_cap_is_explained(cast):
    make_custom_field(cast.a.company, "industry")
    scoring.scoring_rule_create(actor=cast.a.admin, company=cast.a.company, data={
        "name": "Fintech", "field": "custom.industry", "operator": "eq", "value": "fintech", "points": 40})  # fmt: skip

    lead = make_lead(cast.a.company, cast.a.sdr1, lead_source="referral", authority_level="decision_maker",
                     budget_range="1M", timeline="now", custom_fields={"industry": "Fintech"})  # fmt: skip

    assert lead.score == 100
    assert breakdown(lead)[-2:] == [("Fintech", 40), ("Capped at 100", -20)]


def test_editing_a_lead_rescores_it(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, lead_source="Trade show")

    lead = services.lead_update(actor=cast.a.sdr1, lead=lead, data={"authority_level": "decision_maker"})

    assert (lead.score, breakdown(lead)) == (25, [("Other source", 5), ("Decision maker", 20)])


def test_thresholds_are_configurable_and_rescore_the_company(cast, django_capture_on_commit_callbacks):
    lead = make_lead(cast.a.company, cast.a.sdr1, lead_source="google_ads", authority_level="influencer")
    assert (lead.score, lead.priority) == (30, "cold")

    with django_capture_on_commit_callbacks(execute=True):
        scoring.lead_settings_update(actor=cast.a.admin, company=cast.a.company,
                                     data={"hot_threshold": 30, "warm_threshold": 10})  # fmt: skip

    assert Lead.objects.get(pk=lead.pk).priority == "hot"


def test_warm_cannot_be_above_hot(cast):
    with pytest.raises(ValidationError) as error:
        scoring.lead_settings_update(actor=cast.a.admin, company=cast.a.company, data={"warm_threshold": 90})

    assert error.value.message_dict == {"warm_threshold": ["The warm threshold cannot be above the hot threshold."]}


def test_a_held_lead_is_never_hot(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, lead_source="referral", authority_level="decision_maker",
                     budget_range="1M", timeline="now", first_name="Asdf", last_name="Qwerty",
                     email="noreply@mailinator.com")  # fmt: skip

    assert (lead.score, lead.priority, lead.spam_score, lead.validation_status) == (80, "cold", 100, "suspect")
    assert breakdown(lead)[-1] == ("Held for spam review (spam score 100)", 0)
    assert scoring.is_held(lead)


# --- engagement ---------------------------------------------------------------------------------


def test_engagement_events_add_their_points(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, lead_source="Trade show")

    scoring.engagement_record(lead=lead, kind="email_open", key="msg-1")
    scoring.engagement_record(lead=lead, kind="email_open", key="msg-1")  # a retried pixel hit: ignored
    scoring.engagement_record(lead=lead, kind="email_click")
    scoring.engagement_record(lead=lead, kind="form_submit")
    services.activity_log(actor=cast.a.sdr1, lead=lead, kind="call", subject="Intro call")
    services.activity_log(actor=cast.a.sdr1, lead=lead, kind="meeting", subject="Demo")
    scoring.lead_rescore(lead=lead)

    assert breakdown(lead) == [
        ("Other source", 5), ("Email opened", 5), ("Email link clicked", 10), ("Form submitted", 15), ("Call", 20),
        ("Meeting", 30),
    ]  # fmt: skip
    assert Lead.objects.get(pk=lead.pk).score == 85


def test_engagement_survives_an_edit_of_the_lead(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, lead_source="Trade show")
    scoring.engagement_record(lead=lead, kind="form_submit")

    services.lead_update(actor=cast.a.sdr1, lead=lead, data={"job_title": "CTO"})

    assert breakdown(lead) == [("Other source", 5), ("Form submitted", 15)]


def test_engagement_decays_with_the_half_life(cast):
    scoring.lead_settings_update(actor=cast.a.admin, company=cast.a.company, data={"engagement_half_life_days": 10})
    lead = make_lead(cast.a.company, cast.a.sdr1, lead_source="Trade show")
    now = timezone.now()
    scoring.engagement_record(lead=lead, kind="call", occurred_at=now - dt.timedelta(days=10))
    scoring.engagement_record(lead=lead, kind="email_click", occurred_at=now - dt.timedelta(days=20))

    # 20 × ½ and 10 × ¼ (a hair under 2.5 by the time it is scored)
    assert breakdown(lead) == [("Other source", 5), ("Email link clicked", 2), ("Call", 10)]


def test_an_unknown_engagement_kind_is_refused(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1)

    with pytest.raises(ValidationError) as error:
        scoring.engagement_record(lead=lead, kind="tweet")

    assert error.value.message_dict == {
        "kind": ["Choose one of email_open, email_click, form_submit, call, meeting, email."]
    }


# --- rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"field": "shoe_size"}, {"field": ["Unknown field 'shoe_size': choose one of the listed fields or "
                                            "custom.<key> / profile.<key>."]}),
        ({"field": "custom.nope"}, {"field": ["Unknown custom field 'nope': define it under Custom fields first."]}),
        ({"operator": "like"}, {"operator": ["Unknown operator 'like': choose one of eq, ne, in, not_in, contains, "
                                             "set, not_set, gte, lte, between, per_event."]}),
        ({"field": "engagement.call"}, {"operator": ["Engagement fields score per event: use 'for each event'."]}),
        ({"operator": "per_event", "value": ""}, {"operator": ["'for each event' applies to engagement fields only."]}),
        ({"value": ""}, {"value": ["Give a value to compare with."]}),
        ({"operator": "gte", "value": "lots"}, {"value": ["'is at least' compares numbers: give a number."]}),
        ({"operator": "set", "value": "x"}, {"value": ["'is set' takes no value: leave it empty."]}),
        ({"field": "score", "operator": "gte", "value": "5"}, {"field": ["Unknown field 'score': choose one of the "
                                                                        "listed fields or custom.<key> / "
                                                                        "profile.<key>."]}),
        ({"points": 150}, {"points": ["Ensure this value is less than or equal to 100."]}),
        ({"max_points": 10}, {"max_points": ["A cap applies to per-event rules only."]}),
    ],
)  # fmt: skip
def test_a_bad_scoring_rule_is_refused_with_a_clear_message(cast, data, expected):
    rule = {"name": "Rule", "field": "lead_source", "operator": "eq", "value": "Events", "points": 10, **data}

    with pytest.raises(ValidationError) as error:
        scoring.scoring_rule_create(actor=cast.a.admin, company=cast.a.company, data=rule)

    assert error.value.message_dict == expected


def test_rule_changes_take_effect_at_once_in_this_process(cast):
    make_lead(cast.a.company, cast.a.sdr1)  # warms the cache
    rule = ScoringRule.objects.get(company=cast.a.company, name="Website form source")

    scoring.scoring_rule_update(actor=cast.a.admin, rule=rule, data={"points": 12})

    assert make_lead(cast.a.company, cast.a.sdr1, lead_source="Website", email="x@acme-corp.com").score == 12


def test_apply_scores_runs_no_query_for_the_next_lead_of_the_company(cast, django_assert_num_queries):
    campaign = make_campaign(cast.a.company)
    make_lead(cast.a.company, cast.a.sdr1, campaign=campaign)
    leads = [Lead(company=cast.a.company, campaign=campaign, lead_source="referral", email=f"l{n}@acme-corp.com")
             for n in range(50)]  # fmt: skip

    with django_assert_num_queries(0):
        for lead in leads:
            scoring.apply_scores(lead)

    assert {lead.score for lead in leads} == {25}


def test_campaign_conditions_read_the_campaign_name_once(cast, django_assert_num_queries):
    scoring.scoring_rule_create(actor=cast.a.admin, company=cast.a.company, data={
        "name": "Webinar", "field": "campaign", "operator": "contains", "value": "webinar", "points": 7})  # fmt: skip
    campaign = make_campaign(cast.a.company, "Spring webinar")
    leads = [Lead(company=cast.a.company, campaign_id=campaign.pk, lead_source="x") for _ in range(5)]
    scoring.scorer_for(cast.a.company)

    with django_assert_num_queries(1):
        for lead in leads:
            scoring.apply_scores(lead)

    assert leads[0].score_breakdown[-1]["rule"] == "Webinar"


@pytest.mark.parametrize(
    ("text", "days"),
    [("30 days", 30), ("60", 60), ("3-6 Months", 90), ("2 weeks", 14), ("1 year", 365), ("next quarter", 180),
     ("ASAP", 0), ("Q3 2025", None), ("unknown", None), ("", None), ("90d", 90), ("within 1.5 months", 45)],
)  # fmt: skip
def test_timelines_are_read_as_days(text, days):
    assert scoring.timeline_days(text) == days


# --- batch rescoring ----------------------------------------------------------------------------


def test_recalculate_scores_rescores_the_company_in_batches(cast, capsys):
    leads = [make_lead(cast.a.company, cast.a.sdr1, lead_source="referral") for _ in range(5)]
    other = make_lead(cast.b.company, cast.b.sdr1, lead_source="referral")
    Lead.objects.update(score=0, score_breakdown=[], priority="hot")

    call_command("recalculate_scores", "--company", "alpha", "--batch", "2")

    assert set(Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("score", "priority")) == {
        (25, "cold")
    }
    assert Lead.objects.filter(pk=other.pk).values_list("score", "priority").get() == (0, "hot")
    assert capsys.readouterr().out.startswith("alpha: rescored 5 leads in ")
    assert breakdown(leads[0]) == [("Referral source", 25)]


def test_rescoring_reads_engagement_for_the_whole_batch(cast, django_assert_max_num_queries):
    leads = [make_lead(cast.a.company, cast.a.sdr1, lead_source="Trade show") for _ in range(6)]
    for lead in leads[:3]:
        scoring.engagement_record(lead=lead, kind="email_click")
    Lead.objects.update(score=0, score_breakdown=[])

    # per batch of 3: read, 2 engagement reads, 1 write (+ savepoints); once: the SQLite page cache
    with django_assert_max_num_queries(18):
        result = scoring.leads_rescore(company=cast.a.company, batch_size=3)

    assert (result.scanned, result.changed) == (6, 6)
    assert [Lead.objects.get(pk=lead.pk).score for lead in leads] == [15, 15, 15, 5, 5, 5]


def test_recalculate_scores_refuses_bad_input(db):
    with pytest.raises(CommandError, match="No company with slug 'nope'."):
        call_command("recalculate_scores", "--company", "nope")


def test_the_scorers_memo_gives_what_matching_afresh_gives(cast):
    """Leads sharing the values the rules read share one match; custom values of another type
    (True and 1 are equal keys) and JSON values that cannot be keys are matched on their own."""
    make_custom_field(cast.a.company, "vip", "boolean")
    make_custom_field(cast.a.company, "seats", "number")
    for data in (
        {"name": "VIP", "field": "custom.vip", "operator": "eq", "value": "true", "points": 9},
        {"name": "Big", "field": "custom.seats", "operator": "gte", "value": "1", "points": 4},
        {"name": "Tagged", "field": "profile.tags", "operator": "contains", "value": "cfo", "points": 3},
    ):
        scoring.scoring_rule_create(actor=cast.a.admin, company=cast.a.company, data=data)
    campaign = make_campaign(cast.a.company)
    variants = [
        {"lead_source": "referral", "authority_level": "decision_maker", "timeline": "30 days"},
        {"lead_source": "referral", "authority_level": "decision_maker", "timeline": "30 days", "job_title": "CEO"},
        {"lead_source": "google_ads", "budget_range": "10k", "timeline": "90 days"},
        {"lead_source": "google_ads", "custom_fields": {"vip": True, "seats": 1}},
        {"lead_source": "google_ads", "custom_fields": {"vip": 1, "seats": 1}},
        {"lead_source": "google_ads", "profile_data": {"tags": ["cfo", "board"]}},
        {"lead_source": "google_ads", "profile_data": {"tags": ["cto"]}},
    ]
    leads = [Lead(company=cast.a.company, campaign=campaign, email=f"m{n}@acme-corp.com", first_name="Ann",
                  last_name="Lee", **data) for n, data in enumerate(variants)]  # fmt: skip
    shared = scoring.scorer_for(cast.a.company)
    for lead in leads:
        shared(lead)
    fresh = []
    for data in variants:
        lead = Lead(company=cast.a.company, campaign=campaign, email="x@acme-corp.com", first_name="Ann",
                    last_name="Lee", **data)  # fmt: skip
        scoring.engine._load_scorer(cast.a.company)(lead)  # a new scorer: an empty memo
        fresh.append(lead)
    assert [(lead.score, lead.score_breakdown) for lead in leads] == [
        (lead.score, lead.score_breakdown) for lead in fresh
    ]
    assert [lead.score for lead in leads][3:] == [28, 19, 18, 15]  # vip=True, vip=1, tag cfo, tag cto
