import pytest
from django.core import mail
from django.test import Client

from crm.models import Company
from crm.services import membership_create


@pytest.mark.parametrize(
    ("url_name", "role", "expected"),
    [
        ("crm:dashboard", "admin", 200),
        ("crm:dashboard", "manager", 200),
        ("crm:dashboard", "sdr1", 200),
        ("crm:members", "admin", 200),
        ("crm:members", "manager", 200),
        ("crm:members", "sdr2", 200),
        ("crm:company_settings", "admin", 200),
        ("crm:company_settings", "manager", 403),
        ("crm:company_settings", "sdr1", 403),
    ],
)
def test_permission_table(url_name, role, expected, cast, client_for):
    from django.urls import reverse

    client = client_for(cast.a.member(role))
    response = client.get(reverse(url_name, kwargs={"company_slug": cast.a.company.slug}))
    assert response.status_code == expected


def test_the_team_page_lists_exactly_the_managers_tree(cast, client_for):
    response = client_for(cast.a.manager).get("/c/alpha/members/")
    emails = [m.user.email for m in response.context["members"]]
    assert emails == ["manager@alpha.test", "sdr1@alpha.test"]
    assert b"sdr2@alpha.test" not in response.content
    assert b"bravo" not in response.content.lower()


def test_the_team_page_costs_a_fixed_number_of_queries(cast, client_for, django_assert_num_queries):
    client = client_for(cast.a.admin)
    client.get("/c/alpha/members/")  # warm the session
    with django_assert_num_queries(6):
        response = client.get("/c/alpha/members/")
    assert len(response.context["members"]) == 4


def test_an_admin_changes_company_settings(cast, client_for):
    client = client_for(cast.a.admin)
    response = client.post("/c/alpha/settings/", {"name": "Alpha Ltd", "default_country": "de"}, follow=True)
    assert response.redirect_chain == [("/c/alpha/settings/", 302)]
    assert b"Company settings saved." in response.content
    company = Company.objects.get(slug="alpha")
    assert (company.name, company.default_country) == ("Alpha Ltd", "DE")
    assert company.history.first().history_change_reason == "crm.company.changed"
    assert company.history.first().history_user == cast.a.admin.user


def test_a_bad_settings_form_names_the_field_and_changes_nothing(cast, client_for):
    response = client_for(cast.a.admin).post("/c/alpha/settings/", {"name": "", "default_country": "GB"})
    assert response.status_code == 200
    assert response.context["form"].errors == {"name": ["This field is required."]}
    assert Company.objects.get(slug="alpha").name == "Alpha"


def test_a_manager_cannot_change_settings(cast, client_for):
    response = client_for(cast.a.manager).post("/c/alpha/settings/", {"name": "Hacked", "default_country": "GB"})
    assert response.status_code == 403
    assert Company.objects.get(slug="alpha").name == "Alpha"


def test_writes_without_a_csrf_token_are_refused(cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.a.admin.user)
    response = client.post("/c/alpha/settings/", {"name": "No token", "default_country": "GB"})
    assert response.status_code == 403
    assert b"This form has expired" in response.content
    assert Company.objects.get(slug="alpha").name == "Alpha"


def test_home_sends_you_to_your_company(cast, client_for):
    response = client_for(cast.a.sdr1).get("/")
    assert response.status_code == 302
    assert response["Location"] == "/c/alpha/"


def test_home_explains_when_you_belong_to_no_company(db, client):
    from crm.testing.factories import UserFactory

    client.force_login(UserFactory(email="lonely@example.test"))
    response = client.get("/")
    assert response.status_code == 200
    assert b"You are not a member of any company yet" in response.content


def test_the_switcher_appears_only_for_people_in_several_companies(cast, client_for):
    single = client_for(cast.a.sdr1).get("/c/alpha/")
    assert b'data-testid="company-switcher"' not in single.content
    membership_create(company=cast.b.company, user=cast.a.sdr1.user)
    double = client_for(cast.a.sdr1).get("/c/alpha/")
    assert b'data-testid="company-switcher"' in double.content
    assert b'href="/c/bravo/"' in double.content
    assert client_for(cast.a.sdr1).get("/c/bravo/").status_code == 200


def test_an_inactive_membership_is_treated_as_no_membership(cast, client_for):
    cast.a.sdr1.is_active = False
    cast.a.sdr1.save()
    assert client_for(cast.a.sdr1).get("/c/alpha/").status_code == 404


def test_healthz_is_public_and_checks_the_database(db, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "worker": {"alive": True, "clusters": 0, "last_heartbeat": None, "mode": "inline"},  # tests run tasks inline
    }


def test_login_with_email_and_a_wrong_password_says_so(cast, client):
    response = client.post("/accounts/login/", {"username": "sdr1@alpha.test", "password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Please enter a correct email and password. Note that both fields may be case-sensitive."
    ]
    ok = client.post("/accounts/login/", {"username": "sdr1@alpha.test", "password": "correct horse battery staple"})
    assert ok.status_code == 302
    assert ok["Location"] == "/"


def test_logout_needs_a_post(cast, client_for):
    client = client_for(cast.a.sdr1)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/c/alpha/").status_code == 302


def test_password_reset_sends_a_working_link(cast, client):
    response = client.post("/accounts/password_reset/", {"email": "sdr1@alpha.test"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["sdr1@alpha.test"]
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line)
    path = link.split("testserver", 1)[1]
    form_page = client.get(path, follow=True)
    assert form_page.context["validlink"] is True
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase"})
    assert done.status_code == 302
    assert client.login(username="sdr1@alpha.test", password="a brand new passphrase") is True


def test_password_reset_does_not_reveal_unknown_emails(db, client):
    response = client.post("/accounts/password_reset/", {"email": "nobody@example.test"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_reset/done/"
    assert mail.outbox == []


def test_mentions_show_in_the_bell_and_can_be_marked_read(cast, client_for):
    from leads.testing.factories import make_comment, make_lead

    lead = make_lead(cast.a.company, cast.a.sdr1)
    make_comment(lead, cast.a.sdr1, "Can you call them, @manager?")
    client = client_for(cast.a.manager)
    page = client.get("/c/alpha/notifications/")
    assert page.context["unread_notifications"] == 1
    assert [n.text for n in page.context["notifications"]] == [f"Alpha SDR One mentioned you on {lead.display_name}"]
    assert b'data-testid="unread-count">1</mark>' in page.content
    response = client.post("/c/alpha/notifications/read/", follow=True)
    assert [str(m) for m in response.context["messages"]] == ["1 notification marked as read."]
    assert response.context["unread_notifications"] == 0
    assert client_for(cast.a.sdr1).get("/c/alpha/notifications/").context["notifications"].count() == 0
