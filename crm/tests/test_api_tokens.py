"""API tokens: made and revoked by their owner on the profile page, stored hashed, checked by the
API's authentication (``crm.api_auth``)."""

import datetime as dt
import hashlib
import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from crm import services
from crm.models import ApiToken
from crm.testing.auth import api_key_for
from leads.testing.factories import make_lead


def leads_url(company) -> str:
    return f"/api/companies/{company.pk}/leads"


def api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def create_on_page(client, name: str):
    return client.post("/c/alpha/profile/", {"name": name})


def test_a_token_made_on_the_profile_page_authenticates_an_api_call(cast, client_for):
    lead = make_lead(cast.a.company)
    client = client_for(cast.a.sdr1)

    created = create_on_page(client, "Zapier")
    page = client.get("/c/alpha/profile/")
    key = page.context["new_key"]["key"]
    listed = api(key).get(leads_url(cast.a.company))

    assert created.status_code == 302
    assert created["Location"] == "/c/alpha/profile/"
    assert [str(m) for m in page.context["messages"]] == [
        "Token \u201cZapier\u201d created. Copy its key now: it is shown only once."
    ]
    assert key.encode() in page.content
    assert (listed.status_code, [row["id"] for row in listed.json()["results"]]) == (200, [lead.pk])
    # Shown once: the next visit no longer has it.
    again = client.get("/c/alpha/profile/")
    assert again.context["new_key"] is None
    assert key.encode() not in again.content


def test_the_key_is_not_stored_in_clear(cast):
    token, key = services.api_token_create(user=cast.a.sdr1.user, name="CI")

    row = ApiToken.objects.filter(pk=token.pk).values("name", "prefix", "key_hash").get()

    assert row == {"name": "CI", "prefix": key[:8], "key_hash": hashlib.sha256(key.encode()).hexdigest()}
    assert len(key) == 40
    assert not ApiToken.objects.filter(key_hash=key).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM crm_apitoken")
        assert all(key not in str(value) for row in cursor.fetchall() for value in row)


def test_a_revoked_token_gets_401(cast, client_for):
    key = api_key_for(cast.a.sdr1.user)
    token = ApiToken.objects.get(user=cast.a.sdr1.user)
    client = client_for(cast.a.sdr1)

    confirm = client.get(f"/c/alpha/profile/tokens/{token.pk}/revoke/")
    revoked = client.post(f"/c/alpha/profile/tokens/{token.pk}/revoke/", follow=True)
    refused = api(key).get(leads_url(cast.a.company))

    assert confirm.status_code == 200
    assert confirm.context["token"] == token
    assert [str(m) for m in revoked.context["messages"]] == [
        f"Token \u201c{token.name}\u201d revoked: it no longer opens the API."
    ]
    assert (refused.status_code, refused.json()) == (401, {"detail": "This token was revoked."})
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_someone_elses_token_cannot_be_revoked(cast, client_for):
    key = api_key_for(cast.a.sdr2.user)
    token = ApiToken.objects.get(user=cast.a.sdr2.user)
    client = client_for(cast.a.admin)  # even a company admin: tokens belong to their user

    assert client.get(f"/c/alpha/profile/tokens/{token.pk}/revoke/").status_code == 404
    assert client.post(f"/c/alpha/profile/tokens/{token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert api(key).get(leads_url(cast.a.company)).status_code == 200


def test_the_service_refuses_to_revoke_another_users_token(cast):
    token, _key = services.api_token_create(user=cast.a.sdr2.user, name="Mine")

    with pytest.raises(services.PermissionDenied) as refused:
        services.api_token_revoke(user=cast.a.sdr1.user, token=token)
    services.api_token_revoke(user=cast.a.sdr2.user, token=token)
    with pytest.raises(services.ValidationError) as twice:
        services.api_token_revoke(user=cast.a.sdr2.user, token=token)

    assert str(refused.value) == "Only the token's owner may revoke it."
    assert twice.value.message_dict == {"token": ["This token is already revoked."]}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("   ", "Give the token a name, e.g. the system that will use it."),
        ("Zapier", "You already have a token with this name: choose another or revoke that one first."),
    ],
)
def test_an_empty_or_taken_name_is_refused_on_the_field(cast, client_for, name, message):
    client = client_for(cast.a.sdr1)
    create_on_page(client, "Zapier")

    response = create_on_page(client, name)

    assert response.status_code == 200
    assert response.context["form"].errors == {"name": [message]}
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["Zapier"]


