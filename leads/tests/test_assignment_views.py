"""The assignment pages: permissions, my queue, claim / release / assign, rules, scoring, stats,
spam review, team capacity and the lead page's panel."""

import html
import re

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from crm.permissions import permissions_for
from leads import assignment, scoring
from leads.models import AssignmentRule, Lead, LeadSettings, ScoringRule
from leads.testing.factories import make_assignment_rule, make_lead

PAGES = [
    ("queue", {}, "leads.view"),
    ("pool", {}, "leads.assign"),
    ("spam_list", {}, "leads.assign"),
    ("team", {}, "leads.assign"),
    ("stats", {}, "stats.view"),
    ("rule_list", {}, "rules.manage"),
    ("rule_create", {}, "rules.manage"),
    ("scoring_list", {}, "rules.manage"),
    ("scoring_create", {}, "rules.manage"),
    ("settings", {}, "rules.manage"),
]


def url(name, tenant, **kwargs):
    return reverse(f"leads:assignment:{name}", kwargs={"company_slug": tenant.company.slug, **kwargs})


def page_text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())).strip())


@pytest.mark.parametrize(("name", "kwargs", "permission"), PAGES, ids=[p[0] for p in PAGES])
@pytest.mark.parametrize("role", ["admin", "manager", "sdr1"])
def test_each_page_answers_by_permission(cast, client_for, name, kwargs, permission, role):
    member = cast.a.member(role)

    response = client_for(member).get(url(name, cast.a, **kwargs))

    assert response.status_code == (200 if permission in permissions_for(member.role) else 403)


# --- my queue -----------------------------------------------------------------------------------


def test_my_queue_is_ordered_by_priority_then_score_then_waiting_time(cast, client_for):
    def lead(name, **data):
        return make_lead(cast.a.company, cast.a.manager, owner=cast.a.sdr1, first_name=name, last_name="Q",
                         email=f"{name.lower()}@acme-corp.com", **data)  # fmt: skip

    cold = lead("Cold")
    hot = lead("Hot", lead_source="referral", authority_level="decision_maker", budget_range="1M", timeline="now")
    warm_low = lead("Warmlow", lead_source="google_ads", authority_level="influencer", timeline="90 days")
    warm_high = lead("Warmhigh", lead_source="referral", authority_level="influencer", timeline="90 days")
    make_lead(cast.a.company, cast.a.admin, owner=cast.a.sdr2)  # someone else's

    response = client_for(cast.a.sdr1).get(url("queue", cast.a))

    order = [row.pk for row in response.context["page"]]
    assert order == [hot.pk, warm_high.pk, warm_low.pk, cold.pk]
    assert "4 open leads of 200" in page_text(response)


def test_the_queue_page_runs_a_fixed_number_of_queries(cast, client_for, django_assert_num_queries):
    client = client_for(cast.a.sdr1)
    make_lead(cast.a.company, cast.a.manager, owner=cast.a.sdr1)
    client.get(url("queue", cast.a))  # warm the session and the scorer
    with django_assert_num_queries(9) as one:
        client.get(url("queue", cast.a))
    for _ in range(2):
        make_lead(cast.a.company, cast.a.manager, owner=cast.a.sdr1)
    with django_assert_num_queries(len(one.captured_queries)):
        client.get(url("queue", cast.a))


def test_a_manager_opens_a_team_members_queue_but_not_an_outsiders(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.manager, owner=cast.a.sdr1)
    client = client_for(cast.a.manager)

    team = client.get(url("queue", cast.a) + f"?member={cast.a.sdr1.pk}")
    outsider = client.get(url("queue", cast.a) + f"?member={cast.a.sdr2.pk}")
    foreign = client.get(url("queue", cast.a) + f"?member={cast.b.sdr1.pk}")

    assert [r.pk for r in team.context["page"]] == [lead.pk]
    assert (outsider.status_code, foreign.status_code) == (404, 404)


def test_next_and_previous_walk_the_queue(cast, client_for):
    first = make_lead(cast.a.company, cast.a.manager, owner=cast.a.sdr1, lead_source="referral")
    second = make_lead(cast.a.company, cast.a.manager, owner=cast.a.sdr1)
    client = client_for(cast.a.sdr1)

    forward = client.get(url("queue_next", cast.a, lead_id=first.pk))
    back = client.get(url("queue_previous", cast.a, lead_id=second.pk))
    end = client.get(url("queue_next", cast.a, lead_id=second.pk), follow=True)

    assert forward["Location"] == f"/c/alpha/leads/{second.pk}/"
    assert back["Location"] == f"/c/alpha/leads/{first.pk}/"
    assert "That was the last lead in the queue." in page_text(end)


# --- claim, release, assign ---------------------------------------------------------------------


