import json

import pytest
from django.urls import reverse

from leads import services
from leads.models import Lead, LeadComment, StatusChange
from leads.testing.factories import make_campaign, make_comment, make_lead, status


def url(name, company, **kwargs):
    return reverse(f"leads:{name}", kwargs={"company_slug": company.slug, **kwargs})


@pytest.fixture
def leads(cast):
    """One lead per owner in company a (plus the pool), and one in company b to leak if we could."""
    a = cast.a
    return {
        "sdr1": make_lead(a.company, a.sdr1, owner=a.sdr1, last_name="OwnedBySdr1"),
        "sdr2": make_lead(a.company, a.sdr2, owner=a.sdr2, last_name="OwnedBySdr2"),
        "pool": make_lead(a.company, a.admin, last_name="InThePool"),
        "other": make_lead(cast.b.company, cast.b.sdr1, owner=cast.b.sdr1, last_name="BravoSecret"),
    }


def listed(response):
    return sorted(lead.last_name for lead in response.context["page"])


def shown(response):
    return [lead.last_name for lead in response.context["page"].rows]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("sdr1", ["InThePool", "OwnedBySdr1"]),
        ("sdr2", ["InThePool", "OwnedBySdr2"]),
        ("manager", ["InThePool", "OwnedBySdr1"]),
        ("admin", ["InThePool", "OwnedBySdr1", "OwnedBySdr2"]),
    ],
)
def test_the_list_shows_exactly_what_each_role_may_see(role, expected, cast, leads, client_for):
    response = client_for(cast.a.member(role)).get(url("list", cast.a.company))
    assert listed(response) == expected
    assert b"BravoSecret" not in response.content


def test_an_sdr_gets_404_for_another_sdrs_lead(cast, leads, client_for):
    client = client_for(cast.a.sdr1)
    assert client.get(url("detail", cast.a.company, lead_id=leads["sdr2"].pk)).status_code == 404
    assert client.get(url("detail", cast.a.company, lead_id=leads["sdr1"].pk)).status_code == 200


@pytest.mark.parametrize("item_count", [1, 3])
def test_the_list_costs_a_fixed_number_of_queries(item_count, cast, client_for, django_assert_num_queries):
    for _ in range(item_count):
        make_lead(cast.a.company, cast.a.admin)
    client = client_for(cast.a.admin)
    client.get(url("list", cast.a.company))
    with django_assert_num_queries(17):  # session, user, membership, preference, filter choices, rows, count, …
        response = client.get(url("list", cast.a.company))
    assert len(response.context["page"]) == item_count


def test_create_a_lead_from_the_form(cast, client_for):
    campaign = make_campaign(cast.a.company)
    response = client_for(cast.a.sdr1).post(url("create", cast.a.company), {
        "first_name": "Nia", "last_name": "Okoro", "email": "nia@okoro.example", "phone": "+44 20 7946 0555",
        "lead_source": "Website", "campaign": campaign.pk, "stage": "awareness",
    })  # fmt: skip
    lead = Lead.objects.get(email="nia@okoro.example")
    assert response.status_code == 302
    assert response["Location"] == url("detail", cast.a.company, lead_id=lead.pk)
    assert (lead.created_by, lead.phone_key, lead.status.key) == (cast.a.sdr1, "+442079460555", "new")


def test_bad_input_is_shown_beside_each_field(cast, client_for):
    response = client_for(cast.a.sdr1).post(url("create", cast.a.company), {
        "first_name": "Nia", "email": "nope", "phone": "123", "stage": "awareness",
    })  # fmt: skip
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "email": ["Enter a valid email address."],
        "phone": ["Enter a valid phone number for GB or in +country format."],
        "campaign": ["Campaign is required."],
        "lead_source": ["Lead source is required."],
    }
    assert Lead.objects.count() == 0


def test_a_campaign_of_another_company_is_not_a_choice(cast, client_for):
    other = make_campaign(cast.b.company, "Bravo only")
    response = client_for(cast.a.sdr1).post(url("create", cast.a.company), {
        "email": "x@example.com", "lead_source": "Web", "campaign": other.pk, "stage": "awareness",
    })  # fmt: skip
    assert response.context["form"].errors == {
        "campaign": ["Select a valid choice. That choice is not one of the available choices."]
    }


