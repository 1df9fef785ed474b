"""The per-save duplicate check, used by ``leads.services`` on create and edit:

* ``check_before_save(lead, *, actor, allow_duplicates) -> list[Match]`` runs after validation and
  normalisation, before save. It returns the candidate matches (with reasons and score); when an
  exact match exists and the actor may not "create anyway" (``allow_duplicates`` false, or an
  actor without ``leads.merge``) it raises ``ValidationError`` naming the matching lead(s) under
  the field that matched (``{"email": ["Same email as Ana Souza (#123)."]}``).
* ``after_save(lead, matches, *, actor) -> None`` runs after save in the same transaction and puts
  the matches in the review queue (a pair created anyway is flagged as such).

Exact matches are equal stored, indexed keys (``email_key``, ``phone_key``, ``profile_url_key``)
and the custom fields the company's rule names. Fuzzy candidates come only from leads that share a
blocking key, read through the (company, key) indexes in one ``UNION`` statement — the same company
(or the company the lead's email domain names) with a name sharing a word's initial, the name under
any of its spellings (swapped, nicknames), the same mailbox at another domain — and compared with
rapidfuzz's ``extract`` and a ``score_cutoff``, never all pairs. (Names alike only in sound, at
another company, are the batch scan's to find: no index holds their sound.)
"""

from __future__ import annotations

from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from rapidfuzz import fuzz, process

import leads.dedup.names as names
from crm.models import Company, Membership
from leads import normalize, vendor
from leads.dedup.keys import (
    CHECK_CLOSE_NAMES,
    CHECK_EXACT_ROWS,
    CHECK_FUZZY_ROWS,
    CHECK_MATCHES,
    Keys,
    Match,
    Reason,
    can_create_anyway,
    evaluate,
    exact_key_fields,
    free_mail_domains,
    rule_for,
)
from leads.dedup.queue import candidate_record
from leads.keys import apply_keys
from leads.models import CandidateSource, CandidateStatus, CustomField, DuplicateCandidate, DuplicateRule, Lead
from leads.queries import leads_visible_to

# --- the per-save check -------------------------------------------------------------------------

KEY_COLUMNS = ("id", "email_key", "phone_key", "profile_url_key", "company_key", "name_key")
MATCH_COLUMNS = (*KEY_COLUMNS, "country", "job_title")  # what matching reads of every lead it compares
# What matching and its messages read of a candidate (not the scraped profile or the score detail).
_MATCH_FIELDS = (*MATCH_COLUMNS, "company_id", "merged_into_id", "is_deleted", "converted_at", "first_name", "last_name", "email", "phone", "profile_url", "custom_fields",
                 "owner__user__full_name", "owner__user__email")  # fmt: skip


def live_leads(company_id: int):
    return Lead.objects.filter(company_id=company_id, merged_into__isnull=True, is_deleted=False)


def _initials(name_key: str) -> list[str]:
    """The first letters of the name's words and of every spelling of them (Robert: r, b for Bob)."""
    return sorted({word[0] for word in names.word_forms(name_key)})


def _arms(lead: Lead, rule: DuplicateRule, probe: Keys) -> tuple[list[tuple[str, list]], list[tuple[str, list]]]:
    """The per-save check's lookups as (SQL condition, parameters), exact ones then fuzzy blocks.

    Exact: each enabled key. Fuzzy blocks: the same company (by its key, its core or the company
    the email domain names) narrowed to names with a word sharing an initial (the narrowing runs
    inside the database), the name under any of its spellings, the same mailbox at another domain,
    and nameless leads of the same company and corporate domain."""
    like = connection.ops.prep_for_like_query
    exact = [(f"{key} = %s", [getattr(lead, key)]) for key in exact_key_fields(rule) if getattr(lead, key)]
    fuzzy = []
    if rule.match_name_company and lead.name_key:
        companies = sorted({key for key in (lead.company_key, probe.core, probe.domain_company) if key})
        if companies:
            starts = [f"{like(letter)}%" for letter in _initials(lead.name_key)]
            words = " OR ".join(["name_key LIKE %s ESCAPE '\\'"] * len(starts) * 2)
            fuzzy.append((f"company_key IN ({', '.join(['%s'] * len(companies))}) AND ({words})",
                          [*companies, *starts, *(f"% {start}" for start in starts)]))  # fmt: skip
        variants = names.name_variants(lead.name_key)
        fuzzy.append((f"name_key IN ({', '.join(['%s'] * len(variants))})", variants))
        local = lead.email_key.partition("@")[0]
        if probe.mailbox and local:
            fuzzy.append(vendor.starts_with_sql("email_key", f"{local}@"))
    if lead.company_key and rule.match_company_domain and probe.domain:
        nameless = " AND name_key = ''" if lead.name_key else ""
        fuzzy.append((f"company_key = %s{nameless} AND email_key LIKE %s ESCAPE '\\'",
                      [lead.company_key, f"%@{like(probe.domain)}"]))  # fmt: skip
    return exact, fuzzy