def test_an_sdr_claims_from_the_pool_and_releases(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.manager)
    client = client_for(cast.a.sdr1)

    claimed = client.post(url("claim", cast.a, lead_id=lead.pk), follow=True)
    assert Lead.objects.get(pk=lead.pk).owner == cast.a.sdr1
    assert f"{lead.display_name} is yours now: it is in your queue." in page_text(claimed)

    released = client.post(url("release", cast.a, lead_id=lead.pk), follow=True)
    assert Lead.objects.get(pk=lead.pk).owner is None
    assert f"{lead.display_name} is back in the pool." in page_text(released)


def test_claiming_a_lead_someone_took_says_so(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.manager)
    assignment.lead_claim(actor=cast.a.sdr2, lead=lead)

    response = client_for(cast.a.sdr1).post(url("claim", cast.a, lead_id=lead.pk))

    assert response.status_code == 404  # no longer visible to sdr1: it is sdr2's now


def test_claim_and_release_only_accept_post(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.manager)

    assert client_for(cast.a.sdr1).get(url("claim", cast.a, lead_id=lead.pk)).status_code == 405


def test_a_manager_assigns_from_the_form_and_gets_a_clear_refusal(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.manager)
    cast.a.sdr1.is_available = False
    cast.a.sdr1.save()
    client = client_for(cast.a.manager)

    refused = client.post(url("assign", cast.a, lead_id=lead.pk), {"owner": cast.a.sdr1.pk})
    outside = client.post(url("assign", cast.a, lead_id=lead.pk), {"owner": cast.a.sdr2.pk})
    done = client.post(url("assign", cast.a, lead_id=lead.pk), {"owner": cast.a.manager.pk, "reason": "VIP"})

    assert refused.context["form"].errors == {
        "owner": ["Alpha SDR One is unavailable (on leave) and receives no new leads."]
    }
    assert outside.context["form"].errors == {
        "owner": ["Select a valid choice. That choice is not one of the available choices."]
    }
    assert done["Location"] == f"/c/alpha/leads/{lead.pk}/"
    assert Lead.objects.get(pk=lead.pk).owner == cast.a.manager


# --- the pool, rules, scoring -------------------------------------------------------------------


def test_the_pool_page_previews_and_the_button_assigns(cast, client_for):
    leads = [make_lead(cast.a.company, cast.a.manager) for _ in range(3)]
    make_assignment_rule(cast.a.company, "Inbound", members=[cast.a.sdr1, cast.a.sdr2])
    client = client_for(cast.a.manager)

    preview = client.get(url("pool", cast.a) + "?count=2")
    assert [(p.lead.pk, p.owner) for p in preview.context["result"].placements] == [
        (leads[0].pk, cast.a.sdr1), (leads[1].pk, cast.a.sdr2),
    ]  # fmt: skip

    done = client.post(url("pool_assign", cast.a), follow=True)
    assert "Assigned 3 of 3 pool leads; 0 left in the pool." in page_text(done)
    assert Lead.objects.filter(owner__isnull=True).count() == 0


