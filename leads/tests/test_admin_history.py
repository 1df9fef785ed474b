"""Admin history pages say who changed a record and from where (IP address, user agent)."""

from django.urls import reverse

from leads.testing.factories import make_lead

BROWSER = {"REMOTE_ADDR": "203.0.113.7", "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux) Firefox/128.0"}


def columns(response) -> list[str]:
    return [label for _, label in response.context["history_columns"]]


def cells(response) -> list[tuple]:
    return [
        (row.history_change_reason, str(row.history_user), row.ip_address, row.user_agent)
        for row in response.context["page_obj"]
    ]


def test_the_lead_history_shows_who_and_from_where(cast, client_for):
    lead = make_lead(cast.a.company, cast.a.admin, owner=cast.a.sdr1)  # no request: no address
    client = client_for(cast.a.manager)
    url = reverse("admin:leads_lead_change", args=[lead.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() not in (None, False)}
    assert client.post(url, {**data, "job_title": "CTO"}, **BROWSER).status_code == 302

    response = client.get(reverse("admin:leads_lead_history", args=[lead.pk]))

    assert response.status_code == 200
    assert columns(response) == ["IP address", "User agent"]
    assert cells(response) == [
        ("leads.lead.changed", "Alpha Manager", "203.0.113.7", "Mozilla/5.0 (X11; Linux) Firefox/128.0"),
        ("leads.lead.created", "Alpha Admin", None, ""),  # made by a service call, not a request
    ]
    html = response.content.decode()
    assert '<th scope="col">IP address</th>' in html
    assert "<td>203.0.113.7</td>" in html
    assert "<td>Mozilla/5.0 (X11; Linux) Firefox/128.0</td>" in html


def test_a_membership_history_shows_where_the_admin_changed_it(cast, client_for):
    client = client_for(cast.a.admin)
    url = reverse("admin:crm_membership_change", args=[cast.a.sdr1.pk])
    data = {"role": "sdr", "manager": cast.a.manager.pk, "territory": "Wales", "skills": "[]", "capacity": 50,
            "is_available": "on", "is_active": "on"}  # fmt: skip
    assert client.post(url, data, **BROWSER).status_code == 302

    response = client.get(reverse("admin:crm_membership_history", args=[cast.a.sdr1.pk]))

    assert columns(response) == ["IP address", "User agent"]
    assert cells(response)[0] == (
        "crm.membership.changed",
        "Alpha Admin",
        "203.0.113.7",
        "Mozilla/5.0 (X11; Linux) Firefox/128.0",
    )
