"""Duplicate detection: the per-save check and the batch scan that fills the review queue.

Contract used by ``leads.services`` on create and edit:

* ``check_before_save(lead, *, actor, allow_duplicates) -> list[Match]`` runs after validation and
  normalisation, before save. It returns the candidate matches (with reasons and score); when an
  exact match exists and the actor may not "create anyway" (``allow_duplicates`` false, or an
  actor without ``leads.merge``) it raises ``ValidationError`` naming the matching lead(s) under
  the field that matched (``{"email": ["Same email as Ana Souza (#123)."]}``).
* ``after_save(lead, matches, *, actor) -> None`` runs after save in the same transaction and puts
  the matches in the review queue (a pair created anyway is flagged as such).

How matches are found — never all pairs:

* exact: equal stored, indexed keys (``email_key``, ``phone_key``, ``profile_url_key``) and the
  custom fields the company's rule names;
* fuzzy: only leads that share a blocking key are compared — the same company "core" (split by
  the first or last name's initial when the company is large), the same person name (then the
  companies are compared), the same corporate email domain for a lead without a person name —
  with rapidfuzz (``cdist`` in the scan, ``extract`` in the check) and a ``score_cutoff``. The
  per-save check reads its blocks through the (company, key) indexes, one ``UNION`` statement.

A similar name is never enough when an identifier contradicts it: different profile URLs,
different phone numbers, or different mailboxes at the same company domain. Free-mail domains
(gmail.com, outlook.com, …, plus the rule's own list) never count as a shared company domain; in
the batch scan a domain that leads of many different companies use is treated the same way.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from rapidfuzz import fuzz, process

from crm.history import record
from crm.models import Company, Membership
from crm.permissions import permissions_for
from leads import normalize
from leads.models import CandidateSource, CandidateStatus, CustomField, DuplicateCandidate, DuplicateRule, Lead
from leads.queries import leads_visible_to

_FREE_MAIL = """
    gmail.com googlemail.com outlook.com hotmail.com hotmail.co.uk hotmail.fr hotmail.de hotmail.it
    hotmail.es live.com live.co.uk live.fr msn.com outlook.fr outlook.de outlook.es yahoo.com
    yahoo.co.uk yahoo.fr yahoo.de yahoo.es yahoo.it yahoo.co.in yahoo.com.br ymail.com rocketmail.com
    icloud.com me.com mac.com aol.com proton.me protonmail.com pm.me gmx.com gmx.de gmx.net gmx.at
    gmx.ch web.de t-online.de freenet.de mail.com email.com zoho.com zohomail.com yandex.com
    yandex.ru mail.ru bk.ru inbox.ru list.ru qq.com 163.com 126.com sina.com naver.com daum.net
    orange.fr wanadoo.fr free.fr laposte.net sfr.fr libero.it virgilio.it tiscali.it alice.it
    btinternet.com sky.com virginmedia.com ntlworld.com talktalk.net fastmail.com fastmail.fm hey.com
    tutanota.com tuta.io seznam.cz wp.pl o2.pl onet.pl interia.pl rediffmail.com uol.com.br
    bol.com.br terra.com.br ig.com.br hushmail.com mailbox.org posteo.de telenet.be skynet.be
    bigpond.com optusnet.com.au shaw.ca rogers.com sympatico.ca comcast.net verizon.net att.net
    sbcglobal.net cox.net charter.net earthlink.net juno.com
"""
FREE_MAIL_DOMAINS = frozenset(_FREE_MAIL.split())
# Words that say what kind of company it is, not which: dropped from the company "core" used for
# blocking and comparison, on top of the legal suffixes that ``normalize.company_key`` drops.
GENERIC_COMPANY_WORDS = frozenset({"group", "holding", "holdings", "aktiebolag", "gruppe", "groupe", "grupo"})
SHARED_DOMAIN_COMPANIES = 10  # a domain used by leads of more distinct companies is not a company's
MAX_EXACT_GROUP = 50  # a key shared by more leads is paired star-wise (first lead ↔ each other)
MAX_NAME_GROUP = 200  # larger groups of one person name are compared through the company blocks only
MAX_BLOCK = 250  # a company with more leads is split into blocks by name initials
SMALL_BLOCK = 12  # blocks up to this size are compared pair by pair, larger ones with cdist
CHECK_FUZZY_ROWS = 5000  # (id, name) rows the per-save check reads at most from its fuzzy blocks
CHECK_EXACT_ROWS = 200  # leads sharing an exact key that the per-save check looks at, at most
CHECK_CLOSE_NAMES = 50  # closest names of the fuzzy blocks that the per-save check looks at, at most
CHECK_MATCHES = 10  # matches the per-save check returns at most
EXACT_FIELDS = (("email_key", "email", "same email"), ("phone_key", "phone", "same phone"),
                ("profile_url_key", "profile_url", "same profile URL"))  # fmt: skip
RULE_FLAGS = {"email_key": "match_email", "phone_key": "match_phone", "profile_url_key": "match_profile_url"}
_SINGLE_LETTERS = re.compile(r"\b(?:[a-z] )+[a-z]\b")


# --- rules --------------------------------------------------------------------------------------


def rule_for(company: Company | int) -> DuplicateRule:
    """The company's duplicate rule; an unsaved rule with the defaults when it has none."""
    company_id = getattr(company, "pk", company)
    rule = DuplicateRule.objects.filter(company_id=company_id).first()
    return rule or DuplicateRule(company_id=company_id)


