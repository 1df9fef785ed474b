import json
import stat
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from crm.models import ApiToken, Company, Membership, Role, User
from crm.services import api_token_hash
from leads.models import Lead, StatusChange

PASSWORD = "load-pass-for-tests"


def seed(tmp_path, **options):
    plan = tmp_path / "plan.json"
    out = StringIO()
    call_command(
        "seed_load", company="tiny", plan=str(plan), stdout=out,
        **{"password": PASSWORD, "sdrs": 3, "managers": 2, "partners": 1, "leads": 40, **options},
    )  # fmt: skip
    return json.loads(plan.read_text()), plan, out.getvalue()


def test_seed_load_makes_the_company_its_teams_and_its_leads(db, tmp_path):
    plan, _path, out = seed(tmp_path)
    company = Company.objects.get(slug="tiny")
    members = {m.user.email: m for m in Membership.objects.filter(company=company).select_related("manager__user")}
    assert sorted(members) == [
        "admin@tiny.load.test", "manager01@tiny.load.test", "manager02@tiny.load.test",
        "partner01@tiny.load.test", "sdr01@tiny.load.test", "sdr02@tiny.load.test", "sdr03@tiny.load.test",
    ]  # fmt: skip
    assert {email: (m.role, m.manager.user.email if m.manager else None) for email, m in members.items()} == {
        "admin@tiny.load.test": (Role.ADMIN, None),
        "manager01@tiny.load.test": (Role.MANAGER, "admin@tiny.load.test"),
        "manager02@tiny.load.test": (Role.MANAGER, "admin@tiny.load.test"),
        "sdr01@tiny.load.test": (Role.SDR, "manager01@tiny.load.test"),
        "sdr02@tiny.load.test": (Role.SDR, "manager02@tiny.load.test"),
        "sdr03@tiny.load.test": (Role.SDR, "manager01@tiny.load.test"),
        "partner01@tiny.load.test": (Role.SDR, "admin@tiny.load.test"),
    }
    assert Lead.objects.filter(company=company).count() == 40
    assert out.startswith("tiny: 3 SDRs, 2 managers, 1 partners, 40 leads (")


def test_the_plan_names_what_the_load_test_needs(db, tmp_path):
    plan, path, _out = seed(tmp_path)
    company = Company.objects.get(slug="tiny")
    sdr_ids = dict(Membership.objects.filter(company=company).values_list("user__email", "pk"))
    assert plan["company"] == {"id": company.pk, "slug": "tiny"}
    assert plan["password"] == PASSWORD
    assert sorted(plan["statuses"]) == [
        "contacted",
        "converted",
        "disqualified",
        "new",
        "qualified",
        "recycled",
        "unqualified",
    ]
    assert plan["sdrs"] == [
        {"email": f"sdr0{n}@tiny.load.test", "membership": sdr_ids[f"sdr0{n}@tiny.load.test"]} for n in (1, 2, 3)
    ]
    assert [(m["email"], m["team"]) for m in plan["managers"]] == [
        ("manager01@tiny.load.test", sorted([sdr_ids["sdr01@tiny.load.test"], sdr_ids["sdr03@tiny.load.test"]])),
        ("manager02@tiny.load.test", [sdr_ids["sdr02@tiny.load.test"]]),
    ]
    countries = set(Lead.objects.filter(company=company).values_list("country", flat=True))
    assert plan["countries"] != []
    assert set(plan["countries"]) <= countries
    assert plan["surnames"] != []
    assert set(plan["surnames"]) <= set(Lead.objects.values_list("last_name", flat=True))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the password and the API keys


def test_every_load_user_logs_in_and_the_partner_key_authenticates(db, tmp_path):
    plan, _path, _out = seed(tmp_path)
    for person in [plan["admin"], *plan["managers"], *plan["sdrs"], *plan["partners"]]:
        assert Client().login(username=person["email"], password=PASSWORD) is True
    [partner] = plan["partners"]
    token = ApiToken.objects.get(key_hash=api_token_hash(partner["token"]))
    assert (token.user.email, token.revoked_at) == ("partner01@tiny.load.test", None)
    response = Client().get(
        f"/api/companies/{plan['company']['id']}/leads", HTTP_AUTHORIZATION=f"Token {partner['token']}"
    )
    assert response.status_code == 200


def test_each_lead_starts_with_the_status_change_the_app_gives_a_new_lead(db, tmp_path):
    seed(tmp_path)
    leads = Lead.objects.filter(company__slug="tiny")
    changes = StatusChange.objects.filter(lead__company__slug="tiny")
    assert sorted(
        changes.values_list("lead_id", "from_status_id", "to_status_id", "changed_at", "changed_by_id")
    ) == sorted((lead.pk, None, lead.status_id, lead.created_at, None) for lead in leads)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sdrs": 0}, "--sdrs must be at least 1."),
        ({"managers": 0}, "--managers must be at least 1."),
        ({"leads": -1}, "--leads must be at least 0."),
        ({"password": "short"}, "--password must have at least 8 characters."),
    ],
)
def test_bad_options_stop_before_anything_is_written(db, tmp_path, options, message):
    with pytest.raises(CommandError) as error:
        seed(tmp_path, **options)
    assert str(error.value) == message
    assert (Company.objects.filter(slug="tiny").exists(), User.objects.count()) == (False, 0)


def test_an_existing_company_is_refused_and_left_alone(db, tmp_path):
    seed(tmp_path)
    with pytest.raises(CommandError) as error:
        seed(tmp_path)
    assert str(error.value) == (
        "A company 'tiny' already exists: seed_load fills a fresh database (or choose another --company)."
    )
    assert Lead.objects.count() == 40


def test_existing_users_are_refused_by_name(db, tmp_path):
    User.objects.create_user(email="sdr02@tiny.load.test")
    with pytest.raises(CommandError) as error:
        seed(tmp_path)
    assert str(error.value) == "These users already exist: sdr02@tiny.load.test. Use a fresh database."
    assert Company.objects.filter(slug="tiny").exists() is False


def test_a_plan_in_a_missing_folder_is_refused(db, tmp_path):
    with pytest.raises(CommandError) as error:
        call_command("seed_load", company="tiny", plan=str(tmp_path / "nope" / "plan.json"), password=PASSWORD)
    assert str(error.value) == f"--plan: the folder {tmp_path / 'nope'} does not exist."
