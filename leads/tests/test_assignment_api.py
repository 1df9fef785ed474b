"""The assignment API: same services and visibility as the pages, errors as JSON field messages."""

import pytest
from rest_framework.test import APIClient

from leads.models import AssignmentRule, Lead, ScoringRule
from leads.testing.factories import make_assignment_rule, make_lead


def api_for(membership) -> APIClient:
    client = APIClient()
    client.force_authenticate(membership.user)
    return client


def url(tenant, path: str) -> str:
    return f"/api/companies/{tenant.company.pk}/{path}"


def test_claim_release_and_assign(cast):
    lead = make_lead(cast.a.company, cast.a.manager)

    claimed = api_for(cast.a.sdr1).post(url(cast.a, f"leads/{lead.pk}/claim"))
    again = api_for(cast.a.sdr2).post(url(cast.a, f"leads/{lead.pk}/claim"))
    released = api_for(cast.a.sdr1).post(url(cast.a, f"leads/{lead.pk}/release"), {"reason": "Wrong fit"},
                                          format="json")  # fmt: skip
    assigned = api_for(cast.a.admin).post(url(cast.a, f"leads/{lead.pk}/assign"), {"owner": cast.a.sdr2.pk},
                                          format="json")  # fmt: skip

    assert (claimed.status_code, claimed.json()["owner"]) == (200, cast.a.sdr1.pk)
    assert again.status_code == 404  # sdr1's lead is invisible to sdr2
    assert (released.status_code, released.json()["owner"]) == (200, None)
    assert (assigned.status_code, assigned.json()["owner"]) == (200, cast.a.sdr2.pk)


def test_assigning_to_another_companys_member_is_a_field_error(cast):
    lead = make_lead(cast.a.company, cast.a.manager)

    response = api_for(cast.a.admin).post(url(cast.a, f"leads/{lead.pk}/assign"), {"owner": cast.b.sdr1.pk},
                                          format="json")  # fmt: skip

    assert (response.status_code, response.json()) == (400, {"owner": ["Choose a valid member of this company."]})


def test_an_sdr_may_not_assign(cast):
    lead = make_lead(cast.a.company, cast.a.manager)

    response = api_for(cast.a.sdr1).post(url(cast.a, f"leads/{lead.pk}/assign"), {"owner": cast.a.sdr1.pk},
                                         format="json")  # fmt: skip

    assert response.status_code == 403


def test_the_score_endpoint_explains_the_score_and_the_quality(cast):
    lead = make_lead(cast.a.company, cast.a.manager, lead_source="referral", email="info@acme-corp.com", last_name="Ng")

    response = api_for(cast.a.sdr1).get(url(cast.a, f"leads/{lead.pk}/score"))

    assert response.json() == {
        "score": 25,
        "priority": "cold",
        "breakdown": [{"rule": "Referral source", "rule_id": ScoringRule.objects.get(company=cast.a.company,
                       name="Referral source").pk, "points": 25, "kind": "field",
                       "detail": "Lead source is one of referral"}],
        "held_for_review": False,
        "spam_score": 15,
        "validation_status": "suspect",
        "quality_reasons": ["info@ is a role address, not a person."],
    }  # fmt: skip


def test_recording_engagement_is_idempotent_per_key(cast):
    lead = make_lead(cast.a.company, cast.a.manager, lead_source="Trade show")
    client = api_for(cast.a.sdr1)

    first = client.post(url(cast.a, f"leads/{lead.pk}/engagement"), {"kind": "form_submit", "key": "f-1"},
                        format="json")  # fmt: skip
    repeat = client.post(url(cast.a, f"leads/{lead.pk}/engagement"), {"kind": "form_submit", "key": "f-1"},
                         format="json")  # fmt: skip
    bad = client.post(url(cast.a, f"leads/{lead.pk}/engagement"), {"kind": "tweet"}, format="json")

    assert (first.status_code, first.json()["score"]) == (201, 20)
    assert (repeat.status_code, repeat.json()["score"]) == (200, 20)
    assert (bad.status_code, bad.json()) == (
        400, {"kind": ["Choose one of email_open, email_click, form_submit, call, meeting, email."]},
    )  # fmt: skip


def test_the_queue_lists_my_open_leads_most_urgent_first(cast):
    cold = make_lead(cast.a.company, cast.a.manager, owner=cast.a.sdr1)
    hot = make_lead(cast.a.company, cast.a.manager, owner=cast.a.sdr1, lead_source="referral",
                    authority_level="decision_maker", budget_range="1M", timeline="now")  # fmt: skip

    response = api_for(cast.a.sdr1).get(url(cast.a, "queue"))

    assert [row["id"] for row in response.json()] == [hot.pk, cold.pk]