def exact_key_fields(company) -> list[str]:
    """The stored match keys whose equality makes an exact duplicate for ``company`` (per its rules)."""
    rule = company if isinstance(company, DuplicateRule) else rule_for(company)
    return [key for key, flag in RULE_FLAGS.items() if getattr(rule, flag)]


def free_mail_domains(rule: DuplicateRule) -> frozenset[str]:
    extra = {str(d).strip().lower().lstrip("@") for d in rule.free_mail_domains or [] if str(d).strip()}
    return FREE_MAIL_DOMAINS | extra


def can_create_anyway(actor: Membership | None) -> bool:
    """Who may save a lead despite an exact duplicate (and so flag the pair): whoever may merge
    (managers and admins), and system writers (imports, commands) that pass no actor."""
    return actor is None or "leads.merge" in permissions_for(actor.role)


# --- keys ---------------------------------------------------------------------------------------


def company_core(company_key: str) -> str:
    """The company key without dotted abbreviations' spaces, legal suffixes or generic words:
    'acme l l c' → 'acme', 'acme group' → 'acme' (used to block and compare companies)."""
    if not company_key:
        return ""
    key = _SINGLE_LETTERS.sub(lambda m: m.group(0).replace(" ", ""), company_key)
    words = key.split()
    while len(words) > 1 and (words[-1] in normalize.LEGAL_SUFFIXES or words[-1] in GENERIC_COMPANY_WORDS):
        words.pop()
    return " ".join(words)


def sorted_name(name_key: str) -> str:
    """The person name with its words sorted, so 'smith john' and 'john smith' compare equal."""
    return " ".join(sorted(name_key.split())) if name_key else ""


def initials(name_key: str) -> tuple[str, str]:
    words = name_key.split()
    if not words:
        return "", ""
    return words[0][0], words[-1][0]


def email_domain(email_key: str) -> str:
    return email_key.rsplit("@", 1)[1] if "@" in email_key else ""


@dataclass(slots=True)
class Keys:
    """What matching needs to know about one lead."""

    id: int
    email_key: str = ""
    phone_key: str = ""
    profile_url_key: str = ""
    company_key: str = ""
    name_key: str = ""
    custom: dict = field(default_factory=dict)
    core: str = ""
    name: str = ""
    domain: str = ""

    @classmethod
    def build(cls, pk, email_key, phone_key, profile_url_key, company_key, name_key, custom=None, *, free=()):
        domain = email_domain(email_key)
        return cls(
            pk or 0, email_key, phone_key, profile_url_key, company_key, name_key, custom or {},
            company_core(company_key), sorted_name(name_key), "" if domain in free else domain,
        )  # fmt: skip


# --- matches ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    code: str  # email, phone, profile_url, custom:<key>, name_company, company_domain
    label: str  # "same phone", "name 94% + same company"
    score: int

    @property
    def exact(self) -> bool:
        return self.score == 100 and self.code not in ("name_company", "company_domain")

    @property
    def field(self) -> str:
        """The lead field this reason points at (where a form shows it)."""
        if self.code.startswith("custom:"):
            return f"custom_fields.{self.code[7:]}"
        return self.code if self.code in ("email", "phone", "profile_url") else "__all__"

    def as_dict(self) -> dict:
        return {"code": self.code, "label": self.label, "score": self.score}


@dataclass(frozen=True)
class Match:
    """A lead that may be the same person as the one being saved. A converted one (a returning
    customer) is shown as "converted before" but never blocks a new lead (the guide's 3.1)."""

    lead_id: int
    name: str
    reasons: tuple[Reason, ...]
    visible: bool = True
    owner_name: str = ""
    converted: bool = False

    @property
    def score(self) -> int:
        return max(reason.score for reason in self.reasons)

    @property
    def exact(self) -> bool:
        """An exact duplicate, which blocks saving (converted leads never do)."""
        return not self.converted and any(reason.exact for reason in self.reasons)

    @property
    def reason_text(self) -> str:
        return " · ".join([reason.label for reason in self.reasons] + (["converted before"] if self.converted else []))

    @property
    def label(self) -> str:
        """How messages name the lead: by name when the actor can see it; a lead they cannot see
        stays anonymous (neither its name nor its owner)."""
        if self.visible:
            return f"{self.name} (#{self.lead_id})"
        return "a lead you cannot see"


def _percent(value: float) -> int:
    return int(value + 0.5)


def evaluate(rule: DuplicateRule, a: Keys, b: Keys, labels: dict[str, str] | None = None) -> list[Reason]:
    """Why ``a`` and ``b`` are duplicates under ``rule`` (empty: they are not)."""
    reasons = []
    for key, code, label in EXACT_FIELDS:
        value = getattr(a, key)
        if value and value == getattr(b, key) and getattr(rule, RULE_FLAGS[key]):
            reasons.append(Reason(code, label, 100))
    for key in rule.custom_field_keys or []:
        value = a.custom.get(key)
        if value not in (None, "") and str(value).strip().lower() == str(b.custom.get(key, "")).strip().lower():
            reasons.append(Reason(f"custom:{key}", f"same {(labels or {}).get(key, key)}", 100))
    fuzzy = _fuzzy_reason(rule, a, b)
    if fuzzy is not None:
        reasons.append(fuzzy)
    return reasons


def contradiction(a: Keys, b: Keys, *, person: bool = True) -> str:
    """Why two leads are certainly not one person, whatever their names say: different profile
    URLs, different phone numbers, or (for people) different mailboxes at the same company domain."""
    if a.profile_url_key and b.profile_url_key and a.profile_url_key != b.profile_url_key:
        return "different profile URLs"
    if a.phone_key and b.phone_key and a.phone_key != b.phone_key:
        return "different phones"
    if person and a.domain and a.domain == b.domain and a.email_key != b.email_key:
        return "different emails at the same company"
    return ""


