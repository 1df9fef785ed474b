"""Markup the lead list draws several times a row: ``{% compact_time lead.created_at %}``."""

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def compact_time(value, empty: str = "—") -> str:
    """A timestamp on one short line (the time today, the day this year, else the day and year)
    with the full local timestamp in its title. A tag, not an include: it is drawn 3× per row."""
    if value is None:
        return empty
    local, today = timezone.localtime(value), timezone.localdate()
    if local.date() == today:
        short = date_format(local, "H:i")
    else:
        short = date_format(local, "j M" if local.year == today.year else "j M Y")
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', local.isoformat(), date_format(local, "Y-m-d H:i T"), short
    )
