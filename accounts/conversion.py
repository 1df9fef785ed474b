"""Account-first conversion of a lead: find the account (and contact) it belongs to before creating
anything, fill only what is empty on existing records, and convert each lead once only.

* ``account_matches`` — the company's accounts that may be the lead's company: the same corporate
  email domain (free mail never counts), the same normalised name ('ACME, Inc.' = 'Acme'), or a
  similar name (rapidfuzz over the accounts sharing the name's prefix, never a full scan).
* ``conversion_eligibility`` — why a lead may not be converted yet (status, qualification, lead
  score); a manager may override the qualification and the score with a note.
* ``lead_convert`` — the conversion, in one transaction under a lock on the lead: account, contact,
  optional opportunity, a "Lead converted" activity, the lead moved to converted through the
  workflow and one ``LeadConversion`` row. A second conversion raises ``AlreadyConverted``.
* ``leads_convert_many`` — the bulk conversion's step (``leads.bulk``), all-or-nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rapidfuzz import fuzz, process

from accounts import services
from accounts.models import Account, Contact, ContactRole, LeadConversion, LifecycleStage
from accounts.qualification import check_live, locked_lead, settings_for
from accounts.queries import accounts_visible_to
from accounts.services.common import Errors, add_error, check_actor, company_object, raise_if
from accounts.services.records import DOMAIN
from accounts.validation import parse_amount, parse_date
from crm.models import Activity, ActivityKind, Membership
from crm.permissions import permissions_for
from leads import dedup, normalize
from leads.models import Lead, LeadStatus, StatusTransition
from leads.workflow import CONVERSION_TARGET, check_transition, is_conversion_target

MATCH_LIMIT = 10
FUZZY_ROWS = 2000  # accounts of a name block scored at most
PREFIX = 3  # the fuzzy block: accounts whose normalised name starts like the lead's company
DEFAULT_CLOSE_DAYS = 90
OPPORTUNITY_KEYS = ("name", "amount", "close_date")
QUALIFIED = "qualified"
ALREADY = "This lead was already converted on {at:%Y-%m-%d %H:%M} into {account}."


# --- matching ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountMatch:
    account: Account
    score: int  # 100: same domain or same name; fuzzy matches stay below
    reasons: tuple[str, ...]
    visible: bool = True

    @property
    def exact(self) -> bool:
        return self.score == 100


def lead_domain(lead: Lead, rule=None) -> str:
    """The lead's corporate email domain; '' for free mail (gmail.com, the company's own list …)."""
    domain = normalize.email_domain(lead.email)
    free = dedup.free_mail_domains(rule or dedup.rule_for(lead.company_id))
    return "" if domain in free else domain


def _prefix_block(core: str) -> Q:
    """Accounts whose name key starts with the first letters of ``core``: a range on the indexed
    (company, company_key) column, which SQLite and PostgreSQL both read as an index range."""
    prefix = core.split()[0][:PREFIX]
    return Q(company_key__gte=prefix, company_key__lt=prefix[:-1] + chr(ord(prefix[-1]) + 1))


def account_matches(
    lead: Lead, *, membership: Membership | None = None, limit: int = MATCH_LIMIT, fuzzy: bool = True
) -> list[AccountMatch]:
    """The accounts that may be the lead's company, best first (``fuzzy=False``: the exact ones
    only). With ``membership``, each says whether that member can see it (pages list the visible
    ones and count the others)."""
    rule = dedup.rule_for(lead.company_id)
    accounts = Account.objects.filter(company_id=lead.company_id)
    domain, key = lead_domain(lead, rule), normalize.company_key(lead.company_name)
    found: dict[int, AccountMatch] = {}
    exact = (Q(domain_key=domain) if domain else Q()) | (Q(company_key=key) if key else Q())
    if exact:
        for account in accounts.filter(exact).order_by("name", "id")[:limit]:
            reasons = (f"same email domain {domain}",) if domain and account.domain_key == domain else ()
            reasons += ("same name",) if key and account.company_key == key else ()
            found[account.pk] = AccountMatch(account, 100, reasons)
    core = dedup.company_core(key)
    if fuzzy and core and len(found) < limit:
        rows = accounts.filter(_prefix_block(core)).exclude(pk__in=found).order_by("company_key")
        names = {pk: dedup.company_core(name) for pk, name in rows.values_list("pk", "company_key")[:FUZZY_ROWS]}
        close = process.extract(core, names, scorer=fuzz.ratio, score_cutoff=rule.company_threshold,
                                limit=limit - len(found))  # fmt: skip
        by_pk = Account.objects.in_bulk([pk for _, _, pk in close])
        for _, score, pk in close:
            percent = min(int(score + 0.5), 99)
            found[pk] = AccountMatch(by_pk[pk], percent, (f"similar name ({percent} %)",))
    matches = sorted(found.values(), key=lambda m: (-m.score, -len(m.reasons), m.account.name, m.account.pk))
    if membership is None or not matches:
        return matches
    seen = set(accounts_visible_to(membership).filter(pk__in=found).values_list("pk", flat=True))
    return [AccountMatch(m.account, m.score, m.reasons, m.account.pk in seen) for m in matches]


# --- eligibility ------------------------------------------------------------------------------------------


@dataclass
class Eligibility:
    """Why the lead may not be converted (field → message), and whether it is an old converted
    lead without an account (converted before conversions existed: managers may link one)."""

    problems: dict[str, str] = field(default_factory=dict)
    legacy: bool = False
    overridable: bool = False

    @property
    def eligible(self) -> bool:
        return not self.problems


def is_legacy(lead: Lead) -> bool:
    return lead.converted_at is not None or is_conversion_target(lead.status)


def conversion_eligibility(lead: Lead) -> Eligibility:
    """A lead is eligible when its status is qualified, its latest qualification says qualified
    and its lead score reaches the company's minimum (if any)."""
    if is_legacy(lead):
        return Eligibility(legacy=True)
    problems = {}
    if lead.status.key != QUALIFIED:
        problems["status"] = f"The lead is {lead.status.name}; only a qualified lead can be converted."
    settings = settings_for(lead.company_id)
    qualification = getattr(lead, "qualification", None) if lead.pk else None
    if qualification is None:
        problems["qualification"] = "The lead has no qualification yet: fill in its scorecard."
    elif not qualification.is_qualified:
        problems["qualification"] = (
            f"Its latest qualification scored {qualification.score} "
            f"({qualification.get_recommendation_display().lower()}); {settings.qualified_at} qualifies."
        )
    if settings.min_lead_score is not None and lead.score < settings.min_lead_score:
        problems["score"] = (
            f"Its lead score is {lead.score}; the company converts leads from {settings.min_lead_score}."
        )
    return Eligibility(problems, overridable=bool(problems) and "status" not in problems)


