"""Data-quality signals: real checks, readable reasons, the worst severity wins."""

from types import SimpleNamespace

import pytest

from leads.scoring import quality


def lead(**fields):
    base = {"email": "maria.lopez@acme-industries.com", "phone": "", "phone_key": "", "country": "GB",
            "profile_url": "", "first_name": "Maria", "last_name": "Lopez", "lead_source": "Website",
            "campaign_id": 1}  # fmt: skip
    return SimpleNamespace(**{**base, **fields})


def test_a_clean_lead_is_valid_with_no_reasons():
    report = quality.check(lead())

    assert (report.validation_status, report.spam_score, report.reasons) == ("valid", 0, [])


@pytest.mark.parametrize(
    ("fields", "code", "text", "severity"),
    [
        ({"email": "maria@@acme.com"}, "email_syntax", "“maria@@acme.com” is not a valid email address.", "invalid"),
        ({"email": "maria@localhost"}, "email_domain", "The email domain localhost has no top-level domain.",
         "invalid"),
        ({"email": "maria@acme.test"}, "email_domain", "The email domain acme.test uses the reserved .test top-level "
                                                       "domain.", "invalid"),
        ({"email": "maria@acme.c0m"}, "email_syntax", "“maria@acme.c0m” is not a valid email address.", "invalid"),
        ({"email": "maria@example.com"}, "email_placeholder", "example.com is a placeholder domain.", "suspect"),
        ({"email": "maria@gmial.com"}, "email_typo", "gmial.com looks like a typo of gmail.com.", "suspect"),
        ({"email": "maria@mailinator.com"}, "email_disposable", "mailinator.com gives out disposable addresses.",
         "suspect"),
        ({"email": "noreply@acme.com"}, "email_noreply", "noreply@ is a no-reply address: nobody reads it.",
         "suspect"),
        ({"email": "info@acme.com"}, "email_role", "info@ is a role address, not a person.", "suspect"),
        ({"phone": "+44 7700 900123", "phone_key": ""}, "phone_invalid",
         "The phone number is not in use in GB: check it.", "suspect"),
        ({"first_name": "Test", "last_name": "User"}, "name_placeholder", "“Test User” looks like a placeholder name.",
         "suspect"),
        ({"first_name": "John", "last_name": "Doe"}, "name_placeholder", "“John Doe” looks like a placeholder name.",
         "suspect"),
        ({"first_name": "Xkcdfgh", "last_name": "Lopez"}, "name_gibberish", "“Xkcdfgh Lopez” looks like keyboard "
                                                                            "mashing.", "suspect"),
        ({"first_name": "Maria", "last_name": "Maria"}, "name_repeated", "First and last name are the same.",
         "suspect"),
        ({"first_name": "Maria2", "last_name": "Lopez"}, "name_digits", "The name contains digits or a web address.",
         "suspect"),
        ({"lead_source": "unknown"}, "no_source", "The lead source is missing or unknown.", "suspect"),
        ({"campaign_id": None}, "no_campaign", "The lead has no campaign.", "suspect"),
        ({"email": "", "phone": "", "profile_url": ""}, "no_contact", "There is no way to reach the lead.", "invalid"),
    ],
)  # fmt: skip
def test_each_check_gives_a_reason_and_a_severity(fields, code, text, severity):
    report = quality.check(lead(**fields))

    assert [(s.code, s.text, s.severity) for s in report.signals] == [(code, text, severity)]
    assert report.validation_status == severity


@pytest.mark.parametrize(
    "name",
    [("Nguyễn", "Thị"), ("Jürgen", "Schwarzkopf"), ("Friedrich", "Nietzsche"), ("Ng", "Li"), ("Siobhán", "Ó Briain"),
     ("Łukasz", "Wróblewski"), ("李", "小龙"), ("Anne-Marie", "O'Neil")],
)  # fmt: skip
def test_real_names_are_not_called_gibberish(name):
    assert quality.check(lead(first_name=name[0], last_name=name[1])).signals == []


def test_signals_add_up_to_a_spam_score_capped_at_100():
    report = quality.check(lead(email="noreply@mailinator.com", first_name="asdf", last_name="qwerty",
                                lead_source="", campaign_id=None))  # fmt: skip

    assert [s.points for s in report.signals] == [50, 40, 30, 15, 15]
    assert (report.spam_score, report.validation_status) == (100, "suspect")


def test_the_stored_phone_key_says_whether_the_phone_is_valid():
    assert quality.check(lead(phone="020 7946 0123", phone_key="+442079460123")).signals == []


def test_without_a_key_the_phone_is_parsed_for_its_country():
    assert quality.check(SimpleNamespace(**{**vars(lead(phone="020 7946 0123")), "phone_key": None})).signals == []
    del_key = {k: v for k, v in vars(lead(phone="020 7946 012")).items() if k != "phone_key"}
    assert [s.code for s in quality.check(SimpleNamespace(**del_key)).signals] == ["phone_invalid"]


@pytest.mark.parametrize(
    ("domain", "problem"),
    [("acme.com", ""), ("acme.co.uk", ""), ("xn--bcher-kva.example", "uses the reserved .example top-level domain"),
     ("xn--bcher-kva.de", ""), ("192.168.0.1", "is an IP address, not a mail domain"), ("acme", "has no top-level domain"),
     ("-acme.com", "is not a valid host name"), ("acme.c0m", "has an impossible top-level domain .c0m")],
)  # fmt: skip
def test_domain_shape(domain, problem):
    assert quality.domain_problem(domain) == problem
