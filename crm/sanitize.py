"""The one place user-written rich text is cleaned before it is stored or shown."""

from __future__ import annotations

import bleach
from bleach.linkifier import LinkifyFilter

ALLOWED_TAGS = frozenset(
    {"p", "br", "b", "strong", "i", "em", "u", "s", "ul", "ol", "li", "a", "code", "pre", "blockquote"}
)
ALLOWED_ATTRIBUTES = {"a": ["href", "title", "rel"]}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})


def _nofollow(attrs, new=False):
    attrs[(None, "rel")] = "nofollow noopener noreferrer"
    return attrs


_cleaner = bleach.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    filters=[lambda source: LinkifyFilter(source, callbacks=[_nofollow], skip_tags={"pre", "code"})],
)


def sanitize_html(text: str) -> str:
    """Keep bold, italic, lists, links and code; drop every other tag, attribute and script."""
    return _cleaner.clean(text or "").strip()


def html_is_blank(html: str) -> bool:
    return not bleach.clean(html or "", tags=set(), strip=True).strip()