# --- the conversion ---------------------------------------------------------------------------------------


class AlreadyConverted(Exception):  # noqa: N818 — a state, not a failure of the caller
    """The lead has a conversion already (the API answers 409 with it)."""

    def __init__(self, conversion: LeadConversion):
        self.conversion = conversion
        super().__init__(ALREADY.format(at=timezone.localtime(conversion.converted_at), account=conversion.account))


@dataclass
class ConversionResult:
    conversion: LeadConversion
    account_created: bool = False
    contact_created: bool = False
    matched_by: tuple[str, ...] = ()
    filled: dict[str, list[str]] = field(default_factory=dict)


def _owner_for(lead: Lead, actor: Membership) -> Membership:
    """New records belong to the lead's owner (the guide's account owner), else to the converter."""
    owner = lead.owner
    return owner if owner is not None and owner.is_active else actor


def _conversion_status(lead: Lead) -> LeadStatus | None:
    """The converted status the workflow reaches from the lead's status (any one, if none does)."""
    statuses = LeadStatus.objects.filter(CONVERSION_TARGET, company_id=lead.company_id, is_active=True)
    reachable = StatusTransition.objects.filter(from_status_id=lead.status_id, to_status__in=statuses)
    rule = reachable.select_related("to_status").first()
    return rule.to_status if rule is not None else statuses.first()


