"""Duplicates partials for the lead pages: ``{% duplicates_panel lead %}`` on the detail page and
``{% possible_duplicates form lead %}`` inside the create / edit form."""

from django import template

from leads import dedup, timeline
from leads.models import MergeRecord

register = template.Library()


@register.inclusion_tag("leads/dedup/partials/duplicates_panel.html", takes_context=True)
def duplicates_panel(context, lead):
    """The lead's pending duplicate pairs the member can see, and the merges into it."""
    from leads.dedup.views import merge_url

    membership, company = context.get("membership"), context.get("company")
    perms = context.get("perms_crm", frozenset())
    pairs = dedup.duplicates_of(lead, membership) if membership is not None else []
    records = list(MergeRecord.objects.filter(survivor=lead, undone_at__isnull=True).order_by("-merged_at"))
    ids = [lead.pk, *(other.pk for _, other in pairs)]
    return {
        "lead": lead,
        "company": company,
        "pairs": pairs,
        "records": records,
        "can_merge": "leads.merge" in perms,
        "merge_url": merge_url(company.slug, ids, lead.pk) if pairs and company is not None else "",
    }


@register.inclusion_tag("leads/dedup/partials/possible_duplicates.html", takes_context=True)
def possible_duplicates(context, form, lead=None):
    """After a POST of the lead form: the leads the entered values match (reason and score), and
    the "create anyway" checkbox when one is exact and the member may (``leads.merge``)."""
    membership, company = context.get("membership"), context.get("company")
    matches = []
    if form.is_bound and company is not None:
        matches = dedup.matches_for_data(company, form.data, actor=membership, lead=lead)
    perms = context.get("perms_crm", frozenset())
    return {
        "matches": matches,
        "company": company,
        "lead": lead,
        "has_exact": any(match.exact for match in matches),
        "can_create_anyway": "leads.merge" in perms,
        "checked": form.data.get("allow_duplicates") in ("1", "on", "true") if form.is_bound else False,
    }


@register.simple_tag
def merged_leads(lead):
    """The tombstones merged into ``lead`` (directly or through merges of merges)."""
    return timeline.merged_leads_of(lead)
