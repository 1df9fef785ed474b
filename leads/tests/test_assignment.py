"""Automatic assignment: strategies, skip conditions, rule order, the pool, batches and the log."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from crm.services import membership_create
from crm.testing.factories import UserFactory
from leads import assignment, services
from leads.models import AssignmentKind, AssignmentRule, Lead, LeadAssignment
from leads.testing.factories import make_assignment_rule, make_campaign, make_custom_field, make_lead, status


def sdr(tenant, name, **extra):
    user = UserFactory(email=f"{name.lower()}@{tenant.company.slug}.test", full_name=name)
    return membership_create(company=tenant.company, user=user, role="sdr", manager=tenant.manager, **extra)


@pytest.fixture
def team(cast):
    """Four more SDRs in company A: Ana, Ben, Cy, Dee."""
    return [sdr(cast.a, name) for name in ("Ana", "Ben", "Cy", "Dee")]


def rule(tenant, name, members, **data):
    return make_assignment_rule(tenant.company, name, members=members, **data)


def owners(leads):
    return [Lead.objects.get(pk=lead.pk).owner.display_name if Lead.objects.get(pk=lead.pk).owner else None
            for lead in leads]  # fmt: skip


def create(tenant, n=1, **data):
    return [make_lead(tenant.company, tenant.manager, **data) for _ in range(n)]


def test_round_robin_takes_turns_and_keeps_its_cursor_in_the_database(cast, team):
    inbound = rule(cast.a, "Inbound", team[:3])

    leads = create(cast.a, 4)

    assert owners(leads) == ["Ana", "Ben", "Cy", "Ana"]
    inbound.refresh_from_db()
    assert inbound.cursor == 1
    entry = LeadAssignment.objects.get(lead=leads[0])
    assert (entry.kind, entry.rule, entry.strategy, entry.reason) == (
        AssignmentKind.AUTO, inbound, "round_robin", "Round-robin in rule 'Inbound'.",
    )  # fmt: skip


def test_every_assignment_says_why_in_the_history(cast, team):
    rule(cast.a, "EMEA inbound", team[:2])
    team[0].capacity = 0
    team[0].save()

    lead = create(cast.a)[0]

    reasons = list(lead.history.order_by("history_id").values_list("history_change_reason", flat=True))
    assert reasons == [
        "leads.lead.created",
        "leads.lead.assigned: Round-robin in rule 'EMEA inbound' after Ana (at capacity, 0 of 0) was skipped.",
    ]
    assert lead.history.latest("history_id").history_user == cast.a.manager.user


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"is_active": False}, "inactive"),
        ({"is_available": False}, "unavailable"),
        ({"capacity": 0}, "at capacity, 0 of 0"),
    ],
)
def test_inactive_unavailable_and_full_members_are_skipped(cast, team, change, reason):
    rule(cast.a, "Inbound", team[:2])
    for name, value in change.items():
        setattr(team[0], name, value)
    team[0].save()

    leads = create(cast.a, 2)

    assert owners(leads) == ["Ben", "Ben"]
    assert LeadAssignment.objects.get(lead=leads[0]).reason == (
        f"Round-robin in rule 'Inbound' after Ana ({reason}) was skipped."
    )


def test_a_member_reaching_capacity_stops_receiving(cast, team):
    team[0].capacity = 1
    team[0].save()
    rule(cast.a, "Inbound", team[:2])

    assert owners(create(cast.a, 4)) == ["Ana", "Ben", "Ben", "Ben"]


def test_only_open_leads_count_against_capacity(cast, team):
    team[0].capacity = 1
    team[0].save()
    rule(cast.a, "Inbound", [team[0]])
    first = create(cast.a)[0]
    services.lead_transition(actor=cast.a.manager, lead=first, to_status=status(cast.a.company, "disqualified"),
                             note="spam")  # fmt: skip

    assert owners(create(cast.a)) == ["Ana"]


def test_weighted_round_robin_spreads_the_heavy_members_turns(cast, team):
    rule(cast.a, "Weighted", team[:3], strategy="weighted")
    AssignmentRule.objects.get(name="Weighted").members.filter(membership=team[0]).update(weight=3)

    assert owners(create(cast.a, 10)) == ["Ana", "Ben", "Ana", "Cy", "Ana", "Ana", "Ben", "Ana", "Cy", "Ana"]


def test_weighted_sequence_is_smooth_and_ignores_zero_weights():
    assert assignment.weighted_sequence([5, 1, 1]) == [0, 0, 1, 0, 2, 0, 0]
    assert assignment.weighted_sequence([0, 2]) == [1, 1]


def test_least_loaded_fills_the_emptiest_share_of_capacity(cast, team):
    team[0].capacity, team[1].capacity = 10, 2
    for member in team[:2]:
        member.save()
    make_lead(cast.a.company, cast.a.manager, owner=team[0])
    rule(cast.a, "Balanced", team[:2], strategy="least_loaded")

    leads = create(cast.a, 3)

    # Ana 1/10 vs Ben 0/2 → Ben; then Ana 1/10 < Ben 1/2 → Ana; then Ana 2/10 < Ben 1/2 → Ana.
    assert owners(leads) == ["Ben", "Ana", "Ana"]
    assert LeadAssignment.objects.get(lead=leads[0]).reason == (
        "Least-loaded in rule 'Balanced': Ben had 0 of 2 open leads."
    )


def test_a_fixed_member_rule_hands_over_when_its_member_cannot_take_more(cast, team):
    team[3].is_available = False
    team[3].save()
    rule(cast.a, "Key accounts", [team[3]], strategy="fixed")
    rule(cast.a, "Everyone else", team[:1])

    lead = create(cast.a)[0]

    assert owners([lead]) == ["Ana"]
    assert LeadAssignment.objects.get(lead=lead).reason == "Round-robin in rule 'Everyone else'."


def test_the_first_matching_rule_wins_and_later_rules_still_apply(cast, team):
    rule(cast.a, "Referrals", [team[0]], conditions=[{"field": "lead_source", "operator": "eq", "value": "Referral"}])
    rule(cast.a, "UK and Ireland", [team[1]], conditions=[{"field": "country", "operator": "in", "value": "GB, IE"}])
    rule(cast.a, "Rest of world", [team[2]])

    referral, irish, french = (
        create(cast.a, lead_source="referral", country="FR")[0],
        create(cast.a, country="IE")[0],
        create(cast.a, country="FR")[0],
    )

    assert owners([referral, irish, french]) == ["Ana", "Ben", "Cy"]


@pytest.mark.parametrize(
    ("condition", "data", "matches"),
    [
        ({"field": "campaign", "operator": "eq", "value": "Spring webinar"}, {"campaign": "Spring webinar"}, True),
        ({"field": "campaign", "operator": "eq", "value": "Spring webinar"}, {}, False),
        ({"field": "custom.industry", "operator": "in", "value": "Fintech, Banking"}, {"industry": "fintech"}, True),
        ({"field": "custom.industry", "operator": "in", "value": "Fintech, Banking"}, {"industry": "Retail"}, False),
        ({"field": "score", "operator": "between", "value": "40-100"}, {"budget_range": "10k"}, True),
        ({"field": "score", "operator": "between", "value": "40-100"}, {}, False),
        ({"field": "interest_product", "operator": "contains", "value": "payroll"}, {"interest": "Payroll Pro"}, True),
    ],
)
def test_conditions_on_campaign_custom_fields_and_score(cast, team, condition, data, matches):
    make_custom_field(cast.a.company, "industry")
    rule(cast.a, "Targeted", [team[0]], conditions=[condition])
    fields = {"authority_level": "decision_maker", "lead_source": "referral"}
    if "campaign" in data:
        fields["campaign"] = make_campaign(cast.a.company, data["campaign"])
    if "industry" in data:
        fields["custom_fields"] = {"industry": data["industry"]}
    if "budget_range" in data:
        fields["budget_range"] = data["budget_range"]
    if "interest" in data:
        fields["interest_product"] = data["interest"]
    if "budget_range" not in data and condition["field"] == "score":
        fields = {}

    lead = create(cast.a, **fields)[0]

    assert owners([lead]) == (["Ana"] if matches else [None])


def test_territory_rules_only_give_leads_to_members_whose_territory_covers_the_country(cast, team):
    team[0].territory, team[1].territory = "DACH", "EMEA"
    for member in team[:2]:
        member.save()
    rule(cast.a, "Regional", team[:2], match_territory=True)

    german, brazilian = create(cast.a, country="DE")[0], create(cast.a, country="BR")[0]
    french = create(cast.a, country="FR")[0]

    assert owners([german, french, brazilian]) == ["Ana", "Ben", None]
    assert LeadAssignment.objects.get(lead=brazilian).reason == (
        "Left in the pool: rule 'Regional' could not place it (Ben (territory EMEA does not cover BR) and "
        "Ana (territory DACH does not cover BR))."
    )


def test_skill_rules_match_the_lead_language_to_member_skills(cast, team):
    make_custom_field(cast.a.company, "language")
    team[0].skills, team[1].skills = ["en"], ["de", "en"]
    for member in team[:2]:
        member.save()
    rule(cast.a, "By language", team[:2], skill_field="custom.language", required_skills=["en"])

    german = create(cast.a, custom_fields={"language": "DE"})[0]

    assert owners([german]) == ["Ben"]
    assert LeadAssignment.objects.get(lead=german).reason == (
        "Round-robin in rule 'By language' after Ana (lacks skill DE) was skipped."
    )


def test_no_rules_leaves_the_lead_in_the_pool_without_a_log_entry(cast):
    lead = create(cast.a)[0]

    assert (Lead.objects.get(pk=lead.pk).owner, LeadAssignment.objects.count()) == (None, 0)


def test_no_matching_rule_leaves_the_lead_in_the_pool_and_says_so(cast, team):
    rule(cast.a, "Only referrals", [team[0]], conditions=[{"field": "lead_source", "operator": "eq", "value": "x"}])

    lead = create(cast.a)[0]

    entry = LeadAssignment.objects.get(lead=lead)
    assert (entry.kind, entry.owner, entry.reason) == (
        AssignmentKind.POOL, None, "No assignment rule matched: left in the pool.",
    )  # fmt: skip


def test_inactive_rules_are_ignored(cast, team):
    rule(cast.a, "Paused", [team[0]], is_active=False)

    assert owners(create(cast.a)) == [None]


def test_a_lead_created_with_an_owner_is_not_reassigned(cast, team):
    rule(cast.a, "Inbound", [team[0]])

    lead = make_lead(cast.a.company, cast.a.manager, owner=team[1])

    assert (owners([lead]), LeadAssignment.objects.count()) == (["Ben"], 0)


def test_spam_leads_are_held_in_the_pool(cast, team):
    rule(cast.a, "Inbound", [team[0]])

    lead = create(cast.a, first_name="asdf", last_name="qwerty", email="noreply@mailinator.com")[0]

    entry = LeadAssignment.objects.get(lead=lead)
    assert (owners([lead]), entry.kind, entry.reason) == (
        [None], AssignmentKind.POOL, "Held for spam review (spam score 100): not assigned.",
    )  # fmt: skip


def test_rules_of_another_company_never_apply(cast, team):
    rule(cast.a, "Inbound", [team[0]])

    lead = make_lead(cast.b.company, cast.b.manager)

    assert Lead.objects.get(pk=lead.pk).owner is None


# --- batches and the pool ----------------------------------------------------------------------


def bulk_leads(tenant, count, **extra):
    campaign = make_campaign(tenant.company)
    new = status(tenant.company, "new")
    rows = [
        Lead(company=tenant.company, first_name="Imp", last_name=f"Orted{n}", email=f"imp{n}@acme.test",
             lead_source="Import", campaign=campaign, status=new, country="GB", **extra)
        for n in range(count)
    ]  # fmt: skip
    return Lead.objects.bulk_create(rows, batch_size=1000)


def test_a_batch_of_ten_thousand_is_spread_evenly_with_one_email_per_owner(
    cast, team, django_capture_on_commit_callbacks, mailoutbox
):
    for member in team:
        member.capacity = 5000
        member.save()
    rule(cast.a, "Import", team)
    leads = bulk_leads(cast.a, 10_000)

    with django_capture_on_commit_callbacks(execute=True):
        result = assignment.assign_batch(leads, actor=cast.a.manager)

    counts = {m.display_name: n for m, n in result.per_owner().items()}
    assert counts == {"Ana": 2500, "Ben": 2500, "Cy": 2500, "Dee": 2500}
    assert Lead.objects.filter(company=cast.a.company, owner__isnull=True).count() == 0
    assert LeadAssignment.objects.filter(kind=AssignmentKind.BATCH).count() == 10_000
    assert sorted(m.to for m in mailoutbox) == [["ana@alpha.test"], ["ben@alpha.test"], ["cy@alpha.test"],
                                                ["dee@alpha.test"]]  # fmt: skip
    assert mailoutbox[0].subject == "[Alpha] Alpha Manager assigned you 2500 leads"
    history = leads[0].history.latest("history_id")
    assert history.history_change_reason == "leads.lead.assigned: Round-robin in rule 'Import'."


def test_a_batch_continues_the_round_robin_where_single_leads_left_it(cast, team):
    rule(cast.a, "Inbound", team[:3])
    create(cast.a)

    result = assignment.assign_batch(bulk_leads(cast.a, 3), actor=None)

    assert [p.owner.display_name for p in result.placements] == ["Ben", "Cy", "Ana"]


def test_the_dry_run_shows_where_pool_leads_would_go_and_changes_nothing(cast, team):
    pool = create(cast.a, 3)
    inbound = rule(cast.a, "Inbound", team[:2])

    result = assignment.pool_assign(company=cast.a.company, actor=None, dry_run=True, limit=2)

    assert [(p.lead.pk, p.owner.display_name) for p in result.placements] == [(pool[0].pk, "Ana"), (pool[1].pk, "Ben")]
    inbound.refresh_from_db()
    assert (inbound.cursor, Lead.objects.filter(owner__isnull=False).count(), LeadAssignment.objects.count()) == (
        0, 0, 0,
    )  # fmt: skip


def test_assign_leads_command_assigns_the_pool_oldest_first(cast, team, capsys):
    pool = create(cast.a, 3)
    rule(cast.a, "Inbound", team[:2])

    call_command("assign_leads", "--company", "alpha")

    assert owners(pool) == ["Ana", "Ben", "Ana"]
    out = capsys.readouterr().out.splitlines()
    assert out == ["alpha: assigned 3 of 3 pool leads; 0 left in the pool.", "  Ana: 2", "  Ben: 1"]


def test_assign_leads_dry_run_prints_each_placement(cast, team, capsys):
    lead = create(cast.a)[0]
    rule(cast.a, "Inbound", team[:1])

    call_command("assign_leads", "--company", "alpha", "--dry-run")

    assert capsys.readouterr().out.splitlines() == [
        f"lead {lead.pk} {lead.display_name} → Ana: Round-robin in rule 'Inbound'.",
        "alpha: would assign 1 of 1 pool leads; 0 left in the pool.",
        "  Ana: 1",
    ]
    assert owners([lead]) == [None]


def test_assign_leads_refuses_an_unknown_company(db):
    with pytest.raises(CommandError, match="No company with slug 'nope'."):
        call_command("assign_leads", "--company", "nope")


# --- rule validation ----------------------------------------------------------------------------


def errors_of(data, tenant):
    with pytest.raises(ValidationError) as error:
        assignment.assignment_rule_create(actor=tenant.admin, company=tenant.company, data=data)
    return error.value.message_dict


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"conditions": [{"field": "shoe_size", "operator": "eq", "value": "42"}]},
         {"conditions": ["Condition 1: Unknown field 'shoe_size': choose one of the listed fields or custom.<key> / "
                         "profile.<key>."]}),
        ({"conditions": [{"field": "country", "operator": "like", "value": "G%"}]},
         {"conditions": ["Condition 1: Unknown operator 'like': choose one of eq, ne, in, not_in, contains, set, "
                         "not_set, gte, lte, between, per_event."]}),
        ({"conditions": [{"field": "score", "operator": "between", "value": "high"}]},
         {"conditions": ["Condition 1: Give a range as 'low-high', e.g. 60-100."]}),
        ({"strategy": "weighted", "members": "zero"}, {"members": ["Give at least one member a weight above 0: weights "
                                                                   "of 0 never receive."]}),
        ({"strategy": "fixed"}, {"members": ["A fixed-member rule sends every lead to exactly one member."]}),
        ({"strategy": "lottery"}, {"strategy": ["Unknown strategy 'lottery': choose one of round_robin, weighted, "
                                                "least_loaded, fixed."]}),
        ({"members": "other company"}, {"members": ["Member 1: choose a member of this company."]}),
        ({"members": []}, {"members": ["Add at least one member who may receive the leads."]}),
        ({"skill_field": "engagement.call"}, {"skill_field": ["Unknown field 'engagement.call': choose one of the "
                                                              "listed fields or custom.<key> / profile.<key>."]}),
    ],
)  # fmt: skip
def test_a_bad_rule_is_refused_with_a_clear_message(cast, change, expected):
    members = [{"membership": cast.a.sdr1.pk, "weight": 1}, {"membership": cast.a.sdr2.pk, "weight": 1}]
    if change.get("members") == "zero":
        change["members"] = [{**m, "weight": 0} for m in members]
    elif change.get("members") == "other company":
        change["members"] = [{"membership": cast.b.sdr1.pk, "weight": 1}]
    data = {"name": "Bad", "strategy": "round_robin", "members": members, **change}

    assert errors_of(data, cast.a) == expected
    assert AssignmentRule.objects.count() == 0


def test_only_admins_manage_rules(cast):
    from django.core.exceptions import PermissionDenied

    make = {"name": "X", "strategy": "round_robin", "members": [{"membership": cast.a.sdr1.pk, "weight": 1}]}
    with pytest.raises(PermissionDenied):
        assignment.assignment_rule_create(actor=cast.a.manager, company=cast.a.company, data=make)


def test_rules_can_be_reordered(cast, team):
    first, second = rule(cast.a, "First", [team[0]]), rule(cast.a, "Second", [team[1]])

    assignment.assignment_rule_move(actor=cast.a.admin, rule=second, direction="up")

    assert list(AssignmentRule.objects.order_by("order").values_list("name", flat=True)) == ["Second", "First"]
    assert owners(create(cast.a)) == ["Ben"]
    assert first.pk != second.pk


def test_the_pool_is_assigned_in_chunks_without_losing_the_turn(cast, team, monkeypatch):
    monkeypatch.setattr(assignment.services, "POOL_CHUNK", 2)
    pool = create(cast.a, 5)
    rule(cast.a, "Inbound", team[:2])

    result = assignment.pool_assign(company=cast.a.company, actor=cast.a.manager)

    assert (result.total, result.assigned) == (5, 5)
    assert owners(pool) == ["Ana", "Ben", "Ana", "Ben", "Ana"]
