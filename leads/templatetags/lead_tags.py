"""Small pieces of lead markup drawn many times a page: ``{% status_badge status %}`` and
``{{ comment.body|comment_html }}`` (sanitised rich text with its @mentions highlighted)."""

import bleach
from bleach.html5lib_shim import Filter
from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from crm.sanitize import ALLOWED_ATTRIBUTES, ALLOWED_PROTOCOLS, ALLOWED_TAGS
from leads.services import MENTION

register = template.Library()
MENTION_CLASS = "mention"


@register.simple_tag
def status_badge(status) -> str:
    """The coloured badge of a lead status. A tag rather than an included template: the lead list
    draws one per row, and an include costs a template render each time."""
    # The colour travels in a data attribute (static/js/app.js applies it): the CSP forbids style="".
    return format_html('<span class="status-badge" data-status-color="{}">{}</span>', status.color, status.name)


class MentionFilter(Filter):
    """Wraps each @handle of the text in ``<span class="mention">`` — the same handles the comment
    service notifies (``leads.services.MENTION``) — except inside links and code."""

    SKIP = frozenset({"a", "code", "pre"})

    def __iter__(self):
        depth = 0
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EndTag") and token["name"] in self.SKIP:
                depth += 1 if token["type"] == "StartTag" else -1
            if token["type"] == "Characters" and depth == 0:
                yield from _split_mentions(token["data"])
            else:
                yield token


def _split_mentions(text: str):
    position = 0
    for match in MENTION.finditer(text):
        end = match.start() + 1 + len(match.group(1).rstrip("."))  # a sentence's full stop is not the name's
        if match.start() > position:
            yield {"type": "Characters", "data": text[position : match.start()]}
        yield {"type": "StartTag", "name": "span", "data": {(None, "class"): MENTION_CLASS}}
        yield {"type": "Characters", "data": text[match.start() : end]}
        yield {"type": "EndTag", "name": "span"}
        position = end
    if position < len(text):
        yield {"type": "Characters", "data": text[position:]}


def _mention_span_only(tag: str, name: str, value: str) -> bool:
    return tag != "span" or (name == "class" and value == MENTION_CLASS)


# Comments are stored sanitised; shown, they go through the same allow-list once more (plus the
# mention span, which the filter adds after sanitising), so nothing unsanitised reaches the page.
_render_cleaner = bleach.Cleaner(
    tags=ALLOWED_TAGS | {"span"},
    attributes={**ALLOWED_ATTRIBUTES, "span": _mention_span_only},
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    filters=[MentionFilter],
)


@register.filter
def comment_html(body: str) -> str:
    return mark_safe(_render_cleaner.clean(body or ""))  # noqa: S308 — bleach-cleaned just above