def _fuzzy_reason(rule: DuplicateRule, a: Keys, b: Keys) -> Reason | None:
    """Similar person name at a similar company; or, for a lead without a person name, a similar
    company with the same corporate email domain. Never when an identifier contradicts it."""
    if not (a.core and b.core):
        return None
    company = 100.0 if a.core == b.core else fuzz.ratio(a.core, b.core, score_cutoff=rule.company_threshold)
    if not company:
        return None
    company_text = "same company" if company == 100 else f"company {_percent(company)}%"
    if a.name and b.name:
        if not rule.match_name_company:
            return None
        name = fuzz.ratio(a.name, b.name, score_cutoff=rule.name_threshold)
        if not name or contradiction(a, b):
            return None
        score = _percent((2 * name + company) / 3)
        return Reason("name_company", f"name {_percent(name)}% + {company_text}", min(score, 99))
    if rule.match_company_domain and a.domain and a.domain == b.domain and not contradiction(a, b, person=False):
        return Reason("company_domain", f"{company_text} + same email domain {a.domain}", min(_percent(company), 90))
    return None


# --- the per-save check -------------------------------------------------------------------------

_COLUMNS = ("id", "email_key", "phone_key", "profile_url_key", "company_key", "name_key")
# What matching and its messages read of a candidate (not the scraped profile or the score detail).
_MATCH_FIELDS = (*_COLUMNS, "company_id", "merged_into_id", "is_deleted", "converted_at", "first_name", "last_name", "email", "phone", "profile_url", "custom_fields",
                 "owner__user__full_name", "owner__user__email")  # fmt: skip


def _live(company_id: int):
    return Lead.objects.filter(company_id=company_id, merged_into__isnull=True, is_deleted=False)


def _arms(lead: Lead, rule: DuplicateRule, domain: str) -> tuple[list[tuple[str, list]], list[tuple[str, list]]]:
    """The per-save check's lookups as (SQL condition, parameters), exact ones then fuzzy blocks.

    Exact: each enabled key. Fuzzy blocks: the same company narrowed to names sharing the first or
    the last name's initial (as in the batch scan; the narrowing runs inside the database), the same
    person name, and nameless leads of the same company and corporate domain."""
    like = connection.ops.prep_for_like_query
    exact = [(f"{key} = %s", [getattr(lead, key)]) for key in exact_key_fields(rule) if getattr(lead, key)]
    fuzzy = []
    if lead.company_key and rule.match_name_company and lead.name_key:
        first, last = initials(lead.name_key)
        fuzzy.append(("company_key = %s AND (name_key LIKE %s ESCAPE '\\' OR name_key LIKE %s ESCAPE '\\')",
                      [lead.company_key, f"{like(first)}%", f"% {like(last)}%"]))  # fmt: skip
        fuzzy.append(("name_key = %s", [lead.name_key]))
    if lead.company_key and rule.match_company_domain and domain:
        nameless = " AND name_key = ''" if lead.name_key else ""
        fuzzy.append((f"company_key = %s{nameless} AND email_key LIKE %s ESCAPE '\\'",
                      [lead.company_key, f"%@{like(domain)}"]))  # fmt: skip
    return exact, fuzzy