def _check_convertible(lead: Lead, actor: Membership, override_note: str, errors: Errors) -> LeadStatus | None:
    """The eligibility (or a manager's override) and the workflow's own check of the move."""
    check_live(lead, errors)
    if errors:
        return None
    eligibility = conversion_eligibility(lead)
    may_override = "leads.convert_override" in permissions_for(actor.role)
    if eligibility.legacy:
        if not may_override:
            raise PermissionDenied("Only managers and admins convert a lead that was marked converted before.")
        return None
    if override_note and not may_override:
        raise PermissionDenied("Only managers and admins override the conversion eligibility.")
    problems = dict(eligibility.problems)
    if override_note and eligibility.overridable:
        problems = {}
    for name, message in problems.items():
        add_error(errors, name, message)
    target = _conversion_status(lead)
    if target is None:
        add_error(errors, "status", "The company has no active converted status.")
    elif not errors:
        try:
            check_transition(lead=lead, to_status=target, actor=actor, note=override_note, conversion=True)
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                errors.setdefault(name, []).extend(messages)
    return target


def _pick_account(lead: Lead, actor: Membership, account, new_account: bool, errors: Errors):
    """(the chosen account or None to create one, why it was chosen)."""
    if account not in (None, "") and new_account:
        add_error(errors, "new_account", "Pick an account or create a new one, not both.")
        return None, ()
    if account not in (None, ""):
        chosen = company_object(Account.objects.filter(company_id=lead.company_id), account, "account_id", errors,
                                label="account")  # fmt: skip
        return chosen, ("chosen",)
    matches = account_matches(lead, membership=actor, fuzzy=False)  # only an exact match is taken unasked
    hidden = [m for m in matches if not m.visible]
    visible = [m for m in matches if m.visible]
    if visible and not new_account:
        return visible[0].account, visible[0].reasons
    if hidden and not visible:
        reasons = " and ".join(dict.fromkeys(r for m in hidden for r in m.reasons))
        add_error(errors, "account_id", f"An account you cannot see matches this lead ({reasons}): ask a manager "
                                        "to convert it, or to give you that account.")  # fmt: skip
    return None, ()


def _pick_contact(lead: Lead, account: Account | None, contact, errors: Errors) -> Contact | None:
    if contact in (None, ""):
        if account is None or not lead.email:
            return None
        return account.contacts.filter(email_key=normalize.email_key(lead.email)).order_by("id").first()
    found = company_object(Contact.objects.filter(company_id=lead.company_id), contact, "contact_id", errors,
                           label="contact")  # fmt: skip
    if found is not None and (account is None or found.account_id != account.pk):
        add_error(errors, "contact_id", "Choose a contact of the account the lead is converted into.")
        return None
    return found


def _opportunity_data(opportunity: dict[str, Any] | None, errors: Errors) -> dict[str, Any] | None:
    if opportunity is None:
        return None
    if not isinstance(opportunity, dict):
        add_error(errors, "opportunity", "Give the opportunity as an object with name, amount and close_date.")
        return None
    for name in sorted(set(opportunity) - set(OPPORTUNITY_KEYS)):
        add_error(errors, f"opportunity.{name}", "Unknown field.")
    amount = parse_amount(opportunity.get("amount"), "opportunity.amount", errors)
    close_date = parse_date(opportunity.get("close_date"), "opportunity.close_date", errors)
    name = str(opportunity.get("name") or "").strip()
    if len(name) > 200:
        add_error(errors, "opportunity.name", "Keep the name under 200 characters.")
    return {"name": name, "amount": amount, "close_date": close_date}


