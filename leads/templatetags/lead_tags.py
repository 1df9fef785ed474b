"""Small pieces of lead markup drawn many times a page: ``{% status_badge status %}``."""

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def status_badge(status) -> str:
    """The coloured badge of a lead status. A tag rather than an included template: the lead list
    draws one per row, and an include costs a template render each time."""
    # The colour travels in a data attribute (static/js/app.js applies it): the CSP forbids style="".
    return format_html('<span class="status-badge" data-status-color="{}">{}</span>', status.color, status.name)
