"""The lead page's nurturing panel reads its rows here (the lead view belongs to the leads app)."""

from django import template

from nurturing.models import EmailSequence

register = template.Library()


@register.simple_tag
def lead_nurturing(lead) -> dict:
    """The lead's enrolments, its latest sequence emails and the company's active sequences (for the
    enrol form: a lazy queryset, read only when the member may enrol). The lead is already
    visibility-checked."""
    enrolments = lead.enrolments.select_related("sequence")
    messages = lead.email_messages.select_related("sequence")[:20]
    sequences = EmailSequence.objects.filter(company_id=lead.company_id, is_active=True).only("pk", "name")
    return {"enrolments": list(enrolments), "messages": list(messages), "sequences": sequences}
