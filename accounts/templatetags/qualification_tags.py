"""The lead page's qualification panel reads its data here (the lead view belongs to the leads app)."""

from django import template

from accounts.conversion import conversion_eligibility
from accounts.forms_conversion import QualificationForm
from accounts.models import LeadConversion, Qualification
from accounts.qualification import settings_for

register = template.Library()


@register.simple_tag
def lead_qualification(lead) -> dict:
    """The lead's scorecard (and its form), its conversion or why it cannot be converted yet. The
    lead is already visibility-checked by the page."""
    qualification = Qualification.objects.filter(lead=lead).select_related("qualified_by__user").first()
    conversion = LeadConversion.objects.filter(lead=lead).select_related("account", "converted_by__user").first()
    initial = QualificationForm.initial_for(lead, qualification)
    return {
        "qualification": qualification,
        "conversion": conversion,
        "eligibility": None if conversion else conversion_eligibility(lead),
        "form": QualificationForm(initial=initial, auto_id="qualify_%s"),
        "settings": settings_for(lead.company_id),
    }