def test_rules_are_created_validated_and_listed_by_admins_only(cast):
    client = api_for(cast.a.admin)
    data = {"name": "UK", "strategy": "round_robin", "conditions": [{"field": "country", "operator": "eq",
            "value": "GB"}], "members": [{"membership": cast.a.sdr1.pk, "weight": 1}]}  # fmt: skip

    created = client.post(url(cast.a, "assignment-rules"), data, format="json")
    bad = client.post(url(cast.a, "assignment-rules"), {**data, "name": "Bad", "strategy": "weighted",
                      "members": [{"membership": cast.a.sdr1.pk, "weight": 0}]}, format="json")  # fmt: skip
    unknown = client.post(url(cast.a, "assignment-rules"), {**data, "name": "X", "colour": "red"}, format="json")
    forbidden = api_for(cast.a.manager).get(url(cast.a, "assignment-rules"))

    assert created.status_code == 201
    assert created.json()["members"] == [{"membership": cast.a.sdr1.pk, "weight": 1}]
    assert (bad.status_code, bad.json()) == (
        400, {"members": ["Give at least one member a weight above 0: weights of 0 never receive."]},
    )  # fmt: skip
    assert (unknown.status_code, unknown.json()) == (400, {"colour": ["Unknown field."]})
    assert forbidden.status_code == 403
    assert AssignmentRule.objects.count() == 1


def test_a_rule_of_another_company_is_404(cast):
    rule = make_assignment_rule(cast.b.company, "Theirs")

    response = api_for(cast.a.admin).patch(url(cast.a, f"assignment-rules/{rule.pk}"), {"name": "Mine"},
                                           format="json")  # fmt: skip

    assert response.status_code == 404


def test_patching_a_rule_changes_only_what_is_given(cast):
    rule = make_assignment_rule(cast.a.company, "Inbound", members=[cast.a.sdr1])

    response = api_for(cast.a.admin).patch(url(cast.a, f"assignment-rules/{rule.pk}"), {"is_active": False},
                                           format="json")  # fmt: skip

    assert (response.status_code, response.json()["is_active"], response.json()["name"]) == (200, False, "Inbound")
    assert [s.membership for s in AssignmentRule.objects.get().members.all()] == [cast.a.sdr1]


def test_scoring_rules_and_settings(cast):
    client = api_for(cast.a.admin)

    created = client.post(url(cast.a, "scoring-rules"), {"name": "CTOs", "field": "job_title",
                          "operator": "contains", "value": "CTO", "points": 10}, format="json")  # fmt: skip
    bad = client.post(url(cast.a, "scoring-rules"), {"name": "X", "field": "shoe", "operator": "eq", "value": "1",
                      "points": 1}, format="json")  # fmt: skip
    settings = client.patch(url(cast.a, "lead-settings"), {"hot_threshold": 90}, format="json")
    read = api_for(cast.a.sdr1).get(url(cast.a, "lead-settings"))

    assert created.status_code == 201
    assert bad.json() == {"field": ["Unknown field 'shoe': choose one of the listed fields or custom.<key> / "
                                    "profile.<key>."]}  # fmt: skip
    assert settings.json()["hot_threshold"] == 90
    assert read.json() == {"hot_threshold": 90, "warm_threshold": 40, "sla_hours": 24, "spam_threshold": 60,
                           "engagement_half_life_days": 0}  # fmt: skip


def test_the_pool_preview_and_assign(cast):
    make_lead(cast.a.company, cast.a.manager)
    make_assignment_rule(cast.a.company, "Inbound", members=[cast.a.sdr2])
    client = api_for(cast.a.manager)

    preview = client.get(url(cast.a, "pool/preview?count=5"))
    bad = client.get(url(cast.a, "pool/preview?count=0"))
    done = client.post(url(cast.a, "pool/assign"))

    assert preview.json()["placements"][0]["owner"] == cast.a.sdr2.pk
    assert bad.status_code == 400
    assert (done.json()["assigned"], Lead.objects.filter(owner=cast.a.sdr2).count()) == (1, 1)


@pytest.mark.parametrize(("role", "expected"), [("admin", 200), ("manager", 200), ("sdr1", 403)])
def test_stats_need_the_stats_permission(cast, role, expected):
    response = api_for(cast.a.member(role)).get(url(cast.a, "assignment-stats?since=2025-01-01&until=2025-01-31"))

    assert response.status_code == expected
    if expected == 200:
        assert response.json()["total"]["assigned"] == 0
        assert len(response.json()["by_day"]) == 31


def test_rules_apply_to_leads_created_through_the_api(cast):
    make_assignment_rule(cast.a.company, "Partners", members=[cast.a.sdr2])
    from leads.testing.factories import make_campaign

    response = api_for(cast.a.manager).post(url(cast.a, "leads"), {
        "first_name": "Pat", "last_name": "Partner", "email": "pat@partner-co.com", "lead_source": "partner_api",
        "campaign": make_campaign(cast.a.company).pk}, format="json")  # fmt: skip

    assert (response.status_code, response.json()["owner"], response.json()["score"]) == (201, cast.a.sdr2.pk, 20)
