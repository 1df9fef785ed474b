"""Scraped profiles → leads.

A scraped profile is one JSON object. Every key is optional except that the lead must end up with
a way to reach it (email, phone or profile URL):

    {
      "name": "Ana Souza",                 # or "first_name" + "last_name"
      "first_name": "Ana", "last_name": "Souza",
      "headline": "Head of Growth at Acme", # used as job title when "job_title" is absent
      "job_title": "Head of Growth",
      "company": "Acme Ltd",                # or {"name": "Acme Ltd", ...}
      "location": "London, United Kingdom",
      "country": "GB",                      # ISO alpha-2, else the company's default
      "profile_url": "https://www.linkedin.com/in/ana-souza/",   # or "url"
      "email": "ana@acme.example", "phone": "+44 20 7946 0000",
      "skills": ["SaaS", "Growth"],
      "experience": [{"title": "...", "company": "...", "from": "2021-01", "to": null}],
      "scraped_at": "2026-11-20T10:00:00Z",
      "source": "linkedin"                  # becomes the lead source unless one is given
    }

The whole object is kept unchanged in ``Lead.profile_data``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from crm.models import Company, Membership
from leads.models import Campaign, Lead

DEFAULT_SOURCE = "Scraped profile"


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _split_name(profile: dict) -> tuple[str, str]:
    first, last = _text(profile.get("first_name")), _text(profile.get("last_name"))
    if first or last:
        return first, last
    parts = _text(profile.get("name") or profile.get("full_name")).split()
    if not parts:
        return "", ""
    return parts[0], " ".join(parts[1:])


def _company_name(profile: dict) -> str:
    company = profile.get("company")
    if isinstance(company, dict):
        return _text(company.get("name"))
    return _text(company)


def _job_title(profile: dict) -> str:
    title = _text(profile.get("job_title") or profile.get("title"))
    if title:
        return title
    headline = _text(profile.get("headline"))
    return headline.split(" at ")[0].strip() if " at " in headline else headline


def _fitted(field: str, text: str) -> str:
    """Scraped names and headlines run long: they are cut to the column, not refused (contact
    details are never cut: the services refuse a bad one)."""
    return text[: Lead._meta.get_field(field).max_length]


def profile_to_lead_data(profile: Any) -> dict[str, Any]:
    """Map a scraped profile onto lead fields, keeping the original in ``profile_data``."""
    if not isinstance(profile, dict):
        raise ValidationError({"profile": "A scraped profile must be a JSON object."})
    first, last = _split_name(profile)
    country = _text(profile.get("country"))
    data = {
        "first_name": _fitted("first_name", first),
        "last_name": _fitted("last_name", last),
        "job_title": _fitted("job_title", _job_title(profile)),
        "company_name": _fitted("company_name", _company_name(profile)),
        "profile_url": _text(profile.get("profile_url") or profile.get("url")),
        "email": _text(profile.get("email")),
        "phone": _text(profile.get("phone")),
        "lead_source": _text(profile.get("source")) or DEFAULT_SOURCE,
        "profile_data": profile,
    }
    if len(country) == 2:
        data["country"] = country
    return data


def lead_create_from_profile(
    *,
    company: Company,
    actor: Membership | None,
    profile: Any,
    campaign: Campaign,
    lead_source: str = "",
    reason: str = "leads.lead.created_from_profile",
) -> Lead:
    """One scraped profile becomes one lead, through the same validation as any other lead."""
    from leads.services import lead_create

    data = profile_to_lead_data(profile)
    data["campaign"] = campaign
    if lead_source.strip():
        data["lead_source"] = lead_source.strip()
    return lead_create(company=company, actor=actor, data=data, reason=reason)