def test_edit_keeps_field_history(cast, leads, client_for):
    lead = leads["sdr1"]
    client = client_for(cast.a.sdr1)
    form = client.get(url("edit", cast.a.company, lead_id=lead.pk)).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(job_title="Head of Ops", campaign=lead.campaign_id)
    response = client.post(url("edit", cast.a.company, lead_id=lead.pk), data)
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.job_title == "Head of Ops"
    latest = lead.history.first()
    assert (latest.history_change_reason, latest.history_user, latest.user_agent) == (
        "leads.lead.changed",
        cast.a.sdr1.user,
        "",
    )
    detail = client.get(url("detail", cast.a.company, lead_id=lead.pk))
    change = next(e for e in detail.context["timeline"] if e.kind == "change")
    assert (change.title, change.changes) == ("edited the lead", [("Job title", "—", "Head of Ops")])


def test_history_records_ip_and_user_agent(cast, leads, client_for):
    client = client_for(cast.a.admin)
    lead = leads["pool"]
    client.post(url("transition", cast.a.company, lead_id=lead.pk), {"status": status(cast.a.company, "contacted").pk},
                HTTP_USER_AGENT="Mozilla/5.0 Test", REMOTE_ADDR="203.0.113.9")  # fmt: skip
    latest = Lead.objects.get(pk=lead.pk).history.first()
    assert (latest.ip_address, latest.user_agent, latest.history_change_reason) == (
        "203.0.113.9",
        "Mozilla/5.0 Test",
        "leads.lead.status_changed",
    )


def test_status_buttons_offer_only_allowed_transitions(cast, leads, client_for):
    response = client_for(cast.a.sdr1).get(url("detail", cast.a.company, lead_id=leads["sdr1"].pk))
    offered = [t.to_status.key for t in response.context["transitions"]]
    assert offered == ["contacted", "unqualified", "disqualified"]
    assert b'data-testid="transition-converted"' not in response.content


