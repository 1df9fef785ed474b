"""Seeing a step before it goes out: rendered against a lead the viewer can see (or against sample
values naming each merge field), and sent as a test to the member's own address. Neither touches
the lead: no message row, no tracking, no timeline entry — and links are left untracked."""

from __future__ import annotations

from email.utils import formataddr
from smtplib import SMTPException

from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives

from crm.models import Membership
from leads.models import Lead
from leads.queries import leads_visible_to
from nurturing import sending, services
from nurturing.models import EmailSequenceStep
from nurturing.templating import SAMPLE_CONTEXT, Rendered, merge_context, render

PREVIEW_UNSUBSCRIBE = "#unsubscribe"  # each real email gets its own signed link
TEST_HEADER = "X-CRM-Test"
TEST_NOTE = "This is a test of a sequence email: it was sent to you only, and no lead received it."


def step_render(*, step: EmailSequenceStep, lead: Lead | None = None) -> Rendered:
    """``step`` as ``lead`` would read it (its ``owner__user`` loaded), or with sample values."""
    if lead is None:
        return render(subject=step.subject, body=step.body, context=SAMPLE_CONTEXT)
    sender_name, _ = sending.sender_of(step.sequence)
    context = merge_context(lead=lead, sender_name=sender_name, our_company=step.sequence.company.name,
                            unsubscribe_url=PREVIEW_UNSUBSCRIBE)  # fmt: skip
    return render(subject=step.subject, body=step.body, context=context)


def step_test_send(*, actor: Membership, step: EmailSequenceStep, lead: Lead | None = None) -> str:
    """Send ``step`` (rendered for ``lead``) to the actor's own email, marked as a test in the
    subject, a header and a first line; the address it went to."""
    services.check_actor(actor, step.company_id, "nurturing.manage")
    if lead is not None and not leads_visible_to(actor).filter(pk=lead.pk).exists():
        raise ValidationError({"lead": "Choose a lead you can see."})
    rendered = step_render(step=step, lead=lead)
    sender_name, sender_email = sending.sender_of(step.sequence)
    email = EmailMultiAlternatives(
        f"[Test] {rendered.subject}", f"{TEST_NOTE}\n\n{rendered.text}", formataddr((sender_name, sender_email)),
        [actor.user.email], headers={TEST_HEADER: "yes"},
    )  # fmt: skip
    email.attach_alternative(f"<p><em>{TEST_NOTE}</em></p>{rendered.html}", "text/html")
    try:
        email.send()
    except (SMTPException, OSError) as error:
        raise ValidationError({"__all__": f"The mail server did not take the test email ({error})."}) from None
    return actor.user.email
