"""A test send to yourself through a real SMTP server (what arrives: marked as a test, untracked, to
you only), and the admin where managers read sequences with their steps and review interrupted
messages of their own company only."""

import re

import pytest
from django.urls import reverse

from nurturing import sending
from nurturing.models import LeadEmailActivity, MessageState
from nurturing.testing.factories import make_consenting_lead, make_enrolment, make_sequence

pytestmark = pytest.mark.django_db


def test_a_test_send_arrives_at_the_smtp_server_for_you_only_untracked(cast, client_for, smtp_sink):
    sequence = make_sequence(cast.a.company)
    step = sequence.steps.first()
    lead = make_consenting_lead(cast.a.company, first_name="Ann", email="ann@example.com", owner=cast.a.sdr1)
    response = client_for(cast.a.manager).post(
        reverse("nurturing:step_test_send", kwargs={"company_slug": cast.a.company.slug, "sequence_id": sequence.pk,
                                                    "step_id": step.pk}), {"lead": lead.pk})  # fmt: skip
    assert response.status_code == 302
    [message] = smtp_sink.messages
    assert (str(message["To"]), str(message["Subject"]), message["X-CRM-Test"]) == (
        cast.a.manager.user.email, "[Test] Hello Ann", "yes")  # fmt: skip
    assert message["List-Unsubscribe"] is None
    html = message.get_body(("html",)).get_content()
    assert re.findall(r'href="([^"]+)"', html) == ["https://example.com/guide?a=1&amp;b=2"]  # not the click tracker
    assert "/n/o/" not in html
    assert (LeadEmailActivity.objects.count(), lead.activities.count()) == (0, 0)


def admin_url(model: str, page: str, *args) -> str:
    return reverse(f"admin:nurturing_{model}_{page}", args=args)


def test_the_admin_shows_a_sequence_with_its_steps_in_order(cast, client_for):
    sequence = make_sequence(cast.a.company, name="Welcome")
    page = client_for(cast.a.manager).get(admin_url("emailsequence", "change", sequence.pk))
    inline = page.context["inline_admin_formsets"][0]
    assert [form.original.subject for form in inline] == ["Hello {{ first_name }}", "Still there, {{ first_name }}?"]
    assert page.context["has_change_permission"] is False  # built in the app, where templates are validated


def test_interrupted_messages_are_reviewed_in_the_admin_within_the_company(cast, client_for, smtp_sink):
    make_enrolment(cast.a.company, lead=make_consenting_lead(cast.a.company, email="ours@example.com"))
    make_enrolment(cast.b.company, lead=make_consenting_lead(cast.b.company, email="theirs@example.com"))
    sending.send_due()
    LeadEmailActivity.objects.update(state=MessageState.UNKNOWN)
    changelist = client_for(cast.a.manager).get(admin_url("leademailactivity", "changelist"), {"state": "unknown"})
    assert [m.to_email for m in changelist.context["cl"].result_list] == ["ours@example.com"]