def _select(lead: Lead, arms: list[tuple[str, list]], columns: tuple[str, ...], limit: int) -> list[tuple]:
    """``SELECT … WHERE arm1 UNION SELECT … WHERE arm2 …`` in one statement: each arm is planned on
    its own (company, key) index, where an ``OR`` of the arms would make SQLite scan the company.
    Raw SQL because building it through the ORM costs more than running it."""
    if not arms:
        return []
    table = connection.ops.quote_name(Lead._meta.db_table)
    # Tombstones and deleted leads are left out in the second step, so that with an index on
    # (company, company_key, name_key) this step reads the index alone.
    head = f"SELECT {', '.join(columns)} FROM {table} WHERE company_id = %s AND id <> %s AND "  # noqa: S608
    base = [lead.company_id, lead.pk or 0]
    sql = " UNION ".join(head + condition for condition, _ in arms) + f" LIMIT {int(limit)}"
    params = [value for _, arm_params in arms for value in (*base, *arm_params)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _custom_ids(lead: Lead, rule: DuplicateRule) -> list[int]:
    """Leads with an equal value in a custom field the rule names (JSON: not indexed, so this scans
    the company's rows; only run when the rule names custom fields)."""
    query = Q()
    for key in rule.custom_field_keys or []:
        value = (lead.custom_fields or {}).get(key)
        if value not in (None, ""):
            query |= Q(**{f"custom_fields__{key}": value})
    if not query:
        return []
    live = _live(lead.company_id).exclude(pk=lead.pk or 0).filter(query).order_by()
    return list(live.values_list("pk", flat=True)[:CHECK_EXACT_ROWS])


def _close_names(probe: Keys, rows: list[tuple[int, str]], cutoff: int) -> list[int]:
    """The ids of the fuzzy-block rows (id, name key) worth a full look: similar person names
    (compared in one vectorised call) and rows where one side has no person name."""
    if not probe.name_key:
        return [pk for pk, _ in rows]
    close = process.extract(probe.name_key, [name for _, name in rows], scorer=fuzz.token_sort_ratio,
                            score_cutoff=cutoff, limit=CHECK_CLOSE_NAMES)  # fmt: skip
    picked = {index for _, _, index in close} | {index for index, (_, name) in enumerate(rows) if not name}
    return [rows[index][0] for index in sorted(picked)]


def _candidate_ids(lead: Lead, rule: DuplicateRule, probe: Keys) -> list[int]:
    """The leads worth a full look, in two cheap steps: ids from the exact keys' indexes, and
    (id, name) from the fuzzy blocks, of which only the close names are kept."""
    exact, fuzzy = _arms(lead, rule, probe.domain)
    ids = [pk for (pk,) in _select(lead, exact, ("id",), CHECK_EXACT_ROWS)]
    if rule.custom_field_keys:
        ids += _custom_ids(lead, rule)
    ids += _close_names(probe, _select(lead, fuzzy, ("id", "name_key"), CHECK_FUZZY_ROWS), rule.name_threshold)
    return list(dict.fromkeys(ids))


def _keys_of_lead(lead: Lead, free) -> Keys:
    return Keys.build(lead.pk, lead.email_key, lead.phone_key, lead.profile_url_key, lead.company_key,
                      lead.name_key, lead.custom_fields, free=free)  # fmt: skip


def _found(lead: Lead, rule: DuplicateRule | None = None) -> list[tuple[Lead, list[Reason]]]:
    rule = rule or rule_for(lead.company_id)
    free = free_mail_domains(rule)
    probe = _keys_of_lead(lead, free)
    ids = _candidate_ids(lead, rule, probe)
    if not ids:
        return []
    # By primary key alone (a company filter would steer SQLite onto a company-wide index); the
    # other leads of the company that are live are kept.
    others = {
        other.pk: other
        for other in Lead.objects.filter(pk__in=ids).select_related("owner__user").only(*_MATCH_FIELDS)
        if other.company_id == lead.company_id and other.merged_into_id is None and not other.is_deleted
    }
    ids = [pk for pk in ids if pk in others]
    labels = _custom_labels(lead.company_id, rule)
    found = []
    for pk in ids:
        reasons = evaluate(rule, probe, _keys_of_lead(others[pk], free), labels)
        if reasons:
            found.append((others[pk], reasons))
    if lead.pk and found:
        dismissed = _dismissed_partners(lead.pk, [other.pk for other, _ in found])
        found = [(other, reasons) for other, reasons in found if other.pk not in dismissed]
    found.sort(key=lambda item: (-max(r.score for r in item[1]), item[0].pk))
    return found[:CHECK_MATCHES]


def find_matches(lead: Lead, *, rule: DuplicateRule | None = None) -> list[tuple[int, list[Reason]]]:
    """(lead id, reasons) of the leads of the company that may be duplicates of ``lead``, best
    first — the lead's own row and leads marked "not a duplicate" of it left out."""
    return [(other.pk, reasons) for other, reasons in _found(lead, rule)]


def _custom_labels(company_id: int, rule: DuplicateRule) -> dict[str, str]:
    if not rule.custom_field_keys:
        return {}
    return dict(CustomField.objects.filter(company_id=company_id).values_list("key", "label"))


def _dismissed_partners(lead_id: int, others: list[int]) -> set[int]:
    """The leads among ``others`` that a reviewer marked "not a duplicate" of ``lead_id``."""
    pairs = DuplicateCandidate.objects.filter(status=CandidateStatus.NOT_DUPLICATE).filter(
        Q(lead_a_id=lead_id, lead_b_id__in=others) | Q(lead_b_id=lead_id, lead_a_id__in=others)
    )
    return {b if a == lead_id else a for a, b in pairs.values_list("lead_a_id", "lead_b_id")}


def matches_of(lead: Lead, actor: Membership | None) -> list[Match]:
    """The possible duplicates of ``lead`` as the actor may see them (named, or by owner only)."""
    found = _found(lead)
    if not found:
        return []
    ids = [other.pk for other, _ in found]
    visible = (
        set(ids) if actor is None else set(leads_visible_to(actor).filter(pk__in=ids).values_list("pk", flat=True))
    )
    return [
        Match(other.pk, other.display_name, tuple(reasons), other.pk in visible,
              str(other.owner.user) if other.owner_id and other.pk in visible else "", other.converted_at is not None)
        for other, reasons in found
    ]  # fmt: skip


def _exact_error(matches: list[Match]) -> ValidationError:
    """One message per field: "Same email as Ana Souza (#123)." Leads the actor cannot see are
    not named: "A lead you cannot see already has this email; ask your manager." """
    by_field: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    hidden: dict[str, set[str]] = defaultdict(set)
    for match in matches:
        for reason in match.reasons:
            if reason.exact and match.visible:
                by_field[reason.field][reason.label].append(match.label)
            elif reason.exact:
                hidden[reason.field].add(reason.label.removeprefix("same "))
    errors: dict[str, list[str]] = defaultdict(list)
    for field_name, labels in by_field.items():
        errors[field_name] = [f"{label[:1].upper()}{label[1:]} as {_listed(names)}." for label, names in labels.items()]
    for field_name, names in hidden.items():
        errors[field_name] += [
            f"A lead you cannot see already has this {name}; ask your manager." for name in sorted(names)
        ]
    return ValidationError(dict(errors))


def _listed(names: list[str], shown: int = 3) -> str:
    if len(names) > shown:
        return f"{', '.join(names[:shown])} and {len(names) - shown} more"
    return " and ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} and {names[-1]}"


def check_before_save(lead: Lead, *, actor: Membership | None, allow_duplicates: bool) -> list[Match]:
    """The possible duplicates of ``lead`` (about to be saved), best first; raises a field
    ``ValidationError`` for exact matches unless the actor may and does "create anyway"."""
    matches = matches_of(lead, actor)
    exact = [match for match in matches if match.exact]
    if exact and not (allow_duplicates and can_create_anyway(actor)):
        raise _exact_error(exact)
    return matches


def after_save(lead: Lead, matches: list[Match], *, actor: Membership | None) -> None:
    """Put the matches of a lead just saved in the review queue (exact ones flagged as created
    anyway); pairs marked "not a duplicate" stay dismissed."""
    for match in matches:
        source = CandidateSource.CREATED_ANYWAY if match.exact else CandidateSource.SAVED
        candidate_record(
            company_id=lead.company_id, lead_ids=(lead.pk, match.lead_id), reasons=list(match.reasons), source=source
        )


# --- the review queue -----------------------------------------------------------------------------

QUEUE_FIELDS = ("group_key", "score", "reasons", "is_exact")


def _pending(company_id: int):
    return DuplicateCandidate.objects.filter(company_id=company_id, status=CandidateStatus.PENDING)


def queue_snapshot(company_id: int, lead_ids: list[int]) -> dict[str, dict]:
    """The pending pairs that queueing pairs among ``lead_ids`` may change (those touching them and
    every pair of their groups), as they are now: what ``queue_restore`` puts back."""
    pending = _pending(company_id)
    keys = pending.filter(Q(lead_a_id__in=lead_ids) | Q(lead_b_id__in=lead_ids)).values("group_key")
    rows = pending.filter(Q(group_key__in=keys) | Q(lead_a_id__in=lead_ids) | Q(lead_b_id__in=lead_ids))
    return {str(row["pk"]): {name: row[name] for name in QUEUE_FIELDS} for row in rows.values("pk", *QUEUE_FIELDS)}


def queue_created_since(company_id: int, lead_id: int, before: dict[str, dict]) -> list[int]:
    """The pending pairs of ``lead_id`` that were not in the ``before`` snapshot."""
    pairs = _pending(company_id).filter(Q(lead_a_id=lead_id) | Q(lead_b_id=lead_id))
    return sorted(pk for pk in pairs.values_list("pk", flat=True) if str(pk) not in before)


def queue_restore(company_id: int, before: dict[str, dict], created: list[int]) -> None:
    """Take back what queueing changed: drop the pairs it created and give the pairs it refreshed
    or regrouped their old values — only while they are still pending (a reviewed pair stays)."""
    _pending(company_id).filter(pk__in=created).delete()
    for pk, values in before.items():
        _pending(company_id).filter(pk=int(pk)).update(**values)


def candidate_record(
    *, company_id: int, lead_ids: tuple[int, int], reasons: list[Reason], source: str
) -> DuplicateCandidate | None:
    """Create or refresh the pending pair of two leads; a reviewed pair is left as it is."""
    a, b = sorted(lead_ids)
    score = max(r.score for r in reasons)
    exact = any(r.exact for r in reasons)
    candidate = DuplicateCandidate.objects.filter(lead_a_id=a, lead_b_id=b).first()
    if candidate is not None and candidate.status != CandidateStatus.PENDING:
        return None
    payload = {"score": score, "reasons": [r.as_dict() for r in reasons], "is_exact": exact}
    if candidate is None:
        candidate = DuplicateCandidate.objects.create(
            company_id=company_id, lead_a_id=a, lead_b_id=b, source=source, group_key=a, **payload
        )
        _join_groups(company_id, [a, b])
        return candidate
    DuplicateCandidate.objects.filter(pk=candidate.pk).update(**payload)
    return candidate


def _join_groups(company_id: int, lead_ids: list[int]) -> None:
    """Pending pairs touching any of ``lead_ids`` now form one group (the smallest key wins)."""
    pending = DuplicateCandidate.objects.filter(company_id=company_id, status=CandidateStatus.PENDING)
    touching = pending.filter(Q(lead_a_id__in=lead_ids) | Q(lead_b_id__in=lead_ids))
    keys = set(touching.values_list("group_key", flat=True))
    if len(keys) > 1:
        pending.filter(group_key__in=keys).update(group_key=min(keys | set(lead_ids)))


def _components(pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Lead id → the smallest lead id connected to it through ``pairs`` (union-find)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


def regroup(company_id: int, group_keys: Iterable[int] | None = None) -> int:
    """Recompute the groups (connected pending pairs) of the given groups, or of the whole
    company; returns how many pairs changed group."""
    pending = DuplicateCandidate.objects.filter(company_id=company_id, status=CandidateStatus.PENDING)
    if group_keys is not None:
        pending = pending.filter(group_key__in=list(group_keys))
    rows = list(pending.values_list("id", "lead_a_id", "lead_b_id", "group_key"))
    group_of = _components((a, b) for _, a, b, _ in rows)
    changed = [DuplicateCandidate(pk=pk, group_key=group_of[a]) for pk, a, _, key in rows if group_of[a] != key]
    DuplicateCandidate.objects.bulk_update(changed, ["group_key"], batch_size=1000)
    return len(changed)


# --- the batch scan -------------------------------------------------------------------------------


@dataclass
class Pair:
    a: int
    b: int
    reasons: list[Reason]

    @property
    def score(self) -> int:
        return max(r.score for r in self.reasons)

    def as_dict(self) -> dict:
        return {"lead_a": self.a, "lead_b": self.b, "score": self.score, "reasons": [r.as_dict() for r in self.reasons]}


@dataclass
class ScanResult:
    company: Company
    leads: int = 0
    pairs: list[Pair] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    removed: int = 0
    dismissed: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def _lead_rows(company_id: int, with_custom: bool) -> Iterator[tuple]:
    """Every live lead's keys, straight from the cursor (the ORM would triple the time at 1M)."""
    columns = [*_COLUMNS, "custom_fields"] if with_custom else list(_COLUMNS)
    queryset = _live(company_id).values_list(*columns).order_by()
    sql, params = queryset.query.sql_with_params()
    json_field = Lead._meta.get_field("custom_fields")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(20000):
            if with_custom:
                for row in chunk:
                    yield (*row[:6], json_field.from_db_value(row[6], None, connection))
            else:
                yield from chunk


class _Scanner:
    """Finds candidate pairs among all live leads of one company, in memory, block by block.

    Leads are held column-wise (lists indexed by position) so a million of them load quickly.
    """

    def __init__(self, rule: DuplicateRule, rows: Iterable[tuple]):
        self.rule = rule
        rows = list(rows)
        columns = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(7)]
        del rows  # the columns hold the same strings; the row tuples can go
        self.ids, self.emails, self.phones, self.urls, self.company_keys, self.name_keys = columns[:6]
        self.customs: list[dict] = [values or {} for values in columns[6]] if len(columns) > 6 else []
        core_of = {key: company_core(key) for key in set(self.company_keys)}
        name_of = {key: sorted_name(key) for key in set(self.name_keys)}
        self.cores = [core_of[key] for key in self.company_keys]
        self.names = [name_of[key] for key in self.name_keys]
        self.domains = self._company_domains(free_mail_domains(rule))
        self.candidates: set[tuple[int, int]] = set()

    def _company_domains(self, free: frozenset[str]) -> list[str]:
        """Each lead's corporate email domain: '' for free mail and for domains that leads of many
        different companies use (an ISP's, a free-mail provider the list does not know)."""
        domains = [email.rpartition("@")[2] for email in self.emails]
        cores_by_domain: dict[str, set[str]] = defaultdict(set)
        for domain, core in zip(domains, self.cores, strict=True):
            if domain and len(cores_by_domain[domain]) <= SHARED_DOMAIN_COMPANIES:
                cores_by_domain[domain].add(core)
        shared = {d for d, cores in cores_by_domain.items() if len(cores) > SHARED_DOMAIN_COMPANIES} | free
        return ["" if domain in shared else domain for domain in domains]

    def keys(self, i: int) -> Keys:
        return Keys(self.ids[i], self.emails[i], self.phones[i], self.urls[i], self.company_keys[i],
                    self.name_keys[i], self.customs[i] if self.customs else {}, self.cores[i], self.names[i],
                    self.domains[i])  # fmt: skip

    # exact keys: every pair of a small group, star-wise for a large one
    def exact(self) -> None:
        rule = self.rule
        columns = {"email_key": self.emails, "phone_key": self.phones, "profile_url_key": self.urls}
        for key, flag in RULE_FLAGS.items():
            if getattr(rule, flag):
                self._pair_groups(columns[key])
        for custom in rule.custom_field_keys or []:
            self._pair_groups([str(values.get(custom) or "").strip().lower() for values in self.customs])

    def _pair_groups(self, column: list[str]) -> None:
        first: dict[str, int] = {}
        repeats: dict[str, list[int]] = defaultdict(list)
        for index, value in enumerate(column):
            if value and first.setdefault(value, index) != index:
                repeats[value].append(index)
        for value, others in repeats.items():
            members = [first[value], *others]
            if len(members) > MAX_EXACT_GROUP:
                self.candidates.update((members[0], other) for other in others)
            else:
                self.candidates.update(itertools.combinations(members, 2))

    # fuzzy: names compared inside company blocks (split by initial when large), companies compared
    # inside blocks of one person name, and nameless leads inside blocks of one corporate domain
    def fuzzy(self) -> None:
        rule = self.rule
        if rule.match_name_company:
            by_core: dict[str, list[int]] = defaultdict(list)
            for index, (core, name) in enumerate(zip(self.cores, self.names, strict=True)):
                if core and name:
                    by_core[core].append(index)
            for members in by_core.values():
                if len(members) > MAX_BLOCK:
                    self._initial_blocks(members)
                elif len(members) > 1:
                    self._compare_names(members)
            self._same_names()
        if rule.match_company_domain:
            self._nameless()

    def _initial_blocks(self, members: list[int]) -> None:
        """A large company: compare names sharing the first name's or the last name's initial
        (a typo rarely hits a word's first letter)."""
        blocks: dict[tuple[int, str], list[int]] = defaultdict(list)
        for i in members:
            first, last = initials(self.name_keys[i])
            blocks[(0, first)].append(i)
            if last != first:
                blocks[(1, last)].append(i)
        for block in blocks.values():
            if len(block) > 1:
                self._compare_names(block)

    def _compare_names(self, members: list[int]) -> None:
        names, cutoff = [self.names[i] for i in members], self.rule.name_threshold
        if len(members) <= SMALL_BLOCK:  # a loop beats cdist's fixed cost on a few names
            for i, j in itertools.combinations(range(len(members)), 2):
                if fuzz.ratio(names[i], names[j], score_cutoff=cutoff):
                    self._add(members[i], members[j])
            return
        scores = process.cdist(names, names, scorer=fuzz.ratio, score_cutoff=cutoff, dtype=np.uint8, workers=1)
        rows, cols = np.nonzero(np.triu(scores, 1))
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            self._add(members[i], members[j])

    def _add(self, i: int, j: int) -> None:
        self.candidates.add((i, j) if i < j else (j, i))

    def _same_names(self) -> None:
        """Same person name, company spelled differently (blocked by the company's first three
        letters): compare the companies."""
        first: dict[tuple[str, str], int] = {}
        repeats: dict[tuple[str, str], list[int]] = defaultdict(list)
        for index, (core, name) in enumerate(zip(self.cores, self.names, strict=True)):
            if core and name and first.setdefault((name, core[:3]), index) != index:
                repeats[(name, core[:3])].append(index)
        cutoff = self.rule.company_threshold
        for block, others in repeats.items():
            members = [first[block], *others]
            if len(members) > MAX_NAME_GROUP:
                continue
            by_core: dict[str, list[int]] = defaultdict(list)
            for i in members:
                by_core[self.cores[i]].append(i)
            if len(by_core) < 2:
                continue  # the company blocks compared them already
            for core_a, core_b in itertools.combinations(by_core, 2):
                if fuzz.ratio(core_a, core_b, score_cutoff=cutoff):
                    self.candidates.update((min(i, j), max(i, j)) for i in by_core[core_a] for j in by_core[core_b])

    def _nameless(self) -> None:
        """A lead without a person name and another lead with the same corporate domain."""
        by_domain: dict[str, list[int]] = defaultdict(list)
        for index, (domain, core) in enumerate(zip(self.domains, self.cores, strict=True)):
            if domain and core:
                by_domain[domain].append(index)
        for members in by_domain.values():
            for i in members:
                if not self.names[i]:
                    self.candidates.update((min(i, j), max(i, j)) for j in members if j != i)

    def pairs(self, labels: dict[str, str]) -> list[Pair]:
        rule, found, keys = self.rule, [], {}
        for i, j in self.candidates:
            a = keys.get(i) or keys.setdefault(i, self.keys(i))
            b = keys.get(j) or keys.setdefault(j, self.keys(j))
            reasons = evaluate(rule, a, b, labels)
            if reasons:
                found.append(Pair(*sorted((a.id, b.id)), reasons))
        found.sort(key=lambda pair: (-pair.score, pair.a, pair.b))
        return found


def find_candidates(company: Company, *, rule: DuplicateRule | None = None, timings: dict | None = None) -> list[Pair]:
    """Every candidate pair among the live leads of ``company`` (no writes), best first; pairs
    already marked "not a duplicate" are left out."""
    rule = rule or rule_for(company)
    timings = timings if timings is not None else {}
    started = time.perf_counter()
    scanner = _Scanner(rule, _lead_rows(company.pk, bool(rule.custom_field_keys)))
    timings["load"] = time.perf_counter() - started
    started = time.perf_counter()
    scanner.exact()
    timings["exact"] = time.perf_counter() - started
    started = time.perf_counter()
    scanner.fuzzy()
    timings["fuzzy"] = time.perf_counter() - started
    started = time.perf_counter()
    pairs = scanner.pairs(_custom_labels(company.pk, rule))
    dismissed = set(
        DuplicateCandidate.objects.filter(company=company, status=CandidateStatus.NOT_DUPLICATE).values_list(
            "lead_a_id", "lead_b_id"
        )
    )
    pairs = [pair for pair in pairs if (pair.a, pair.b) not in dismissed]
    timings["score"] = time.perf_counter() - started
    timings["leads"] = len(scanner.ids)
    return pairs


@transaction.atomic
def duplicates_scan(*, company: Company, actor: Membership | None = None) -> ScanResult:
    """Scan the company and bring the review queue up to date: new pairs are added, pending pairs
    get their current reasons and score, pending pairs no longer found are removed; pairs a
    reviewer marked "not a duplicate" are never proposed again."""
    started = time.perf_counter()
    result = ScanResult(company=company)
    result.pairs = find_candidates(company, timings=result.timings)
    write_started = time.perf_counter()
    existing = {
        (a, b): (pk, status, reasons, group_key)
        for pk, a, b, status, reasons, group_key in DuplicateCandidate.objects.filter(company=company).values_list(
            "id", "lead_a_id", "lead_b_id", "status", "reasons", "group_key"
        )
    }
    # The queue after the scan: every pair found that is new or still pending (pending pairs of any
    # source that no longer match go); its groups are computed here, once, for the bulk writes.
    pending = [p for p in result.pairs if existing.get((p.a, p.b), (0, CandidateStatus.PENDING))[1] == "pending"]
    group_of = _components([(p.a, p.b) for p in pending])
    new, changed = [], []
    now = timezone.now()
    for pair in pending:
        known = existing.get((pair.a, pair.b))
        reasons, exact, group = (
            [r.as_dict() for r in pair.reasons],
            any(r.exact for r in pair.reasons),
            group_of[pair.a],
        )
        if known is None:
            new.append(DuplicateCandidate(
                company=company, lead_a_id=pair.a, lead_b_id=pair.b, score=pair.score, reasons=reasons,
                is_exact=exact, source=CandidateSource.SCAN, group_key=group, found_at=now,
            ))  # fmt: skip
        elif (known[2], known[3]) != (reasons, group):
            changed.append(DuplicateCandidate(pk=known[0], score=pair.score, reasons=reasons, is_exact=exact,
                                              group_key=group))  # fmt: skip
    seen = {(p.a, p.b) for p in result.pairs}
    stale = [pk for key, (pk, status, *_) in existing.items() if key not in seen and status == CandidateStatus.PENDING]
    DuplicateCandidate.objects.bulk_create(new, batch_size=2000)
    DuplicateCandidate.objects.bulk_update(changed, ["score", "reasons", "is_exact", "group_key"], batch_size=1000)
    for start in range(0, len(stale), 2000):
        DuplicateCandidate.objects.filter(pk__in=stale[start : start + 2000]).delete()
    result.created, result.updated, result.removed = len(new), len(changed), len(stale)
    result.leads = result.timings.get("leads", 0)
    result.timings["write"] = time.perf_counter() - write_started
    result.seconds = time.perf_counter() - started
    return result


# --- reads and writes for the pages -----------------------------------------------------------------

DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
RULE_FIELDS = ("match_email", "match_phone", "match_profile_url", "match_name_company", "match_company_domain",
               "name_threshold", "company_threshold", "custom_field_keys", "free_mail_domains")  # fmt: skip


def candidates_visible_to(membership: Membership):
    """Pending pairs of the member's company whose two leads the member can see (live ones)."""
    visible = leads_visible_to(membership).values("pk")
    return DuplicateCandidate.objects.filter(
        company_id=membership.company_id, status=CandidateStatus.PENDING, lead_a__in=visible, lead_b__in=visible
    )


def duplicates_of(lead: Lead, membership: Membership) -> list[tuple[DuplicateCandidate, Lead]]:
    """The lead's pending pairs, with the other lead, that the member can see; best first."""
    pairs = (
        candidates_visible_to(membership)
        .filter(Q(lead_a=lead) | Q(lead_b=lead))
        .select_related("lead_a__owner__user", "lead_b__owner__user")
    )
    found = [(pair, pair.lead_b if pair.lead_a_id == lead.pk else pair.lead_a) for pair in pairs]
    return sorted(found, key=lambda item: (-item[0].score, item[1].pk))


def _require(actor: Membership, permission: str) -> None:
    if permission not in permissions_for(actor.role):
        raise PermissionDenied


@transaction.atomic
def candidate_dismiss(*, actor: Membership, candidate: DuplicateCandidate) -> DuplicateCandidate:
    """Mark a pair "not a duplicate": neither the scan nor the per-save check proposes it again."""
    _require(actor, "leads.merge")
    candidate = DuplicateCandidate.objects.select_for_update().get(pk=candidate.pk)
    if candidate.company_id != actor.company_id:
        raise PermissionDenied
    if candidate.status != CandidateStatus.PENDING:
        raise ValidationError({"__all__": f"This pair was already reviewed ({candidate.get_status_display()})."})
    candidate.status = CandidateStatus.NOT_DUPLICATE
    candidate.reviewed_by = actor
    candidate.reviewed_at = timezone.now()
    candidate.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    regroup(candidate.company_id, [candidate.group_key])
    return candidate


def _clean_rule_data(company: Company, data: dict) -> tuple[dict, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for name in sorted(set(data) - set(RULE_FIELDS)):
        errors[name] = ["Unknown field."]
    for name in RULE_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if name.endswith("_threshold"):
            if isinstance(value, bool) or not isinstance(value, int) or not 50 <= value <= 100:
                errors[name] = ["Give a whole percentage between 50 and 100."]
                continue
        elif name == "custom_field_keys":
            known = set(CustomField.objects.filter(company=company).values_list("key", flat=True))
            value = [str(v).strip() for v in (value or []) if str(v).strip()]
            unknown = [v for v in value if v not in known]
            if unknown:
                errors[name] = [f"No custom field with key {', '.join(unknown)} in this company."]
                continue
        elif name == "free_mail_domains":
            value = sorted({str(v).strip().lower().lstrip("@") for v in (value or []) if str(v).strip()})
            bad = [v for v in value if not DOMAIN.match(v)]
            if bad:
                errors[name] = [f"Not a domain: {', '.join(bad)} (write it like mail.example.com)."]
                continue
        elif not isinstance(value, bool):
            errors[name] = ["Give true or false."]
            continue
        cleaned[name] = value
    return cleaned, errors


@transaction.atomic
def duplicate_rule_update(*, actor: Membership, data: dict) -> DuplicateRule:
    """Change the company's duplicate rule (admins); fields left out keep their value."""
    _require(actor, "rules.manage")
    rule = DuplicateRule.objects.select_for_update().filter(company_id=actor.company_id).first()
    rule = rule or DuplicateRule(company_id=actor.company_id)
    cleaned, errors = _clean_rule_data(actor.company, data)
    if errors:
        raise ValidationError(errors)
    for name, value in cleaned.items():
        setattr(rule, name, value)
    record(rule, actor, "leads.duplicate_rule.changed")
    rule.save()
    return rule


def matches_for_data(company: Company, data, *, actor: Membership | None, lead: Lead | None = None) -> list[Match]:
    """The possible duplicates of a lead as a form describes it (not saved, nothing raised): what
    the create and edit forms show next to their errors. ``data`` holds the form's raw values."""
    get = data.get
    probe = Lead(company=company, pk=lead.pk if lead is not None else None)
    country = (get("country") or (lead.country if lead else "") or company.default_country or "").strip().upper()
    probe.email_key = normalize.email_key(get("email") or "")
    probe.phone_key = normalize.phone_key(get("phone") or "", country)
    probe.profile_url_key = normalize.profile_url_key(get("profile_url") or "")
    probe.company_key = normalize.company_key(get("company_name") or "")
    probe.name_key = normalize.name_key(get("first_name") or "", get("last_name") or "")
    probe.custom_fields = {key[3:]: value for key, value in data.items() if key.startswith("cf_") and value}
    if not (probe.email_key or probe.phone_key or probe.profile_url_key or probe.company_key):
        return []
    return matches_of(probe, actor)