def test_htmx_status_change_returns_the_panel(cast, leads, client_for):
    lead = leads["sdr1"]
    response = client_for(cast.a.sdr1).post(
        url("transition", cast.a.company, lead_id=lead.pk), {"status": status(cast.a.company, "contacted").pk},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    assert response.status_code == 200
    assert response.templates[0].name == "leads/partials/status_panel.html"
    assert b'<span class="status-badge" data-status-color="#8e24aa">Contacted</span>' in response.content
    assert b'hx-swap-oob="true"' in response.content


def test_a_forbidden_transition_from_the_ui_changes_nothing(cast, leads, client_for):
    lead = leads["sdr1"]
    client = client_for(cast.a.sdr1)
    before = StatusChange.objects.count()
    response = client.post(url("transition", cast.a.company, lead_id=lead.pk),
                           {"status": status(cast.a.company, "converted").pk}, HTTP_HX_REQUEST="true")  # fmt: skip
    assert response.status_code == 422
    assert response.context["status_error"] == "A lead cannot move from New to Converted."
    plain = client.post(url("transition", cast.a.company, lead_id=lead.pk),
                        {"status": status(cast.b.company, "contacted").pk}, follow=True)  # fmt: skip
    assert [str(m) for m in plain.context["messages"]] == ["Choose a status of this company."]
    assert Lead.objects.get(pk=lead.pk).status.key == "new"
    assert StatusChange.objects.count() == before


def test_comment_and_reply_through_htmx(cast, leads, client_for):
    lead = leads["sdr1"]
    client = client_for(cast.a.sdr1)
    response = client.post(url("comment_create", cast.a.company, lead_id=lead.pk),
                           {"body": "<b>Called</b> them"}, HTTP_HX_REQUEST="true")  # fmt: skip
    assert response.status_code == 200
    comment = LeadComment.objects.get(lead=lead)
    client.post(url("comment_create", cast.a.company, lead_id=lead.pk), {"body": "Follow up", "parent": comment.pk})
    reply = LeadComment.objects.get(parent=comment)
    detail = client.get(url("detail", cast.a.company, lead_id=lead.pk))
    assert [c.pk for c in detail.context["comments"]] == [comment.pk]
    assert [c.pk for c in detail.context["comments"][0].thread] == [reply.pk]
    kinds = [e.kind for e in detail.context["timeline"]]
    assert kinds[:2] == ["comment", "comment"]


def test_a_reply_to_another_leads_comment_is_refused_in_the_ui(cast, leads, client_for):
    foreign = make_comment(leads["pool"], cast.a.admin)
    response = client_for(cast.a.sdr1).post(url("comment_create", cast.a.company, lead_id=leads["sdr1"].pk),
                                            {"body": "sneaky", "parent": foreign.pk}, HTTP_HX_REQUEST="true")  # fmt: skip
    assert response.status_code == 422
    assert response.context["comment_form"].errors == {"parent": ["You can only reply to a comment on this lead."]}
    assert LeadComment.objects.filter(lead=leads["sdr1"]).count() == 0


def test_only_the_author_may_edit_a_comment(cast, leads, client_for):
    comment = make_comment(leads["pool"], cast.a.sdr1)
    assert client_for(cast.a.admin).get(url("comment_edit", cast.a.company, lead_id=leads["pool"].pk,
                                            comment_id=comment.pk)).status_code == 404  # fmt: skip
    response = client_for(cast.a.sdr1).post(url("comment_edit", cast.a.company, lead_id=leads["pool"].pk,
                                                comment_id=comment.pk), {"body": "Edited text"})  # fmt: skip
    assert response.status_code == 302
    comment.refresh_from_db()
    assert (comment.body, comment.edited_at is not None) == ("Edited text", True)


def test_delete_then_restore_by_a_manager(cast, leads, client_for):
    lead = leads["sdr1"]
    assert client_for(cast.a.sdr1).post(url("delete", cast.a.company, lead_id=lead.pk)).status_code == 302
    assert client_for(cast.a.sdr1).get(url("detail", cast.a.company, lead_id=lead.pk)).status_code == 404
    assert client_for(cast.a.sdr1).get(url("trash", cast.a.company)).status_code == 403
    manager = client_for(cast.a.manager)
    assert listed(manager.get(url("trash", cast.a.company))) == ["OwnedBySdr1"]
    assert manager.post(url("restore", cast.a.company, lead_id=lead.pk)).status_code == 302
    assert Lead.objects.get(pk=lead.pk).is_deleted is False


def test_log_an_interaction(cast, leads, client_for):
    lead = leads["sdr1"]
    response = client_for(cast.a.sdr1).post(url("activity_create", cast.a.company, lead_id=lead.pk),
                                            {"kind": "call", "subject": "Discovery", "outcome": "follow_up_required"})  # fmt: skip
    assert response.status_code == 302
    detail = client_for(cast.a.sdr1).get(url("detail", cast.a.company, lead_id=lead.pk) + "?kind=interaction")
    assert [(e.kind, e.title, e.note) for e in detail.context["timeline"]] == [
        ("interaction", "logged a call: Discovery", "Follow-up required")
    ]


def test_the_interaction_form_offers_the_guides_outcomes_and_refuses_others(cast, leads, client_for):
    lead = leads["sdr1"]
    client = client_for(cast.a.sdr1)
    form = client.get(url("detail", cast.a.company, lead_id=lead.pk)).context["activity_form"]
    assert list(form.fields["outcome"].choices) == [
        ("", "—"), ("positive", "Positive"), ("negative", "Negative"), ("neutral", "Neutral"),
        ("follow_up_required", "Follow-up required"),
    ]  # fmt: skip
    response = client.post(url("activity_create", cast.a.company, lead_id=lead.pk),
                           {"kind": "call", "subject": "Discovery", "outcome": "booked demo"}, follow=True)  # fmt: skip
    assert [str(m) for m in response.context["messages"]] == [
        "Outcome: Select a valid choice. booked demo is not one of the available choices."
    ]
    assert lead.activities.count() == 0


def test_lead_from_a_pasted_profile(cast, client_for):
    campaign = make_campaign(cast.a.company)
    profile = {"name": "Ola Nordmann", "email": "ola@example.no", "headline": "CTO at Fjord", "source": "linkedin"}
    response = client_for(cast.a.sdr1).post(url("from_profile", cast.a.company),
                                            {"profile": json.dumps(profile), "campaign": campaign.pk})  # fmt: skip
    lead = Lead.objects.get(email="ola@example.no")
    assert response.status_code == 302
    assert (lead.first_name, lead.job_title, lead.profile_data) == ("Ola", "CTO", profile)
    bad = client_for(cast.a.sdr1).post(
        url("from_profile", cast.a.company), {"profile": "[1, 2]", "campaign": campaign.pk}
    )
    assert bad.context["form"].errors == {"profile": ["A scraped profile must be a JSON object ({…})."]}


def test_activity_dashboard_filters_by_member_and_kind(cast, leads, client_for):
    services.lead_transition(actor=cast.a.sdr1, lead=leads["sdr1"], to_status=status(cast.a.company, "contacted"))
    services.lead_transition(actor=cast.a.sdr2, lead=leads["sdr2"], to_status=status(cast.a.company, "contacted"))
    make_comment(leads["sdr1"], cast.a.sdr1)
    make_comment(leads["other"], cast.b.sdr1, "Bravo private note")
    manager = client_for(cast.a.manager)
    feed = manager.get(url("activity", cast.a.company))
    assert [(e.kind, e.lead.last_name) for e in feed.context["entries"]] == [
        ("comment", "OwnedBySdr1"),
        ("status", "OwnedBySdr1"),
    ]
    admin = client_for(cast.a.admin)
    only_status = admin.get(url("activity", cast.a.company), {"kind": "status", "member": cast.a.sdr2.pk})
    assert [(e.kind, e.who) for e in only_status.context["entries"]] == [("status", "Alpha SDR Two")]
    assert b"Bravo private note" not in admin.get(url("activity", cast.a.company)).content
    bad = admin.get(url("activity", cast.a.company), {"since": "2026-13-45"})
    assert bad.context["form"].errors == {"since": ["Enter a valid date."]}
    assert bad.context["entries"] == []


def test_a_merged_tombstone_redirects_to_its_survivor(cast, leads, client_for):
    survivor, tombstone = leads["pool"], make_lead(cast.a.company, cast.a.admin, last_name="Merged")
    Lead.objects.filter(pk=tombstone.pk).update(merged_into=survivor)
    client = client_for(cast.a.sdr1)
    response = client.get(url("detail", cast.a.company, lead_id=tombstone.pk))
    assert response.status_code == 302
    assert response["Location"] == url("detail", cast.a.company, lead_id=survivor.pk)
    assert listed(client.get(url("list", cast.a.company))) == ["InThePool", "OwnedBySdr1"]
    Lead.objects.filter(pk=tombstone.pk).update(merged_into=leads["sdr2"])  # a survivor sdr1 cannot see
    assert client.get(url("detail", cast.a.company, lead_id=tombstone.pk)).status_code == 404


def test_the_survivors_timeline_shows_merged_history_marked_with_its_origin(cast, leads, client_for):
    from leads.dedup import merge

    survivor, other = leads["sdr1"], make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1, last_name="Twin")
    make_comment(other, cast.a.sdr1, "Spoke to the twin")
    merge.leads_merge(actor=cast.a.manager, survivor=survivor, others=[other])
    detail = client_for(cast.a.manager).get(url("detail", cast.a.company, lead_id=survivor.pk))
    comments = [e for e in detail.context["timeline"] if e.kind == "comment"]
    assert [(e.body, e.note) for e in comments] == [("Spoke to the twin", f"From merged lead #{other.pk}")]
    created = [e.note for e in detail.context["timeline"] if e.title == "created the lead" and e.lead == other]
    assert created == [f"From merged lead {other.display_name} (#{other.pk})"]
