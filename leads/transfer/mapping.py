"""Import mapping: which lead field each column of a file fills (``auto_mapping`` matches headers
to fields, custom fields and profile keys; ``mapping_errors`` names what is wrong with a chosen
mapping), the owner a cell names (``OwnerIndex``: by email or by the display name our exports
write) and the options of a job (``ImportOptions``: duplicates policy, campaign, source)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from crm.models import Company, Membership
from leads import dedup
from leads.models import (
    Campaign,
    CustomField,
    DuplicatePolicy,
    ImportFormat,
)
from leads.transfer.reading import column_name

IGNORE = ""
ERRORS_COLUMN = "Import errors"
SOURCE_ROW_COLUMN = "Source row"
PREVIEW_ROWS = 20

# --- what a column can fill -------------------------------------------------------------------------

# key, label, extra header names it is recognised by (besides key and label)
FIXED_TARGETS: list[tuple[str, str, tuple[str, ...]]] = [
    ("first_name", "First name", ("firstname", "given name", "forename", "first")),
    ("last_name", "Last name", ("lastname", "surname", "family name", "last")),
    ("full_name", "Full name", ("name", "fullname", "contact name", "contact", "lead name")),
    ("email", "Email", ("e mail", "email address", "e mail address", "mail", "work email")),
    ("phone", "Phone", ("telephone", "tel", "phone number", "mobile", "mobile phone", "cell", "phone no")),
    ("country", "Country", ("country code", "iso country")),
    ("job_title", "Job title", ("title", "position", "role", "job", "jobtitle")),
    ("company_name", "Company", ("company name", "organisation", "organization", "employer", "account")),
    ("profile_url", "Profile URL", ("linkedin", "linkedin url", "profile", "url", "profile link")),
    ("lead_source", "Lead source", ("source", "leadsource")),
    ("campaign", "Campaign", ("campaign name",)),
    ("medium", "Medium", ("utm medium",)),
    ("term", "Term", ("utm term", "search term", "keyword")),
    ("owner", "Owner", ("owner email", "assigned to", "sdr", "owner e mail")),
    ("status", "Status", ("lead status",)),
    ("status_note", "Status note", ("status comment",)),
    ("stage", "Stage", ("lead stage",)),
    ("interest_product", "Interest product", ("product", "interest", "product interest")),
    ("budget_range", "Budget range", ("budget",)),
    ("authority_level", "Authority level", ("authority",)),
    ("need", "Need", ("needs",)),
    ("timeline", "Timeline", ("time frame", "timeframe")),
    ("gdpr_consent", "GDPR consent", ("consent", "gdpr")),
    ("dnd", "Do not disturb", ("dnd",)),
    ("opt_in_date", "Opt-in date", ("opt in", "opted in", "opt in date")),
]
FIXED_LABELS = {key: label for key, label, _ in FIXED_TARGETS}
# Columns our own exports write that are computed, never imported: recognised and ignored.
READ_ONLY_HEADERS = (
    "id", "lead id", "score", "priority", "spam score", "validation status", "created", "created at",
    "updated", "updated at", "assigned at", "status changed at", "first response at", "last activity",
    "last activity at", "converted at", "score breakdown", "custom fields", "profile data", "status key",
    "owner name", "campaign id", "owner id", "status id", "import errors", "source row",
)  # fmt: skip
PROFILE_PREFIX, CUSTOM_PREFIX = "profile:", "custom:"
_SEPARATORS = re.compile(r"[\s_\-.]+")


def header_key(name: str) -> str:
    """How headers are compared: case-folded, separators as single spaces, trimmed."""
    return _SEPARATORS.sub(" ", name.casefold()).strip()


def targets_for(company: Company) -> list[tuple[str, str]]:
    """Every (key, label) a column may be mapped to in ``company``."""
    custom = [
        (f"{CUSTOM_PREFIX}{d.key}", f"{d.label} (custom field)")
        for d in CustomField.objects.filter(company=company, is_active=True)
    ]
    return [(key, label) for key, label, _ in FIXED_TARGETS] + custom


def _header_index(company: Company) -> dict[str, str]:
    index: dict[str, str] = dict.fromkeys((header_key(h) for h in READ_ONLY_HEADERS), IGNORE)
    for key, label, extra in FIXED_TARGETS:
        for name in (key, label, *extra):
            index[header_key(name)] = key
    for definition in CustomField.objects.filter(company=company, is_active=True):
        for name in (definition.key, definition.label, f"{CUSTOM_PREFIX}{definition.key}"):
            index[header_key(name)] = f"{CUSTOM_PREFIX}{definition.key}"
    return index


def profile_target(header: str, position: int) -> str:
    """The profile attribute a column fills when mapped to one: ``Profile: headline`` → headline."""
    match = re.match(r"^\s*profile\s*:\s*(.+)$", header, re.IGNORECASE)
    attribute = match.group(1).strip() if match else header_key(header)
    return f"{PROFILE_PREFIX}{attribute or position + 1}"


def auto_mapping(headers: list[str], company: Company) -> list[str | None]:
    """Per column: the matching target key, "" (known, ignored) or None (no match). A header
    ``Profile: x`` fills the profile attribute ``x``. Of two columns with the same name only the
    first is matched; the other stays unmapped, so the person decides."""
    index = _header_index(company)
    mapping: list[str | None] = []
    taken: set[str] = set()
    for position, header in enumerate(headers):
        target = index.get(header_key(header))
        if target is None and re.match(r"^\s*profile\s*:\s*\S", header, re.IGNORECASE):
            target = profile_target(header, position)
        if target and target in taken:
            target = None
        if target:
            taken.add(target)
        mapping.append(target)
    return mapping


def mapping_errors(headers: list[str], mapping: list, company: Company) -> list[str]:
    """Every reason the mapping cannot be used, one sentence each (empty when it can)."""
    if len(mapping) != len(headers):
        return [f"The mapping names {len(mapping)} columns but the file has {len(headers)}."]
    valid = {key for key, _ in targets_for(company)}
    errors, used = [], {}
    for position, target in enumerate(mapping):
        name = column_name(headers, position)
        if target is None:
            errors.append(f"Column {position + 1} “{name}” matches no lead field: choose a field or ignore it.")
        elif target == IGNORE:
            continue
        elif target not in valid and not (target.startswith(PROFILE_PREFIX) and len(target) > len(PROFILE_PREFIX)):
            errors.append(f"Column {position + 1} “{name}”: “{target}” is not a lead field.")
        elif target in used:
            first = used[target]
            errors.append(
                f"{target_label(target)} is filled from two columns: {first + 1} “{column_name(headers, first)}” "
                f"and {position + 1} “{name}”; ignore one of them."
            )
        else:
            used[target] = position
    return errors


def target_label(target: str) -> str:
    if target.startswith(PROFILE_PREFIX):
        return f"Profile: {target[len(PROFILE_PREFIX) :]}"
    if target.startswith(CUSTOM_PREFIX):
        return target[len(CUSTOM_PREFIX) :]
    return FIXED_LABELS.get(target, target)


# --- owners ----------------------------------------------------------------------------------------


class OwnerIndex:
    """The company's active members by email and by display name (what the lead list shows and
    exports write in the Owner column), both case-insensitive, read with one query."""

    def __init__(self, company: Company):
        members = list(Membership.objects.filter(company=company, is_active=True).select_related("user"))
        self.by_email = {member.user.email.casefold(): member for member in members}
        self.by_name: dict[str, list[Membership]] = {}
        for member in members:
            self.by_name.setdefault(member.display_name.casefold(), []).append(member)

    def find(self, text: str) -> tuple[Membership | None, str]:
        """(the member ``text`` names by email or display name, "") or (None, why not). A name two
        members share names neither: the email says which."""
        wanted = text.strip().casefold()
        member = self.by_email.get(wanted)
        named = [member] if member is not None else self.by_name.get(wanted, [])
        if len(named) == 1:
            return named[0], ""
        if named:
            return None, f"{len(named)} members are called “{text}”: give the owner's email instead."
        if "@" in text:
            return None, f"No active member of this company has the email “{text}”."
        return None, f"No active member of this company has the email or name “{text}”."


# --- options ---------------------------------------------------------------------------------------


@dataclass
class ImportOptions:
    on_duplicate: str = DuplicatePolicy.SKIP
    skip_invalid: bool = False
    dry_run: bool = False
    campaign_id: int | None = None
    lead_source: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> ImportOptions:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def clean_options(company: Company, actor: Membership | None, options: ImportOptions, file_format: str) -> None:
    errors: dict[str, list[str]] = {}
    if options.on_duplicate not in DuplicatePolicy.values:
        errors["on_duplicate"] = [f"Choose one of {', '.join(DuplicatePolicy.values)}."]
    elif options.on_duplicate in (DuplicatePolicy.CREATE, DuplicatePolicy.FLAG) and not dedup.can_create_anyway(actor):
        errors["on_duplicate"] = ["Only managers and admins may import duplicates (create or flag)."]
    if options.campaign_id is not None and not Campaign.objects.filter(company=company, pk=options.campaign_id):
        errors["campaign"] = ["Choose a campaign of this company."]
    if file_format == ImportFormat.JSONL and options.campaign_id is None:
        errors["campaign"] = ["Choose the campaign these scraped profiles belong to."]
    if len(options.lead_source) > 100:
        errors["lead_source"] = ["Keep the lead source under 100 characters."]
    if errors:
        raise ValidationError(errors)