def rule_post(**overrides):
    data = {
        "name": "EMEA inbound", "is_active": "on", "strategy": "round_robin", "required_skills": "", "skill_field": "",
        "conditions-TOTAL_FORMS": "1", "conditions-INITIAL_FORMS": "0",
        "conditions-0-field": "country", "conditions-0-operator": "in", "conditions-0-value": "GB, IE",
        "members-TOTAL_FORMS": "2", "members-INITIAL_FORMS": "0",
        "members-0-membership": "", "members-0-weight": "1", "members-1-membership": "", "members-1-weight": "1",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_an_admin_creates_a_rule_in_the_editor(cast, client_for):
    data = rule_post(**{"members-0-membership": cast.a.sdr1.pk, "members-1-membership": cast.a.sdr2.pk})

    response = client_for(cast.a.admin).post(url("rule_create", cast.a), data)

    assert response.status_code == 302
    rule = AssignmentRule.objects.get()
    assert (rule.name, rule.conditions) == ("EMEA inbound", [{"field": "country", "operator": "in", "value": "GB, IE"}])
    assert [(s.membership, s.weight) for s in rule.members.all()] == [(cast.a.sdr1, 1), (cast.a.sdr2, 1)]


def test_the_editor_explains_a_bad_rule(cast, client_for):
    data = rule_post(**{"conditions-0-value": "", "members-0-membership": cast.a.sdr1.pk})

    response = client_for(cast.a.admin).post(url("rule_create", cast.a), data)

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["Conditions: Condition 1: Give a value to compare with."]
    assert AssignmentRule.objects.count() == 0


def test_the_rule_list_shows_the_rules_and_the_dry_run(cast, client_for):
    make_lead(cast.a.company, cast.a.manager, country="IE")
    make_assignment_rule(cast.a.company, "Ireland", members=[cast.a.sdr2],
                         conditions=[{"field": "country", "operator": "eq", "value": "IE"}])  # fmt: skip

    response = client_for(cast.a.admin).get(url("rule_list", cast.a))

    text = page_text(response)
    assert "Ireland" in text
    assert "Alpha SDR Two Round-robin in rule 'Ireland'." in text


def test_an_admin_edits_a_scoring_rule_and_the_thresholds(cast, client_for):
    rule = ScoringRule.objects.get(company=cast.a.company, name="Referral source")
    client = client_for(cast.a.admin)

    edited = client.post(url("scoring_edit", cast.a, scoring_rule_id=rule.pk), {
        "name": "Referral", "field": "lead_source", "operator": "in", "value": "referral, friend", "points": "30",
        "max_points": "", "order": "10", "is_active": "on"})  # fmt: skip
    settings = client.post(url("settings", cast.a), {"hot_threshold": 80, "warm_threshold": 50, "sla_hours": 8,
                                                     "spam_threshold": 70, "engagement_half_life_days": 30})  # fmt: skip

    assert (edited.status_code, settings.status_code) == (302, 302)
    rule.refresh_from_db()
    assert (rule.name, rule.value, rule.points) == ("Referral", "referral, friend", 30)
    assert LeadSettings.objects.get(company=cast.a.company).sla_hours == 8


def test_a_bad_scoring_rule_is_shown_on_its_field(cast, client_for):
    response = client_for(cast.a.admin).post(url("scoring_create", cast.a), {
        "name": "Big", "field": "lead_source", "operator": "gte", "value": "lots", "points": "10"})  # fmt: skip

    assert response.context["form"].errors == {"value": ["'is at least' compares numbers: give a number."]}


# --- stats, spam review, team -------------------------------------------------------------------


def test_the_stats_page_shows_the_table_and_the_chart(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.manager)
    assignment.lead_assign(actor=cast.a.manager, lead=lead, owner=cast.a.sdr1)

    response = client_for(cast.a.manager).get(url("stats", cast.a))

    members = {s.label: (s.assigned, s.open) for s in response.context["stats"].members}
    content = response.content.decode()
    assert members == {"Alpha Manager": (0, 0), "Alpha SDR One": (1, 1)}
    assert content.count('data-testid="stats-members-row"') == 2
    assert re.findall(r'data-testid="(chart-assignment-[a-z]+)"', content) == [
        "chart-assignment-members", "chart-assignment-days",
    ]  # fmt: skip
    assert re.findall(r"<title>([^<]*)</title>", content).count("Alpha SDR One: 1") == 1
    assert re.findall(r'class="chart-axis-title"[^>]*>([^<]*)<', content) == [
        "Member", "Leads assigned or claimed", "Leads assigned or claimed", "Day",
    ]  # fmt: skip
    assert 'href="/static/css/dashboard.css"' in content


def test_the_stats_page_without_assignments_says_so_instead_of_empty_charts(cast, client_for):
    response = client_for(cast.a.manager).get(url("stats", cast.a))

    assert response.context["charts"] == {}
    assert "No leads were assigned or claimed in this period" in page_text(response)
    assert "<svg" not in response.content.decode()


def test_the_stats_period_is_validated(cast, client_for):
    response = client_for(cast.a.admin).get(url("stats", cast.a) + "?since=2025-02-01&until=2025-01-01")

    assert "The start date is after the end date." in page_text(response)
    assert response.context["stats"] is None


def test_spam_review_lists_held_leads_with_reasons_and_clears_them(cast, client_for):
    held = make_lead(cast.a.company, cast.a.manager, first_name="Asdf", last_name="Qwerty",
                     email="noreply@mailinator.com")  # fmt: skip
    make_lead(cast.a.company, cast.a.manager)  # a normal lead
    client = client_for(cast.a.manager)

    listing = client.get(url("spam_list", cast.a))
    assert [lead.pk for lead in listing.context["leads"]] == [held.pk]
    assert "mailinator.com gives out disposable addresses." in page_text(listing)

    client.post(url("not_spam", cast.a, lead_id=held.pk))
    assert not scoring.is_held(Lead.objects.get(pk=held.pk))


def test_a_negative_capacity_is_refused_on_the_team_page(cast, client_for):
    response = client_for(cast.a.manager).post(
        url("member_edit", cast.a, member_id=cast.a.sdr1.pk), {"capacity": "-5", "is_available": "on"}
    )

    assert response.context["form"].errors == {"capacity": ["Capacity cannot be below zero."]}


def test_a_manager_cannot_edit_someone_outside_the_team(cast, client_for):
    response = client_for(cast.a.manager).get(url("member_edit", cast.a, member_id=cast.a.sdr2.pk))

    assert response.status_code == 404


# --- the lead page's panel ----------------------------------------------------------------------


def render_panel(lead, membership, rf):
    request = rf.get("/")
    return render_to_string(
        "leads/assignment/partials/lead_panel.html",
        {"lead": Lead.objects.select_related("status", "owner__user", "company").get(pk=lead.pk),
         "membership": membership, "perms_crm": permissions_for(membership.role), "company": lead.company},
        request=request,
    )  # fmt: skip


def test_the_panel_explains_the_score_and_offers_a_claim_for_a_pool_lead(cast, rf):
    lead = make_lead(cast.a.company, cast.a.manager, lead_source="referral", authority_level="decision_maker")

    html = render_panel(lead, cast.a.sdr1, rf)

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Referral source Lead source is one of referral +25" in text
    assert "Decision maker Authority level is decision_maker +20" in text
    assert 'data-testid="claim"' in html
    assert 'data-testid="assign"' not in html


def test_the_panel_shows_the_queue_position_and_why_the_lead_was_assigned(cast, rf):
    make_assignment_rule(cast.a.company, "Inbound", members=[cast.a.sdr1])
    first, second = make_lead(cast.a.company, cast.a.manager), make_lead(cast.a.company, cast.a.manager)

    html = render_panel(second, cast.a.sdr1, rf)

    assert "2 of 2 in my queue" in html
    assert f'href="/c/alpha/leads/{first.pk}/" data-testid="queue-previous"' in html
    assert "Round-robin in rule &#x27;Inbound&#x27;." in html
    assert 'data-testid="release"' in html


def test_the_rule_editor_shows_a_saved_rule_and_saves_changes(cast, client_for):
    rule = make_assignment_rule(cast.a.company, "Inbound", members=[cast.a.sdr1, cast.a.sdr2], strategy="weighted",
                                conditions=[{"field": "country", "operator": "eq", "value": "GB"}])  # fmt: skip
    client = client_for(cast.a.admin)

    page = client.get(url("rule_edit", cast.a, rule_id=rule.pk))
    members = page.context["members"]
    assert [f.initial for f in members.initial_forms] == [
        {"membership": cast.a.sdr1.pk, "weight": 1}, {"membership": cast.a.sdr2.pk, "weight": 1},
    ]  # fmt: skip
    assert page.context["conditions"].initial_forms[0].initial == {"field": "country", "operator": "eq", "value": "GB"}

    data = rule_post(**{
        "name": "Inbound", "strategy": "weighted", "conditions-TOTAL_FORMS": "0", "members-TOTAL_FORMS": "2",
        "members-0-membership": cast.a.sdr2.pk, "members-0-weight": "3",
        "members-1-membership": cast.a.sdr1.pk, "members-1-weight": "1", "members-1-DELETE": "on",
    })  # fmt: skip
    saved = client.post(url("rule_edit", cast.a, rule_id=rule.pk), data)

    assert saved.status_code == 302
    rule.refresh_from_db()
    assert rule.conditions == []
    assert [(s.membership, s.weight) for s in rule.members.all()] == [(cast.a.sdr2, 3)]


def test_rules_are_moved_and_deleted_from_the_list(cast, client_for):
    first = make_assignment_rule(cast.a.company, "First", members=[cast.a.sdr1])
    second = make_assignment_rule(cast.a.company, "Second", members=[cast.a.sdr2])
    client = client_for(cast.a.admin)

    client.post(url("rule_move", cast.a, rule_id=second.pk), {"direction": "up"})
    confirm = client.get(url("rule_delete", cast.a, rule_id=first.pk))
    client.post(url("rule_delete", cast.a, rule_id=first.pk))

    assert "Delete the assignment rule “First”?" in page_text(confirm)
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["Second"]


def test_scoring_pages_list_edit_and_delete(cast, client_for):
    rule = ScoringRule.objects.get(company=cast.a.company, name="Budget given")
    client = client_for(cast.a.admin)

    listing = client.get(url("scoring_list", cast.a))
    edit = client.get(url("scoring_edit", cast.a, scoring_rule_id=rule.pk))
    client.post(url("scoring_delete", cast.a, scoring_rule_id=rule.pk))

    assert "Hot from 70, warm from 40, otherwise cold" in page_text(listing)
    assert edit.context["form"].initial["points"] == 15
    assert not ScoringRule.objects.filter(pk=rule.pk).exists()


def test_the_team_page_lists_open_leads_against_capacity(cast, client_for):
    make_lead(cast.a.company, cast.a.manager, owner=cast.a.sdr1)

    response = client_for(cast.a.manager).get(url("team", cast.a))

    assert [(m.display_name, load) for m, load in response.context["rows"]] == [
        ("Alpha Manager", 0), ("Alpha SDR One", 1),
    ]  # fmt: skip
