"""Walk every tenant URL of the project as each role of company A, filled with company B's objects.

Nothing is listed by hand: a view added later is covered as soon as its URL exists.
"""

import re

import pytest
from django.urls import resolve

from crm.permissions import permissions_for
from crm.testing.cast import ROLES
from crm.testing.urlwalk import fill_params, tenant_routes

ROUTES = tenant_routes()


def declared_permission(url: str) -> str | None:
    func = resolve(url).func
    return getattr(func, "crm_permission", None) or getattr(getattr(func, "cls", None), "crm_permission", None)


OBJECT_ROUTES = [r for r in ROUTES if r.object_params]


def test_the_walk_finds_the_tenant_urls():
    names = {r.name for r in ROUTES}
    assert {"crm:dashboard", "crm:members", "crm:company_settings"} <= names


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("role", ROLES)
def test_other_companys_urls_are_404_for_every_role(route, role, cast, client_for):
    client = client_for(cast.a.member(role))
    url = route.fill(fill_params(route, tenant_company=cast.b.company, object_company=cast.b.company))
    assert client.get(url).status_code == 404
    assert client.post(url, {}).status_code == 404


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("role", ROLES)
def test_objects_of_another_company_are_404_inside_your_own(route, role, cast, client_for):
    client = client_for(cast.a.member(role))
    member = cast.a.member(role)
    url = route.fill(fill_params(route, tenant_company=cast.a.company, object_company=cast.b.company))
    if declared_permission(url) not in permissions_for(member.role):
        # Refused on the role alone, before any lookup: the answer is the same whatever the id.
        assert (client.get(url).status_code, client.post(url, {}).status_code) == (403, 403)
        return
    # POST-only views answer GET with 405 before looking anything up, which reveals nothing.
    assert client.get(url).status_code in {404, 405}
    assert client.post(url, {}).status_code == 404


@pytest.mark.parametrize("route", [r for r in ROUTES if "company_slug" in r.params], ids=lambda r: r.name)
def test_anonymous_visitors_are_sent_to_log_in(route, cast, client):
    url = route.fill(fill_params(route, tenant_company=cast.a.company, object_company=cast.a.company))
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_an_unknown_company_and_a_company_you_do_not_belong_to_look_the_same(cast, client_for):
    client = client_for(cast.a.sdr1)
    missing = client.get("/c/no-such-company/")
    foreign = client.get(f"/c/{cast.b.company.slug}/")
    assert (missing.status_code, foreign.status_code) == (404, 404)
    token = re.compile(rb'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+')
    assert token.sub(b"", missing.content) == token.sub(b"", foreign.content)
    assert b"Page not found" in missing.content
    assert b"Bravo" not in foreign.content
