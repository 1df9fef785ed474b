"""The lead page: every timeline entry as a human sentence, field names and values as people say
them, @mentions highlighted, one form per status change with its own note, required fields marked
and an error summary on long forms."""

import ast
import importlib.util
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from crm.models import Activity, ActivityKind
from leads import assignment, services, timeline
from leads.models import Lead, LeadComment
from leads.testing.factories import make_campaign, make_comment, make_custom_field, make_lead, status
from nurturing.services import timeline_event

CODE = re.compile(r"^(leads|accounts|nurturing|crm)\.[a-z_]+\.[a-z_]*(:.*)?$")
APPS = ("leads", "accounts", "nurturing", "crm")


def url(name, company, **kwargs):
    return reverse(f"leads:{name}", kwargs={"company_slug": company.slug, **kwargs})


def detail(client, lead, query=""):
    return client.get(url("detail", lead.company, lead_id=lead.pk) + query)


def sentences(lead, **kwargs):
    return [(e.who, e.title, e.note) for e in timeline.lead_timeline(lead, **kwargs)]


# --- every dotted action has a label ---------------------------------------------------------------


def _is_module_path(code: str) -> bool:
    """``crm.settings.production`` or ``leads.tasks.bulk_job_run``: a dotted path, not an action."""
    return importlib.util.find_spec(".".join(code.split(".")[:2])) is not None


def dotted_actions_in_the_code() -> set[str]:
    """Every string (or f-string prefix) in the apps' code that looks like an action name."""
    found = set()
    for app in APPS:
        for path in (Path(settings.BASE_DIR) / app).rglob("*.py"):
            if {"tests", "migrations"} & set(path.parts):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                    text = str(node.values[0].value)
                else:
                    text = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""
                if CODE.match(text) and not _is_module_path(text):
                    found.add(text.partition(":")[0])
    return found


def test_the_walk_finds_the_actions_it_must_label():
    found = dotted_actions_in_the_code()
    assert {"leads.lead.rescored", "leads.lead.imported", "leads.lead.bulk_", "nurturing.email.opened",
            "accounts.lead.converted", "leads.lead.assigned", timeline.MERGED, "accounts.account.changed",
            "accounts.contact.created", "accounts.opportunity.stage_changed"} <= found  # fmt: skip
    assert "leads.tasks_transfer.run_import" not in found


def test_every_change_reason_and_event_in_the_code_has_a_human_label():
    values = {"subject": "Sequence email sent: Hello", "score": "57", "score_old": "42", "owner": "Sam Sdr"}
    for code in sorted(dotted_actions_in_the_code()):
        assert timeline.label_for(code) is not None, code
        title, note, _alone = timeline.describe(f"{code}:12", values)
        shown = f"{title} {note}"
        assert title, code
        assert "_" not in shown, (code, shown)
        assert not re.search(r"[a-z]\.[a-z]", shown), (code, shown)


@pytest.mark.parametrize("kind", ActivityKind.values)
def test_every_activity_kind_has_a_label(kind):
    label = timeline.label_for(f"crm.activity.{kind}")
    assert label is not None
    title, _note, _alone = timeline.describe(f"crm.activity.{kind}", {"subject": "Pricing call"})
    assert "_" not in title
    assert "." not in title


def test_a_name_nobody_registered_never_shows_its_code():
    assert timeline.describe("leads.lead.teleported") == ("made a change", "", False)
    assert timeline.describe(None, default=timeline.LABELS["leads.lead.changed"]) == ("edited the lead", "", False)


# --- exact sentences, from real actions ------------------------------------------------------------


