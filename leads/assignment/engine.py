"""The placement engine: which active rule matches a lead, which of its members may take it, and
which one the strategy picks.

An ``Engine`` is built for one company inside a transaction. With ``lock=True`` it locks the
company's active rules (``SELECT … FOR UPDATE``, in id order) and then the memberships they name,
before it reads their open-lead counts: every automatic assignment of the company is serialised
on those rows, so two workers never read the same cursor or the same load. SQLite has no row locks,
but its write transactions are IMMEDIATE, which serialises them the same way. The engine keeps
cursors and loads in memory while it places a batch and writes the cursors back once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Count

from crm.models import Membership
from leads.models import (
    AssignmentRule,
    AssignmentRuleMember,
    AssignmentStrategy,
    Lead,
    StatusCategory,
)
from leads.scoring import Condition, LeadValues, Scorer, clean_condition, norm, scorer_for
from leads.scoring.rules import ANY_CUSTOM_KEY, LeadView

REGIONS: dict[str, frozenset[str]] = {
    "UK": frozenset({"GB"}),
    "UKI": frozenset({"GB", "IE"}),
    "DACH": frozenset({"DE", "AT", "CH"}),
    "BENELUX": frozenset({"BE", "NL", "LU"}),
    "NORDICS": frozenset({"SE", "NO", "DK", "FI", "IS"}),
    "IBERIA": frozenset({"ES", "PT"}),
    "CEE": frozenset({"PL", "CZ", "SK", "HU", "RO", "BG", "SI", "HR", "EE", "LV", "LT", "RS", "UA"}),
    "NA": frozenset({"US", "CA"}),
    "NORTHAMERICA": frozenset({"US", "CA"}),
    "LATAM": frozenset({"MX", "BR", "AR", "CL", "CO", "PE", "UY", "EC", "VE", "BO", "PY", "CR", "PA", "GT", "DO"}),
    "ANZ": frozenset({"AU", "NZ"}),
    "MENA": frozenset({"AE", "SA", "QA", "KW", "BH", "OM", "EG", "MA", "TN", "JO", "LB", "IL", "TR", "DZ"}),
}
REGIONS["EU"] = frozenset(
    {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT",
     "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}
)  # fmt: skip
REGIONS["EUROPE"] = REGIONS["EU"] | {"GB", "CH", "NO", "IS", "UA", "RS", "AL", "BA", "ME", "MK", "MD", "LI", "MC"}
REGIONS["AFRICA"] = frozenset({"ZA", "NG", "KE", "GH", "EG", "MA", "TN", "DZ", "ET", "TZ", "UG", "SN", "CI", "RW"})
REGIONS["APAC"] = frozenset(
    {"AU", "NZ", "JP", "KR", "CN", "HK", "TW", "SG", "MY", "ID", "TH", "VN", "PH", "IN", "PK", "BD", "LK"}
)
REGIONS["AMER"] = REGIONS["AMERICAS"] = REGIONS["NA"] | REGIONS["LATAM"]
REGIONS["EMEA"] = REGIONS["EUROPE"] | REGIONS["MENA"] | REGIONS["AFRICA"]
REGIONS["GLOBAL"] = REGIONS["WORLDWIDE"] = frozenset({"*"})
_TERRITORY_SPLIT = re.compile(r"[,;/+|]+")


def territory_countries(territory: str) -> frozenset[str]:
    """'EMEA', 'DACH, FR', 'UK' → ISO country codes; region names and two-letter codes mix freely."""
    countries: set[str] = set()
    for token in _TERRITORY_SPLIT.split(territory or ""):
        key = re.sub(r"\s+", "", token).upper()
        if key in REGIONS:
            countries |= REGIONS[key]
        elif len(key) == 2 and key.isalpha():
            countries.add(key)
    return frozenset(countries)


def territory_covers(territory: str, country: str) -> bool:
    countries = territory_countries(territory)
    return "*" in countries or (country or "").upper() in countries


STRATEGY_LABELS = dict(AssignmentStrategy.choices)


class _Never:
    def matches(self, view) -> bool:
        return False


NEVER = _Never()


@dataclass
class Slot:
    """A member of a rule, with its weight."""

    member: Membership
    weight: int


@dataclass
class Placement:
    lead: Lead
    owner: Membership | None
    rule: AssignmentRule | None
    strategy: str
    reason: str


@dataclass
class CompiledRule:
    rule: AssignmentRule
    conditions: list[Condition]
    slots: list[Slot]
    sequence: list[int]  # indexes into slots, in turn order (weights expanded for weighted RR)
    cursor: int
    moved: bool = False


@dataclass
class Engine:
    company_id: int
    rules: list[CompiledRule]
    loads: dict[int, int]
    values: LeadValues
    scorer: Scorer | None = None
    skipped_held: int = 0

    @classmethod
    def build(cls, company, *, lock: bool) -> Engine:
        rules_qs = AssignmentRule.objects.filter(company_id=company.pk, is_active=True)
        if lock:
            rules_qs = rules_qs.select_for_update()
        rules = sorted(rules_qs.order_by("pk"), key=lambda r: (r.order, r.pk))
        slots = AssignmentRuleMember.objects.filter(rule__in=rules).order_by("position", "pk")
        by_rule: dict[int, list[AssignmentRuleMember]] = {}
        for slot in slots:
            by_rule.setdefault(slot.rule_id, []).append(slot)
        member_ids = sorted({s.membership_id for group in by_rule.values() for s in group})
        members_qs = Membership.objects.filter(pk__in=member_ids, company_id=company.pk).select_related("user")
        if lock:
            members_qs = members_qs.select_for_update(of=("self",))
        members = {m.pk: m for m in members_qs.order_by("pk")}
        compiled = [cls._compile(rule, by_rule.get(rule.pk, []), members) for rule in rules]
        return cls(company.pk, compiled, open_loads(list(members)), LeadValues(company.pk), scorer_for(company))

    @staticmethod
    def _compile(rule: AssignmentRule, rule_slots: list[AssignmentRuleMember], members) -> CompiledRule:
        try:
            conditions = [
                clean_condition(
                    c.get("field"), c.get("operator"), c.get("value"), custom_keys=ANY_CUSTOM_KEY, purpose="assignment"
                )  # fmt: skip
                for c in rule.conditions or []
            ]
        except (ValidationError, AttributeError):
            conditions = [NEVER]  # saved before a vocabulary change: the rule stops matching
        slots = [Slot(members[s.membership_id], s.weight) for s in rule_slots if s.membership_id in members]
        if rule.strategy == AssignmentStrategy.WEIGHTED:
            sequence = weighted_sequence([slot.weight for slot in slots])
        else:
            sequence = list(range(len(slots)))
        return CompiledRule(rule, conditions, slots, sequence, rule.cursor % len(sequence) if sequence else 0)

    # --- placing ---------------------------------------------------------------------------------

    def place(self, lead: Lead) -> Placement:
        """Where ``lead`` goes (in memory: the caller writes it). The first matching rule that can
        place the lead wins; a rule whose members are all skipped hands over to the next one."""
        if self.scorer.is_held(lead):
            self.skipped_held += 1
            return Placement(
                lead, None, None, "", f"Held for spam review (spam score {lead.spam_score}): not assigned."
            )
        failures = []
        view = LeadView(lead, self.values)
        for compiled in self.rules:
            if not all(c.matches(view) for c in compiled.conditions):
                continue
            owner, reason, skipped = self._pick(compiled, lead)
            if owner is not None:
                self.loads[owner.pk] = self.loads.get(owner.pk, 0) + 1
                return Placement(lead, owner, compiled.rule, compiled.rule.strategy, reason)
            failures.append(f"rule '{compiled.rule.name}' could not place it ({_skips(skipped) or 'no members'})")
        if not failures:
            reason = "No assignment rule matched: left in the pool." if self.rules else "No active assignment rules."
        else:
            reason = "Left in the pool: " + "; ".join(failures) + "."
        return Placement(lead, None, None, "", reason)

    def _pick(self, compiled: CompiledRule, lead: Lead):
        strategy = compiled.rule.strategy
        if strategy == AssignmentStrategy.LEAST_LOADED:
            return self._least_loaded(compiled, lead)
        if strategy == AssignmentStrategy.FIXED:
            slot = compiled.slots[0] if compiled.slots else None
            problem = self.skip_reason(slot.member, compiled.rule, lead) if slot else "no member"
            if slot is None or problem:
                return None, "", [(slot.member, problem)] if slot else []
            return slot.member, f"Fixed member in rule '{compiled.rule.name}'.", []
        return self._round_robin(compiled, lead)

    def _round_robin(self, compiled: CompiledRule, lead: Lead):
        skipped: list[tuple[Membership, str]] = []
        size = len(compiled.sequence)
        for offset in range(size):
            position = (compiled.cursor + offset) % size
            member = compiled.slots[compiled.sequence[position]].member
            if any(m.pk == member.pk for m, _ in skipped):
                continue
            problem = self.skip_reason(member, compiled.rule, lead)
            if problem:
                skipped.append((member, problem))
                continue
            compiled.cursor, compiled.moved = (position + 1) % size, True
            label = STRATEGY_LABELS[compiled.rule.strategy]
            reason = f"{label} in rule '{compiled.rule.name}'"
            if skipped:
                reason += f" after {_skips(skipped)} {'was' if len(skipped) == 1 else 'were'} skipped"
            return member, reason + ".", skipped
        return None, "", skipped

    def _least_loaded(self, compiled: CompiledRule, lead: Lead):
        skipped, candidates = [], []
        for index, slot in enumerate(compiled.slots):
            problem = self.skip_reason(slot.member, compiled.rule, lead)
            if problem:
                skipped.append((slot.member, problem))
            else:
                load = self.loads.get(slot.member.pk, 0)
                candidates.append((load / slot.member.capacity, load, index, slot.member))
        if not candidates:
            return None, "", skipped
        _, load, _, member = min(candidates, key=lambda c: c[:3])
        reason = (
            f"Least-loaded in rule '{compiled.rule.name}': {member.display_name} had {load} of "
            f"{member.capacity} open leads"
        )
        if skipped:
            reason += f"; {_skips(skipped)} {'was' if len(skipped) == 1 else 'were'} skipped"
        return member, reason + ".", skipped

    def skip_reason(self, member: Membership, rule: AssignmentRule | None, lead: Lead) -> str:
        """Why ``member`` cannot take ``lead`` now ('' when they can)."""
        if not member.is_active:
            return "inactive"
        if not member.is_available:
            return "unavailable"
        if rule is not None and rule.match_territory and not territory_covers(member.territory, lead.country):
            return f"territory {member.territory or 'none'} does not cover {lead.country or 'an unknown country'}"
        skills = {norm(s) for s in member.skills or []}
        for skill in rule.required_skills if rule is not None else []:
            if norm(skill) not in skills:
                return f"lacks skill {skill}"
        if rule is not None and rule.skill_field:
            wanted = self.values.get(lead, rule.skill_field)
            if wanted not in (None, "") and norm(wanted) not in skills:
                return f"lacks skill {wanted}"
        load = self.loads.get(member.pk, 0)
        if load >= member.capacity:
            return f"at capacity, {load} of {member.capacity}"
        return ""

    def save_cursors(self) -> None:
        for compiled in self.rules:
            if compiled.moved:
                AssignmentRule.objects.filter(pk=compiled.rule.pk).update(cursor=compiled.cursor)
                compiled.rule.cursor, compiled.moved = compiled.cursor, False


def _skips(skipped: list[tuple[Membership, str]]) -> str:
    parts = [f"{member.display_name} ({problem})" for member, problem in skipped]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def weighted_sequence(weights: list[int]) -> list[int]:
    """Smooth weighted round-robin (as in nginx): weights 5, 1, 1 give a a b a c a a — the heavy
    member's turns are spread out instead of bunched. Zero weights never get a turn."""
    total = sum(w for w in weights if w > 0)
    current = [0] * len(weights)
    sequence = []
    for _ in range(total):
        for index, weight in enumerate(weights):
            current[index] += max(weight, 0)
        best = max(range(len(weights)), key=lambda i: (current[i], -i))
        current[best] -= total
        sequence.append(best)
    return sequence


def open_leads(company_id: int | None = None):
    """Leads that count against an owner's capacity: open status, not deleted, not merged."""
    leads = Lead.objects.filter(is_deleted=False, merged_into__isnull=True, status__category=StatusCategory.OPEN)
    return leads if company_id is None else leads.filter(company_id=company_id)


def open_loads(member_ids: list[int]) -> dict[int, int]:
    if not member_ids:
        return {}
    rows = open_leads().filter(owner_id__in=member_ids).values("owner_id").annotate(n=Count("id"))
    return {row["owner_id"]: row["n"] for row in rows.order_by()}