def test_a_revoked_name_can_be_used_again(cast):
    old, _key = services.api_token_create(user=cast.a.sdr1.user, name="Zapier")
    services.api_token_revoke(user=cast.a.sdr1.user, token=old)

    new, _key = services.api_token_create(user=cast.a.sdr1.user, name="Zapier")

    tokens = ApiToken.objects.order_by("pk")
    assert [(t.pk, t.name, t.is_revoked) for t in tokens] == [(old.pk, "Zapier", True), (new.pk, "Zapier", False)]


def test_the_profile_lists_my_tokens_only_with_the_company_id_and_the_docs_link(cast, client_for):
    mine, _key = services.api_token_create(user=cast.a.sdr1.user, name="Mine")
    services.api_token_create(user=cast.a.sdr2.user, name="Colleague's")
    services.api_token_create(user=cast.b.sdr1.user, name="Other company's")

    page = client_for(cast.a.sdr1).get("/c/alpha/profile/")

    assert page.status_code == 200
    assert list(page.context["tokens"]) == [mine]
    assert f'<code data-testid="company-id">{cast.a.company.pk}</code>'.encode() in page.content
    assert b'<a href="/api/docs/" data-testid="api-docs-link">' in page.content
    assert b"Colleague" not in page.content
    assert page["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_the_profile_has_a_fixed_number_of_queries(cast, client_for, django_assert_num_queries):
    client = client_for(cast.a.sdr1)
    client.get("/c/alpha/profile/")  # warm the session
    services.api_token_create(user=cast.a.sdr1.user, name="One")
    with django_assert_num_queries(6):
        client.get("/c/alpha/profile/")
    for name in ("Two", "Three"):
        services.api_token_create(user=cast.a.sdr1.user, name=name)
    with django_assert_num_queries(6):
        client.get("/c/alpha/profile/")


def test_the_profile_is_for_members_only(cast, client_for, client):
    assert client.get("/c/alpha/profile/")["Location"] == "/accounts/login/?next=/c/alpha/profile/"
    assert client_for(cast.a.sdr1).get("/c/bravo/profile/").status_code == 404


def test_last_used_is_stamped_at_most_once_a_minute(cast):
    key = api_key_for(cast.a.sdr1.user)
    token = ApiToken.objects.get()
    client = api(key)

    client.get(leads_url(cast.a.company))
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    client.get(leads_url(cast.a.company))
    unchanged = ApiToken.objects.get(pk=token.pk).last_used_at
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - dt.timedelta(seconds=61))
    client.get(leads_url(cast.a.company))
    later = ApiToken.objects.get(pk=token.pk).last_used_at

    assert first is not None
    assert unchanged == first
    assert later > first


def test_an_unknown_key_is_refused_as_before(cast):
    response = api("not-a-token").get(leads_url(cast.a.company))

    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token."})


def test_a_key_of_drfs_former_token_table_keeps_working_once_moved_and_hashed(cast):
    legacy_key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    created = timezone.now() - dt.timedelta(days=30)
    with connection.cursor() as cursor:  # the table as DRF's authtoken app left it (rolled back after the test)
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp NOT NULL, user_id bigint)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
            [legacy_key, created.replace(tzinfo=None), cast.a.sdr1.user.pk],
        )
    migration = importlib.import_module("crm.migrations.0006_move_drf_tokens")

    migration.move_tokens(apps, SimpleNamespace(connection=connection))

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)  # no key left in clear
    moved = ApiToken.objects.get()
    assert (moved.user, moved.name, moved.prefix) == (cast.a.sdr1.user, migration.MIGRATED_NAME, "9944b091")
    assert moved.key_hash == hashlib.sha256(legacy_key.encode()).hexdigest()
    assert api(legacy_key).get(leads_url(cast.a.company)).status_code == 200
