"""The restricted template language: a fixed context, a few filters, {% if %}; anything else is an
error naming the field at save time."""

import pytest
from django.core.exceptions import ValidationError

from nurturing.templating import SAMPLE_CONTEXT, compile_step, html_to_text, links_in, render, validate_template


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hi {{ favourite_colour }}", "Unknown merge field “favourite_colour”"),
        ("Hi {{ lead.owner.user.password }}", "Unknown merge field “lead.owner.user.password”"),
        ("Hi {{ first_name.__class__ }}", "Cannot read {{ first_name.__class__ }}: Variables and attributes may not"),
        ("{% load static %}", "Template tag “{% load %}” is not allowed"),
        ('{% include "base.html" %}', "Template tag “{% include %}” is not allowed"),
        ("{% if secret %}x{% endif %}", "Unknown merge field “secret”"),
        ("{{ first_name|safe }}", "Filter “safe” is not allowed"),
        ("{% if first_name %}open", "Template error"),
    ],
)
def test_a_template_outside_the_allowed_language_is_refused_naming_the_field(source, expected):
    with pytest.raises(ValidationError) as error:
        validate_template(source, "body")
    assert list(error.value.message_dict) == ["body"]
    assert error.value.message_dict["body"][0].startswith(expected)


def test_merge_fields_filters_and_if_are_allowed():
    validate_template('{% if first_name %}Hi {{ first_name|title }}{% else %}Hello{% endif %} {{ x|default:"" }}'
                      .replace(" {{ x|default:\"\" }}", ""), "subject")  # fmt: skip
    validate_template("{{ owner_signature }} {{ unsubscribe_url }}", "body")


def test_lead_data_is_escaped_and_the_html_sanitised_with_a_text_alternative():
    context = {**SAMPLE_CONTEXT, "first_name": "<script>alert(1)</script>Ann", "owner_signature": "Bo\nAlpha"}
    body = '<p onclick="x()">Hi {{ first_name }}</p><p><a href="https://example.com/a?x=1&y=2">Read</a></p>' \
           "<script>bad()</script><p>{{ owner_signature }}</p>"  # fmt: skip
    rendered = render(subject="Hi  {{ first_name }}\n", body=body, context=context)
    assert rendered.subject == "Hi <script>alert(1)</script>Ann"  # plain text: the mail client shows it as text
    assert "<script>" not in rendered.html
    assert "onclick" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;Ann" in rendered.html
    assert "Bo<br>Alpha" in rendered.html
    assert links_in(rendered.html) == ["https://example.com/a?x=1&y=2"]
    assert rendered.text == "Hi <script>alert(1)</script>Ann\n\nRead (https://example.com/a?x=1&y=2)\nbad()\nBo\nAlpha"


def test_html_to_text_keeps_paragraphs_and_links():
    assert (
        html_to_text('<p>One</p><p>Two <a href="https://x.test/">here</a></p>') == "One\n\nTwo here (https://x.test/)"
    )


def test_a_step_is_compiled_and_sanitised_once_for_all_its_messages():
    body = '<p>Hi {{ first_name }}, <a href="https://x.test/?e={{ email }}">read</a> <a href="{{ unsubscribe_url }}">stop</a></p>'
    compiled = compile_step("Hi", body)
    assert compiled is compile_step("Hi", body)  # cached on the text: an edited step compiles afresh
    assert compiled.sanitised is True
    rendered = compiled.render({**SAMPLE_CONTEXT, "email": "a&b@x.test", "unsubscribe_url": "https://crm.test/n/u/t"})
    assert rendered.html == (
        '<p>Hi [first_name], <a href="https://x.test/?e=a&amp;b@x.test" rel="nofollow noopener noreferrer">read</a> '
        '<a href="https://crm.test/n/u/t" rel="nofollow noopener noreferrer">stop</a></p>'
    )


@pytest.mark.parametrize(
    ("body", "html"),
    [
        # A value that would decide a link's scheme: the rendered message is sanitised, the link dropped.
        ('<p><a href="{{ first_name }}">x</a></p>', '<p><a rel="nofollow noopener noreferrer">x</a></p>'),
        # A value inside an element the sanitiser removes.
        ('<img src="{{ first_name }}"><p>{{ first_name }}</p>', "<p>javascript:alert(1)</p>"),
        # A value the linkifier would have made part of a link.
        ("<p>See example.com/{{ first_name }}</p>",
         '<p>See <a href="http://example.com/javascript:alert(1)" rel="nofollow noopener noreferrer">'
         "example.com/javascript:alert(1)</a></p>"),
    ],
)  # fmt: skip
def test_a_body_whose_values_could_change_its_markup_is_sanitised_message_by_message(body, html):
    compiled = compile_step("Hi", body)
    assert compiled.sanitised is False
    assert compiled.render({**SAMPLE_CONTEXT, "first_name": "javascript:alert(1)"}).html == html


def test_sanitising_that_would_make_a_template_tag_is_not_compiled_into_one():
    compiled = compile_step("Hi", "<p>&#123;{ first_name }} {<span></span>{ last_name }}</p>")
    assert compiled.sanitised is False  # removing <span> would join "{" and "{": rendered first instead
    assert compiled.render(SAMPLE_CONTEXT).html == "<p>&#123;{ first_name }} {{ last_name }}</p>"