def test_creation_edits_and_field_values_read_as_people_say_them(cast):
    make_custom_field(cast.a.company, "budget_code", label="Budget code")
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    new_campaign = make_campaign(cast.a.company, "Spring webinar")
    services.lead_update(actor=cast.a.sdr1, lead=lead, data={
        "job_title": "CTO", "stage": "decision", "dnd": True, "gdpr_consent": True, "campaign": new_campaign.pk,
        "authority_level": "decision_maker", "custom_fields": {"budget_code": "B-7"},
    })  # fmt: skip
    edited, created = timeline.lead_timeline(lead, kind="change")[0], timeline.lead_timeline(lead)[-1]
    assert (created.who, created.title, created.alone) == ("Alpha SDR One", "created the lead", False)
    assert (edited.who, edited.title, edited.note) == ("Alpha SDR One", "edited the lead", "")
    assert sorted(c for c in edited.changes if c[0] not in ("Score", "Priority")) == [
        ("Authority level", "—", "Decision maker"),
        ("Budget code", "—", "B-7"),
        ("Campaign", lead.campaign.name, "Spring webinar"),
        ("Do not disturb", "no", "yes"),
        ("GDPR consent", "no", "yes"),
        ("Job title", "—", "CTO"),
        ("Stage", "Awareness", "Decision"),
    ]