def union_sql(company_id: int, arms: list[tuple[str, list]], columns, *, exclude: int = 0, live: bool = False):
    """``SELECT … WHERE arm1 UNION SELECT … WHERE arm2 …`` over the company's leads, as (sql,
    params): each arm is planned on its own (company, key) index, where an ``OR`` of the arms would
    make SQLite scan the company. Raw SQL because building it through the ORM costs more than
    running it. ``live``: tombstones and deleted leads left out."""
    table = connection.ops.quote_name(Lead._meta.db_table)
    head = f"SELECT {', '.join(columns)} FROM {table} WHERE company_id = %s AND id <> %s AND "  # noqa: S608
    base = [company_id, exclude]
    if live:
        head += "merged_into_id IS NULL AND is_deleted = %s AND "
        base.append(False)
    sql = " UNION ".join(f"{head}({condition})" for condition, _ in arms)
    return sql, [value for _, arm_params in arms for value in (*base, *arm_params)]


def _select(lead: Lead, arms: list[tuple[str, list]], columns: tuple[str, ...], limit: int) -> list[tuple]:
    """The rows of the arms' union, at most ``limit``. Tombstones and deleted leads are left out in
    the second step, so that with an index on (company, company_key, name_key) this step reads the
    index alone."""
    if not arms:
        return []
    sql, params = union_sql(lead.company_id, arms, columns, exclude=lead.pk or 0)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} LIMIT {int(limit)}", params)
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
    live = live_leads(lead.company_id).exclude(pk=lead.pk or 0).filter(query).order_by()
    return list(live.values_list("pk", flat=True)[:CHECK_EXACT_ROWS])


def _close_names(probe: Keys, rows: list[tuple[int, str]], cutoff: int) -> list[int]:
    """The ids of the fuzzy-block rows (id, name key) worth a full look: similar person names
    (compared in one vectorised call, nicknames in their usual form and words in a fixed order),
    names known in part (compared word by word) and rows where one side has no person name."""
    if not probe.name_key:
        return [pk for pk, _ in rows]
    close = process.extract(probe.name, [names.canonical(name) for _, name in rows], scorer=fuzz.ratio,
                            score_cutoff=cutoff, limit=CHECK_CLOSE_NAMES)  # fmt: skip
    picked = {index for _, _, index in close}
    word_by_word = names.word_by_word(probe.name_key)
    for index, (_, name) in enumerate(rows):
        if not name or (
            index not in picked and (word_by_word or names.word_by_word(name)) and _alike(probe, name, cutoff)
        ):
            picked.add(index)
    return [rows[index][0] for index in sorted(picked)]


def _alike(probe: Keys, name_key: str, cutoff: int) -> bool:
    return names.name_similarity(probe.name_key, name_key).similarity >= cutoff


def _candidate_ids(lead: Lead, rule: DuplicateRule, probe: Keys) -> list[int]:
    """The leads worth a full look, in two cheap steps: ids from the exact keys' indexes, and
    (id, name) from the fuzzy blocks, of which only the close names are kept."""
    exact, fuzzy = _arms(lead, rule, probe)
    ids = [pk for (pk,) in _select(lead, exact, ("id",), CHECK_EXACT_ROWS)]
    if rule.custom_field_keys:
        ids += _custom_ids(lead, rule)
    ids += _close_names(probe, _select(lead, fuzzy, ("id", "name_key"), CHECK_FUZZY_ROWS), rule.name_threshold)
    return list(dict.fromkeys(ids))


def _keys_of_lead(lead: Lead, free) -> Keys:
    return Keys.build(lead.pk, lead.email_key, lead.phone_key, lead.profile_url_key, lead.company_key,
                      lead.name_key, lead.custom_fields, free=free, country=lead.country,
                      job_title=lead.job_title)  # fmt: skip


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
    labels = custom_labels(lead.company_id, rule)
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


def custom_labels(company_id: int, rule: DuplicateRule) -> dict[str, str]:
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
        errors[field_name] = [f"{label[:1].upper()}{label[1:]} as {_listed(leads)}." for label, leads in labels.items()]
    for field_name, keys in hidden.items():
        errors[field_name] += [
            f"A lead you cannot see already has this {key}; ask your manager." for key in sorted(keys)
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


_FORM_FIELDS = ("email", "phone", "profile_url", "company_name", "first_name", "last_name", "job_title")


def matches_for_data(company: Company, data, *, actor: Membership | None, lead: Lead | None = None) -> list[Match]:
    """The possible duplicates of a lead as a form describes it (not saved, nothing raised): what
    the create and edit forms show next to their errors. ``data`` holds the form's raw values."""
    get = data.get
    country = normalize.country_code(get("country") or "") or (lead.country if lead else "") or company.default_country
    probe = Lead(company=company, pk=lead.pk if lead is not None else None, country=country,
                 **{name: (get(name) or "").strip() for name in _FORM_FIELDS})  # fmt: skip
    apply_keys(probe)
    probe.custom_fields = {key[3:]: value for key, value in data.items() if key.startswith("cf_") and value}
    if not (probe.email_key or probe.phone_key or probe.profile_url_key or probe.company_key):
        return []
    return matches_of(probe, actor)