def _prefixed(error: ValidationError, prefix: str) -> ValidationError:
    return ValidationError({f"{prefix}.{name}": messages for name, messages in error.message_dict.items()})


def _contact_values(lead: Lead) -> dict[str, Any]:
    role = lead.authority_level if lead.authority_level in ContactRole.values else ""
    return {"first_name": lead.first_name, "last_name": lead.last_name, "email": lead.email, "phone": lead.phone_key,
            "job_title": lead.job_title, "role": role, "opt_in_date": lead.opt_in_date}  # fmt: skip


def _fill(record, values: dict[str, Any]) -> dict[str, Any]:
    """The values for the fields of ``record`` that are empty; nothing already there is overwritten."""
    return {name: value for name, value in values.items() if value not in (None, "") and not getattr(record, name)}


def _create_or_fill(prefix: str, record, values: dict[str, Any], *, create, update):
    """(the record, whether it was created, the empty fields filled): ``create()`` when there is no
    ``record``, else ``update(fill)`` with the values of its empty fields. Errors name ``prefix.field``."""
    try:
        if record is None:
            return create(), True, []
        fill = _fill(record, values)
        return (update(fill) if fill else record), False, sorted(fill)
    except ValidationError as error:
        raise _prefixed(error, prefix) from None


def _write_account(lead: Lead, actor: Membership, account: Account | None) -> tuple[Account, bool, list[str]]:
    domain = lead_domain(lead)
    values = {"domain": domain if DOMAIN.match(domain) else "", "owner": _owner_for(lead, actor)}
    new = {"name": lead.company_name or values["domain"] or lead.display_name, "country": lead.country,
           "lifecycle_stage": LifecycleStage.SQA, **values}  # fmt: skip
    return _create_or_fill(
        "account", account, values,
        create=lambda: services.account_create(actor=actor, company=lead.company, data=new),
        update=lambda fill: services.account_update(actor=actor, account=account, data=fill),
    )  # fmt: skip


def _write_contact(lead: Lead, actor: Membership, account: Account, contact: Contact | None):
    values = _contact_values(lead)

    def create() -> Contact:
        primary = not account.contacts.filter(is_primary=True).exists()
        data = {**values, "account": account, "owner": _owner_for(lead, actor), "is_primary": primary,
                "gdpr_consent": lead.gdpr_consent, "dnd": lead.dnd}  # fmt: skip
        if not (lead.first_name or lead.last_name):  # a lead known by email or phone only
            data["last_name"] = lead.display_name
        return services.contact_create(actor=actor, company=lead.company, data=data)

    return _create_or_fill("contact", contact, values, create=create,
                           update=lambda fill: services.contact_update(actor=actor, contact=contact, data=fill))  # fmt: skip


def _write_opportunity(lead: Lead, actor: Membership, account: Account, contact: Contact, values: dict):
    name = values["name"] or (f"{account.name}: {lead.interest_product}" if lead.interest_product else account.name)
    data = {"name": name[:200], "account": account, "primary_contact": contact, "owner": _owner_for(lead, actor),
            "amount": values["amount"] or 0, "source": lead.lead_source, "lead": lead,
            "close_date": values["close_date"] or timezone.localdate() + dt.timedelta(days=DEFAULT_CLOSE_DAYS)}  # fmt: skip
    try:
        return services.opportunity_create(actor=actor, company=lead.company, data=data)
    except ValidationError as error:
        raise _prefixed(error, "opportunity") from None


def _system_event(record, actor: Membership, event: str, subject: str, notes: str = "", **data) -> Activity:
    return Activity.objects.create(
        company_id=record.company_id, content_type=ContentType.objects.get_for_model(record), object_id=record.pk,
        kind=ActivityKind.SYSTEM, event=event, subject=subject, notes=notes, owner=actor, data=data,
    )  # fmt: skip


