"""The import's fast contact checks give Django's validators' verdicts, on hard cases too."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from leads import services

EMAILS = [
    "ann@example.com", "Ann.Lee+crm@Example.CO.UK", "a@b", "a@localhost", "@example.com", "ann@",
    "ann@@example.com", "ann@exa mple.com", "ann@-example.com", "ann@example-.com", "ann@[127.0.0.1]",
    "ann@[IPv6:::1]", "ann@[300.1.1.1]", "ann@münchen.de", "ann@xn--mnchen-3ya.de", "\"ann lee\"@example.com",
    "ann lee@example.com", "ann..lee@example.com", ".ann@example.com", "ann@example.com\n", "a" * 310 + "@ex.com",
    "a" * 64 + "@" + "b" * 63 + ".com", "ann@" + "b" * 64 + ".com", "ann@example.c", "ann@example.123",
]  # fmt: skip
URLS = [
    "https://www.linkedin.com/in/ann-lee", "http://linkedin.com/in/ann?trk=x#top", "https://linkedin.com",
    "https://linkedin.com/", "https://linkedin.com/in/ann lee", "https://linkedin.com/in/ann\tlee",
    "ftp://linkedin.com/in/ann", "linkedin.com/in/ann", "https:/linkedin.com/in/ann", "https://user:pw@host.com/x",
    "https://us?er@host.com/x", "https://us#er@host/x", "https://[::1]/x", "https://[::1:/x", "https://[zz::1]/x",
    "https://127.0.0.1:8000/x", "https://256.1.1.1/x", "https://localhost/x", "https://münchen.de/ä",
    "https://-bad.com/x", "https://bad-.com/x", "https://a." + "b" * 250 + ".com/x", "https://ex.com:99999/x",
    "https://ex.com:/x", "HTTPS://EX.COM/X", "https://ex.com?q=1", "https://ex.com#f", "https://ex.com/" + "a" * 2040,
    "https://ex.com/a\u3000b", "https://ex.com/a\nb", " https://ex.com/x", "https://ex.com./x", "https://ex..com/x",
    "ht:tp://ex.com/x", "https://ex.com/x://y", "https://",
]  # fmt: skip


def _passes(validator, value: str) -> bool:
    try:
        validator(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("email", EMAILS)
def test_the_email_check_agrees_with_django(email):
    assert services._email_ok(email) == _passes(validate_email, email)


@pytest.mark.parametrize("url", URLS)
def test_the_profile_url_check_agrees_with_django(url):
    assert services._profile_url_ok(url) == _passes(services._validate_profile_url, url)


def test_the_cases_hold_both_verdicts():
    assert [services._email_ok(e) for e in EMAILS].count(True) == 8
    assert [services._profile_url_ok(u) for u in URLS].count(True) == 16