def test_a_rescore_reads_score_recalculated_with_both_scores(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    before = lead.score
    services.activity_log(actor=cast.a.sdr1, lead=lead, kind="meeting", subject="Demo")
    after = Lead.objects.get(pk=lead.pk).score
    rescored = [e for e in timeline.lead_timeline(lead) if e.reason == "leads.lead.rescored"]
    assert after != before
    assert [(e.title, e.alone, e.byline) for e in rescored] == [
        (f"Score recalculated: {before} → {after}", True, "Alpha SDR One")
    ]


def test_assignment_claim_and_release_name_the_people(cast):
    lead = make_lead(cast.a.company, cast.a.admin)
    assignment.lead_assign(actor=cast.a.manager, lead=lead, owner=cast.a.sdr1, reason="Speaks the language")
    assignment.lead_release(actor=cast.a.sdr1, lead=Lead.objects.get(pk=lead.pk), reason="On leave")
    assignment.lead_claim(actor=cast.a.sdr2, lead=Lead.objects.get(pk=lead.pk))
    assert sentences(lead, kind="change") == [
        ("Alpha SDR Two", "claimed this lead from the pool", ""),
        ("Alpha SDR One", "released this lead to the pool", ""),
        (
            "Alpha Manager",
            "assigned this lead to Alpha SDR One",
            "Assigned to Alpha SDR One by Alpha Manager: Speaks the language",
        ),
        ("Alpha Admin", "created the lead", ""),
    ]


@pytest.mark.parametrize(
    ("kind", "title"),
    [
        ("call", "logged a call: Pricing"),
        ("email", "logged an email: Pricing"),
        ("meeting", "logged a meeting: Pricing"),
        ("note", "added a note: Pricing"),
        ("whatsapp", "logged a WhatsApp message: Pricing"),
    ],
)
def test_interactions_read_logged_a_kind(kind, title, cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    services.activity_log(actor=cast.a.sdr1, lead=lead, kind=kind, subject="Pricing", outcome="positive")
    assert sentences(lead, kind="interaction") == [("Alpha SDR One", title, "Positive")]


def test_system_events_comments_and_status_changes_read_as_sentences(cast):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    comment = make_comment(lead, cast.a.sdr1, "First call done")
    make_comment(lead, cast.a.sdr2, "Nice", parent=comment)
    services.lead_transition(actor=cast.a.sdr1, lead=lead, to_status=status(cast.a.company, "contacted"))
    services.lead_delete(actor=cast.a.sdr1, lead=lead)
    services.lead_restore(actor=cast.a.manager, lead=Lead.objects.get(pk=lead.pk))
    for event, subject in (("nurturing.email.sent", "Sequence email sent: Hello"),
                           ("nurturing.email.opened", "Opened the sequence email “Hello”")):  # fmt: skip
        timeline_event(lead_id=lead.pk, company_id=lead.company_id, event=event, subject=subject)
    Activity.objects.create(company=cast.a.company, content_type=ContentType.objects.get_for_model(Lead),
                            object_id=lead.pk, kind=ActivityKind.SYSTEM, event="accounts.lead.converted",
                            subject="Converted into account Acme", owner=cast.a.sdr1)  # fmt: skip
    shown = {(e.kind, e.who, e.title, e.note, e.alone) for e in timeline.lead_timeline(lead)}
    assert {
        ("comment", "Alpha SDR One", "commented", "", False),
        ("comment", "Alpha SDR Two", "replied", "", False),
        ("status", "Alpha SDR One", "moved from New to Contacted", "", False),
        ("system", "Alpha SDR One", "deleted the lead", "", False),
        ("system", "Alpha Manager", "restored the lead", "", False),
        ("system", "System", "Sequence email sent: Hello", "", True),
        ("system", "System", "Opened the sequence email “Hello”", "", True),
        ("system", "Alpha SDR One", "converted the lead", "Converted into account Acme", False),
    } <= shown


def test_imports_bulk_jobs_and_merges_have_sentences():
    assert timeline.describe("leads.lead.imported:42") == ("imported the lead (import #42)", "", False)
    assert timeline.describe("leads.lead.import_reverted:42") == ("undid import #42", "", False)
    assert timeline.describe("leads.lead.bulk_status:7") == ("changed this lead in bulk operation #7", "", False)
    assert timeline.describe(timeline.MERGED) == ("merged duplicates into this lead", "", False)
    assert timeline.describe("nurturing.lead.unsubscribed") == ("The lead unsubscribed: do not disturb is on", "", True)


def test_the_page_shows_sentences_and_no_codes(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    services.activity_log(actor=cast.a.sdr1, lead=lead, kind="email", subject="Pricing")
    html = detail(client_for(cast.a.sdr1), lead).content.decode()
    assert "Alpha SDR One</strong> logged an email: Pricing" in html
    assert re.findall(r"(?:leads|accounts|nurturing|crm)\.[a-z_]+\.[a-z_]+", html) == []


# --- mentions ----------------------------------------------------------------------------------------


def test_mentions_are_highlighted_in_the_thread_and_the_timeline(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    make_comment(lead, cast.a.sdr1, 'Ask @sdr2. See <a href="https://x.test/@sdr2">x</a>, mail me@x.test')
    html = detail(client_for(cast.a.sdr1), lead).content.decode()
    rendered = 'Ask <span class="mention">@sdr2</span>. See <a href="https://x.test/@sdr2" ' \
               'rel="nofollow noopener noreferrer">x</a>, mail me@x.test'  # fmt: skip
    assert html.count(rendered) == 2  # the thread and the timeline
    assert LeadComment.objects.get().body.count("mention") == 0  # stored as written; highlighted when shown


def test_the_editor_path_is_sanitised_like_any_post(cast, client_for):
    """What the contenteditable editor posts (its innerHTML) goes through the same sanitiser."""
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    body = ('<p><b onclick="alert(1)">Bold</b> <span class="mention" style="x">@sdr2</span>'
            '<img src=x onerror=alert(1)><a href="javascript:alert(1)">js</a><script>alert(2)</script></p>')  # fmt: skip
    client = client_for(cast.a.sdr1)
    client.post(url("comment_create", cast.a.company, lead_id=lead.pk), {"body": body}, HTTP_HX_REQUEST="true")
    link = '<a rel="nofollow noopener noreferrer">js</a>'
    assert LeadComment.objects.get().body == f"<p><b>Bold</b> @sdr2{link}alert(2)</p>"
    html = detail(client, lead).content.decode()
    assert html.count(f'<p><b>Bold</b> <span class="mention">@sdr2</span>{link}alert(2)</p>') == 2
    for raw in ("onclick", "onerror", "javascript:", "<script>alert(2)"):
        assert raw not in html


# --- the layout ---------------------------------------------------------------------------------------


def test_the_work_is_in_the_main_column_and_the_facts_beside_it(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    html = detail(client_for(cast.a.sdr1), lead).content.decode()
    main, side = html.split('<aside class="lead-side"')
    main = main.split('<section class="lead-main"')[1]
    for marker in ('id="status-panel"', 'data-testid="comment-form"', 'id="timeline"', 'data-testid="log-interaction"'):
        assert (marker in main, marker in side) == (True, False), marker
    for marker in ("<strong>Profile</strong>", 'data-testid="qualification-panel"', 'data-testid="lead-owner"',
                   "<strong>Time in status</strong>"):  # fmt: skip
        assert (marker in main, marker in side) == (False, True), marker
    assert 'href="/static/css/lead_detail.css"' in html


# --- transitions: each with its own note ---------------------------------------------------------------

TRANSITION_FORM = re.compile(r'<form [^>]*data-testid="transition-form-(\w+)"[^>]*>(.*?)</form>', re.S)


def test_each_transition_is_its_own_form_with_its_own_note(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    html = detail(client_for(cast.a.sdr1), lead).content.decode()
    forms = dict(TRANSITION_FORM.findall(html))
    assert list(forms) == ["contacted", "unqualified", "disqualified"]
    for key, form in forms.items():
        assert form.count('name="note"') == 1, key
        assert f'name="status" value="{status(cast.a.company, key).pk}"' in form
    assert [key for key, form in forms.items() if re.search(r'<textarea [^>]*name="note"[^>]* required', form)] == [
        "unqualified",
        "disqualified",
    ]
    assert 'Note for Unqualified<span class="required-mark" aria-hidden="true"> *</span>' in forms["unqualified"]
    assert "<summary>Add a note</summary>" in forms["contacted"]


def test_a_missing_note_is_reported_on_its_transition_and_keeps_nothing_else(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    unqualified = status(cast.a.company, "unqualified")
    response = client_for(cast.a.sdr1).post(url("transition", cast.a.company, lead_id=lead.pk),
                                            {"status": unqualified.pk, "note": "  "}, HTTP_HX_REQUEST="true")  # fmt: skip
    assert response.status_code == 422
    forms = dict(TRANSITION_FORM.findall(response.content.decode()))
    message = "A note is required to move from New to Unqualified."
    assert [key for key, form in forms.items() if message in form] == ["unqualified"]
    assert 'aria-invalid="true"' in forms["unqualified"]
    assert Lead.objects.get(pk=lead.pk).status.key == "new"


def test_a_note_given_with_an_optional_transition_is_kept(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    client_for(cast.a.sdr1).post(url("transition", cast.a.company, lead_id=lead.pk),
                                 {"status": status(cast.a.company, "contacted").pk, "note": "Left a voicemail"})  # fmt: skip
    assert sentences(lead, kind="status") == [("Alpha SDR One", "moved from New to Contacted", "Left a voicemail")]


# --- forms: required marks and the error summary ---------------------------------------------------------

REQUIRED_LABEL = re.compile(r'<label for="id_(\w+)">[^<]*<span class="required-mark" aria-hidden="true"> \*</span>')


def test_the_lead_form_marks_the_required_fields(cast, client_for):
    html = client_for(cast.a.sdr1).get(url("create", cast.a.company)).content.decode()
    assert REQUIRED_LABEL.findall(html) == ["lead_source", "campaign", "stage"]
    for name in ("lead_source", "campaign", "stage"):
        assert re.search(rf'<(input|select) [^>]*name="{name}"[^>]* aria-required="true"', html), name
    for name in ("lead_source", "campaign"):  # a select whose first option has a value cannot be "required"
        assert re.search(rf'<(input|select) [^>]*name="{name}"[^>]* required', html), name
    assert not re.search(r'<input [^>]*name="first_name"[^>]* required', html)
    assert 'data-testid="error-summary"' not in html


def test_a_lead_form_with_errors_starts_with_a_summary_linking_to_the_fields(cast, client_for):
    response = client_for(cast.a.sdr1).post(url("create", cast.a.company),
                                            {"first_name": "Nia", "email": "nope", "phone": "123", "stage": "awareness"})  # fmt: skip
    html = response.content.decode()
    summary = re.search(r'data-testid="error-summary">\s*<p>(.*?)</p>', html, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", summary) == "Please fix the 4 fields below: Email, Phone, Lead source, Campaign"
    assert re.findall(r'href="#(id_\w+)"', summary) == ["id_email", "id_phone", "id_lead_source", "id_campaign"]
    assert html.index('data-testid="error-summary"') < html.index('name="first_name"')
    assert 'aria-describedby="id_email_error"' in html
    assert '<div id="id_email_error">' in html


def test_short_forms_keep_their_errors_beside_the_field_only(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.sdr1, owner=cast.a.sdr1)
    response = client_for(cast.a.sdr1).post(url("comment_create", cast.a.company, lead_id=lead.pk),
                                            {"body": "<p></p>"}, HTTP_HX_REQUEST="true")  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 422
    assert 'data-testid="error-summary"' not in html
    assert '<small class="field-error" role="alert" data-field="body">Write something before posting.</small>' in html
