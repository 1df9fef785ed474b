"""Merge fields for sequence emails: a fixed, documented context and a restricted template language.

A template may use only the names in ``MERGE_FIELDS`` (no dots: nothing behind a name is
reachable), the filters in ``ALLOWED_FILTERS`` and ``{% if %}`` on merge fields. Anything else is
a ``ValidationError`` naming the field (``subject`` or ``body``) when the step is saved, so a
template that saved always renders. The HTML body is sanitised with ``crm.sanitize`` and sent
with a plain-text alternative.

A step is compiled once (``compile_step``, cached on its source text): its markup is sanitised
then, with the template tags held aside, so that a message costs only a render of the lead's
values, which autoescaping makes plain text. Lead data therefore never becomes markup, not even a
link (the sanitiser's linkifier never sees it). A body where that would not be safe is instead
sanitised after rendering, message by message: a value in a link's address before the author's
``https://`` (other than ``href="{{ unsubscribe_url }}"``), a template tag that sanitising drops
(inside a removed element or attribute) or one that sanitising creates (from ``&#123;``).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser

from django.core.exceptions import ValidationError
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import FilterExpression, Lexer, Parser, TokenType, tag_re
from django.utils.safestring import mark_safe

from crm.sanitize import sanitize_html

MERGE_FIELDS = {
    "first_name": "The lead's first name",
    "last_name": "The lead's last name",
    "full_name": "First and last name",
    "email": "The lead's email address",
    "job_title": "The lead's job title",
    "company_name": "The lead's company",
    "owner_name": "The lead owner's name (the sender's name when unassigned)",
    "owner_email": "The lead owner's email",
    "owner_signature": "Owner name, then our company name",
    "our_company": "Our company's name",
    "unsubscribe_url": "One-click unsubscribe link (added to every email's footer as well)",
}
ALLOWED_TAGS = frozenset({"if", "elif", "else", "endif"})
ALLOWED_FILTERS = frozenset({"default", "upper", "lower", "title", "capfirst"})
CONDITION_WORDS = frozenset({"not", "and", "or"})

_engine = Engine(debug=False, autoescape=True)


def _check_variable(source: str, field: str) -> None:
    try:
        expression = FilterExpression(source, Parser([], builtins=_engine.template_builtins))
    except TemplateSyntaxError as error:
        raise ValidationError({field: f"Cannot read {{{{ {source} }}}}: {error}"}) from None
    name = getattr(expression.var, "var", None)
    if name not in MERGE_FIELDS:
        raise ValidationError({field: f"Unknown merge field “{source.split('|')[0].strip()}”. Use one of: "
                                      f"{', '.join(MERGE_FIELDS)}."})  # fmt: skip
    for func, _args in expression.filters:
        if func.__name__ not in ALLOWED_FILTERS:
            raise ValidationError({field: f"Filter “{func.__name__}” is not allowed. Use one of: "
                                          f"{', '.join(sorted(ALLOWED_FILTERS))}."})  # fmt: skip


def _check_block(contents: str, field: str) -> None:
    words = contents.split()
    tag = words[0] if words else ""
    if tag not in ALLOWED_TAGS:
        raise ValidationError({field: f"Template tag “{{% {tag} %}}” is not allowed. Use merge fields and "
                                      "{% if field %}…{% else %}…{% endif %} only."})  # fmt: skip
    for word in words[1:]:
        if word not in CONDITION_WORDS:
            _check_variable(word, field)


def validate_template(source: str, field: str) -> None:
    """Raise ``ValidationError({field: …})`` unless ``source`` uses only the allowed language."""
    for token in Lexer(source or "").tokenize():
        if token.token_type == TokenType.VAR:
            _check_variable(token.contents, field)
        elif token.token_type == TokenType.BLOCK:
            _check_block(token.contents, field)
    try:
        _engine.from_string(source or "")
    except TemplateSyntaxError as error:
        raise ValidationError({field: f"Template error: {error}"}) from None


def merge_context(*, lead, sender_name: str, our_company: str, unsubscribe_url: str) -> dict[str, str]:
    """The only values a template can see: plain strings."""
    owner = getattr(lead, "owner", None)
    owner_name = str(owner.user) if owner else sender_name
    return {
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "full_name": f"{lead.first_name} {lead.last_name}".strip(),
        "email": lead.email,
        "job_title": lead.job_title,
        "company_name": lead.company_name,
        "owner_name": owner_name,
        "owner_email": owner.user.email if owner else "",
        "owner_signature": f"{owner_name}\n{our_company}",
        "our_company": our_company,
        "unsubscribe_url": unsubscribe_url,
    }


SAMPLE_CONTEXT = {name: f"[{name}]" for name in MERGE_FIELDS}


@dataclass
class Rendered:
    subject: str
    html: str
    text: str


_LINK = re.compile(r"<a\s[^>]*href=\"([^\"]+)\"[^>]*>(.*?)</a>", re.IGNORECASE | re.DOTALL)
_BREAKS = re.compile(r"<br\s*/?>|</?p\b[^>]*>|</li>|</blockquote>|</pre>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")


def html_to_text(markup: str) -> str:
    """A readable plain-text version: links as ``text (url)``, paragraphs as blank lines."""
    text = _LINK.sub(lambda m: f"{_TAGS.sub('', m.group(2))} ({html.unescape(m.group(1))})", markup)
    text = _BREAKS.sub("\n", text)
    text = html.unescape(_TAGS.sub("", text))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in text.splitlines())).strip()


_SLOT = "\ue000{}\ue001"  # private-use characters: plain text to the sanitiser, never in a template
_SLOTS = re.compile("\ue000(\\d+)\ue001")
_FIXED_SCHEME = ("http://", "https://", "mailto:")


class _AttributeSlots(HTMLParser):
    """Flags a held template tag inside an HTML tag that could change what the tag does: a value
    may go in a ``title`` and in an ``href`` after its author-written scheme; in place of a whole
    ``href`` only our own ``{{ unsubscribe_url }}`` may."""

    def __init__(self, tags: list[str]):
        super().__init__(convert_charrefs=True)
        self.tags, self.unsafe = tags, False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and "\ue000" in value and not self._harmless(name, value):
                self.unsafe = True

    def _harmless(self, name: str, value: str) -> bool:
        if name != "href":
            return name == "title"
        prefix = value.split("\ue000", 1)[0]
        if prefix.lower().startswith(_FIXED_SCHEME):
            return True
        first = self.tags[int(_SLOTS.match(value[len(prefix) :]).group(1))]
        return prefix == "" and first[2:-2].strip() == "unsubscribe_url"


def _sanitised_skeleton(body: str) -> str | None:
    """``body`` with its markup sanitised and its template tags unchanged, or None when that
    would not be the same as sanitising each rendered message (see the module's docstring)."""
    tags: list[str] = []

    def hold(match: re.Match) -> str:
        tags.append(match.group(0))
        return _SLOT.format(len(tags) - 1)

    clean = sanitize_html(tag_re.sub(hold, body))
    if [int(n) for n in _SLOTS.findall(clean)] != list(range(len(tags))):
        return None  # a tag was dropped, repeated or moved
    finder = _AttributeSlots(tags)
    finder.feed(clean)
    finder.close()
    skeleton = _SLOTS.sub(lambda m: tags[int(m.group(1))], clean)
    if finder.unsafe or tag_re.findall(skeleton) != tags:
        return None  # a value where it could change markup, or sanitising made a tag (say from &#123;)
    return skeleton


@dataclass(frozen=True)
class CompiledStep:
    subject: Template
    body: Template
    sanitised: bool  # the body's markup is clean already: render it, nothing more

    def render(self, context: dict[str, str]) -> Rendered:
        """The step for one lead: subject as one plain line, body as sanitised HTML plus text."""
        line = " ".join(self.subject.render(Context(context, autoescape=False)).split())
        signature = mark_safe(html.escape(context["owner_signature"]).replace("\n", "<br>"))  # noqa: S308 (escaped)
        markup = self.body.render(Context({**context, "owner_signature": signature}))
        markup = markup.strip() if self.sanitised else sanitize_html(markup)
        return Rendered(subject=line, html=markup, text=html_to_text(markup))


@lru_cache(maxsize=256)
def compile_step(subject: str, body: str) -> CompiledStep:
    """A step's templates, compiled and sanitised once (keyed on their text, so an edited step is
    compiled afresh)."""
    skeleton = _sanitised_skeleton(body)
    template = _engine.from_string(body if skeleton is None else skeleton)
    return CompiledStep(subject=_engine.from_string(subject), body=template, sanitised=skeleton is not None)


def render(*, subject: str, body: str, context: dict[str, str]) -> Rendered:
    """Render a step for one lead: subject as one plain line, body as sanitised HTML plus text."""
    return compile_step(subject, body).render(context)


def links_in(markup: str) -> list[str]:
    """The http(s) URLs the sanitised HTML links to, in order, without repeats."""
    found: list[str] = []
    for match in _LINK.finditer(markup):
        url = html.unescape(match.group(1))
        if url.startswith(("http://", "https://")) and url not in found:
            found.append(url)
    return found