@transaction.atomic
def lead_convert(
    *,
    actor: Membership,
    lead: Lead,
    account: Account | int | None = None,
    new_account: bool = False,
    contact: Contact | int | None = None,
    opportunity: dict[str, Any] | None = None,
    override_note: str = "",
) -> ConversionResult:
    """Convert ``lead`` into ``account`` (or, without one, the visible account matching it exactly,
    else a new account; ``new_account`` creates one anyway), reusing the account's contact with the
    lead's email (or ``contact``), with an optional ``opportunity`` ({name, amount, close_date}).

    Runs once per lead: the lead row is locked and re-read, and a lead converted already raises
    ``AlreadyConverted``. Field errors (``ValidationError``) and refusals (``PermissionDenied``)
    change nothing."""
    check_actor(actor, lead.company_id)
    if "leads.convert" not in permissions_for(actor.role):
        raise PermissionDenied
    lead = locked_lead(lead)
    existing = LeadConversion.objects.filter(lead_id=lead.pk).select_related("account").first()
    if existing is not None:
        raise AlreadyConverted(existing)
    override_note = (override_note or "").strip()
    errors: Errors = {}
    target = _check_convertible(lead, actor, override_note, errors)
    chosen, matched_by = _pick_account(lead, actor, account, new_account, errors) if not errors else (None, ())
    known_contact = _pick_contact(lead, chosen, contact, errors)
    opportunity_values = _opportunity_data(opportunity, errors)
    raise_if(errors)

    chosen, account_created, account_filled = _write_account(lead, actor, chosen)
    person, contact_created, contact_filled = _write_contact(lead, actor, chosen, known_contact)
    deal = _write_opportunity(lead, actor, chosen, person, opportunity_values) if opportunity_values else None
    note = f"Lead #{lead.pk} {lead.display_name} converted" + (f" (override: {override_note})" if override_note else "")
    _system_event(chosen, actor, "accounts.lead.converted", "Lead converted", note, lead=lead.pk)
    if target is not None:
        from leads.services import lead_transition

        lead = lead_transition(actor=actor, lead=lead, to_status=target, note=override_note, conversion=True)
    conversion = LeadConversion.objects.create(
        company_id=lead.company_id, lead=lead, account=chosen, contact=person, opportunity=deal, converted_by=actor,
        converted_at=lead.converted_at or timezone.now(),
    )  # fmt: skip
    _system_event(lead, actor, "accounts.lead.converted", f"Converted into account {chosen.name}", note,
                  account=chosen.pk, contact=person.pk, opportunity=deal.pk if deal else None)  # fmt: skip
    filled = {"account": account_filled, "contact": contact_filled}
    return ConversionResult(conversion, account_created, contact_created, matched_by, filled)


# --- bulk -------------------------------------------------------------------------------------------------


def leads_convert_many(*, actor: Membership, leads: list[Lead]) -> list[str]:
    """Convert each lead (accounts picked by exact domain/name match, created otherwise); the
    leads that cannot be converted, with why. The caller rolls everything back when any cannot."""
    offenders = []
    for lead in leads:
        try:
            lead_convert(actor=actor, lead=lead)
        except AlreadyConverted:
            offenders.append(f"#{lead.pk} {lead.display_name} (already converted)")
        except (ValidationError, PermissionDenied) as error:
            why = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            offenders.append(f"#{lead.pk} {lead.display_name} ({why})")
    return offenders


BULK_OPERATION = "convert"


def _bulk_apply(job, actor: Membership, leads: list[Lead], reason: str) -> list[str]:
    return leads_convert_many(actor=actor, leads=leads)


def register_bulk_operation() -> None:
    """The managers' bulk conversion runs as a ``leads.bulk`` job: the lead set fixed when it starts,
    chunks locked, one transaction (all or nothing), a worker and a progress bar for large ones."""
    from leads import bulk

    bulk.EXTRA_OPERATIONS[BULK_OPERATION] = bulk.ExtraOperation(
        label="Convert", permission="leads.convert_override", clean=lambda actor, params: {}, apply=_bulk_apply
    )
