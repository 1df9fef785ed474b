"""REST API of the assignment area: claim / release / assign, score explanations, engagement events,
the queue, assignment and scoring rules, prioritisation settings, the pool and the stats.

Same services and visibility as the pages; serializers only shape data and parse types.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError as APIValidationError
from rest_framework.response import Response

from crm.api import CompanyObjectField, StrictSerializer, TenantAPIView
from crm.api import get_object_or_404 as visible_or_404
from crm.models import Membership
from leads import assignment, scoring
from leads.api import LeadObjectMixin, LeadSerializer, ObjectField, _fresh
from leads.assignment.queries import queue_for, queue_owner
from leads.assignment.stats import assignment_stats
from leads.models import AssignmentRule, EngagementKind, LeadAssignment, LeadSettings, ScoringRule
from leads.scoring import quality

TAGS = ["assignment"]
SCORING_TAGS = ["scoring"]


def _member_field(**kwargs):
    return CompanyObjectField(
        queryset_for=lambda company: Membership.objects.filter(company=company), name="member", **kwargs
    )


# --- claim, release, assign, explanations ----------------------------------------------------------


class AssignInputSerializer(StrictSerializer):
    owner = _member_field(help_text="Membership id of the new owner.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class ReleaseInputSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class LeadAssignView(LeadObjectMixin, TenantAPIView):
    crm_permission = "leads.assign"

    @extend_schema(
        tags=TAGS, summary="Assign or reassign a lead", request=AssignInputSerializer, responses=LeadSerializer
    )
    def post(self, request, company_id, lead_id):
        data = self.parse(AssignInputSerializer)
        lead = assignment.lead_assign(actor=request.membership, lead=self.lead, owner=data["owner"],
                                      reason=data["reason"])  # fmt: skip
        return Response(LeadSerializer(_fresh(lead)).data)


class LeadClaimView(LeadObjectMixin, TenantAPIView):
    crm_permission = "leads.claim"

    @extend_schema(tags=TAGS, summary="Claim a pool lead for yourself", request=None, responses=LeadSerializer)
    def post(self, request, company_id, lead_id):
        lead = assignment.lead_claim(actor=request.membership, lead=self.lead)
        return Response(LeadSerializer(_fresh(lead)).data)


class LeadReleaseView(LeadObjectMixin, TenantAPIView):
    crm_permission = "leads.claim"

    @extend_schema(tags=TAGS, summary="Release a lead to the pool", request=ReleaseInputSerializer,
                   responses=LeadSerializer)  # fmt: skip
    def post(self, request, company_id, lead_id):
        data = self.parse(ReleaseInputSerializer)
        lead = assignment.lead_release(actor=request.membership, lead=self.lead, reason=data["reason"])
        return Response(LeadSerializer(_fresh(lead)).data)


class BreakdownEntrySerializer(serializers.Serializer):
    rule = serializers.CharField()
    points = serializers.IntegerField()
    kind = serializers.CharField()
    detail = serializers.CharField(required=False)


class ScoreSerializer(serializers.Serializer):
    score = serializers.IntegerField()
    priority = serializers.CharField()
    breakdown = BreakdownEntrySerializer(many=True)
    held_for_review = serializers.BooleanField()
    spam_score = serializers.IntegerField()
    validation_status = serializers.CharField()
    quality_reasons = serializers.ListField(child=serializers.CharField())


def _score_payload(lead) -> dict:
    return {
        "score": lead.score,
        "priority": lead.priority,
        "breakdown": [e for e in lead.score_breakdown or [] if isinstance(e, dict)],
        "held_for_review": scoring.is_held(lead),
        "spam_score": lead.spam_score,
        "validation_status": lead.validation_status,
        "quality_reasons": quality.check(lead).reasons,
    }


class LeadScoreView(LeadObjectMixin, TenantAPIView):
    crm_permission = "leads.view"

    @extend_schema(
        tags=SCORING_TAGS, summary="Why a lead has its score, priority and quality status", responses=ScoreSerializer
    )
    def get(self, request, company_id, lead_id):
        return Response(_score_payload(self.lead))


class LeadAssignmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = LeadAssignment
        fields = ("id", "kind", "owner", "previous_owner", "rule", "rule_name", "strategy", "reason", "actor",
                  "created_at")  # fmt: skip
        read_only_fields = fields


class LeadAssignmentsView(LeadObjectMixin, TenantAPIView):
    crm_permission = "leads.view"

    @extend_schema(tags=TAGS, summary="Where a lead went and why, newest first",
                   responses=LeadAssignmentSerializer(many=True))  # fmt: skip
    def get(self, request, company_id, lead_id):
        return Response(LeadAssignmentSerializer(self.lead.assignments.all()[:200], many=True).data)


class EngagementInputSerializer(StrictSerializer):
    kind = serializers.CharField(help_text=f"One of {', '.join(EngagementKind.values)}.")
    occurred_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    source = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    key = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200,
        help_text="Idempotency key (e.g. the tracking message id): a repeated key records nothing.",
    )  # fmt: skip


class LeadEngagementView(LeadObjectMixin, TenantAPIView):
    crm_permission = "leads.change"

    @extend_schema(tags=SCORING_TAGS, summary="Record an engagement event (open, click, form submit, …) and rescore",
                   request=EngagementInputSerializer, responses={201: ScoreSerializer, 200: ScoreSerializer})  # fmt: skip
    def post(self, request, company_id, lead_id):
        data = self.parse(EngagementInputSerializer)
        event = scoring.engagement_record(lead=self.lead, **data)
        self.lead.refresh_from_db()
        return Response(_score_payload(self.lead), status=status.HTTP_201_CREATED if event else status.HTTP_200_OK)


class QueueView(TenantAPIView):
    crm_permission = "leads.view"
    query_params = ("member",)

    @extend_schema(
        tags=TAGS, summary="My queue: open leads, most urgent first",
        parameters=[OpenApiParameter("member", int, description="Another visible member's queue (managers).")],
        responses=LeadSerializer(many=True),
    )  # fmt: skip
    def get(self, request, company_id):
        owner = queue_owner(request.membership, request.query_params.get("member"))
        if owner is None:
            raise APIValidationError({"member": ["Choose a member you can see."]})
        leads = queue_for(owner).select_related("campaign", "status", "owner__user")[:500]
        return Response(LeadSerializer(leads, many=True).data)


# --- the pool ----------------------------------------------------------------------------------------


class PlacementSerializer(serializers.Serializer):
    lead = serializers.IntegerField(source="lead.pk")
    owner = serializers.IntegerField(source="owner.pk", allow_null=True, default=None)
    rule = serializers.CharField(source="rule.name", allow_null=True, default=None)
    reason = serializers.CharField()


class PoolResultSerializer(serializers.Serializer):
    assigned = serializers.IntegerField()
    left_in_pool = serializers.IntegerField()
    placements = PlacementSerializer(many=True)


class PoolPreviewView(TenantAPIView):
    crm_permission = "leads.assign"
    query_params = ("count",)

    @extend_schema(tags=TAGS, summary="Dry run: where the next N pool leads would go",
                   parameters=[OpenApiParameter("count", int, description="1 to 200; default 10.")],
                   responses=PoolResultSerializer)  # fmt: skip
    def get(self, request, company_id):
        count = request.query_params.get("count", "10")
        if not count.isdecimal() or not 1 <= int(count) <= 200:
            raise APIValidationError({"count": ["Give a whole number from 1 to 200."]})
        result = assignment.pool_assign(company=request.company, actor=None, dry_run=True, limit=int(count))
        return Response(PoolResultSerializer(result).data)


class PoolAssignView(TenantAPIView):
    crm_permission = "leads.assign"

    @extend_schema(tags=TAGS, summary="Assign the pool by the rules", request=None, responses=PoolResultSerializer)
    def post(self, request, company_id):
        result = assignment.pool_assign(company=request.company, actor=request.membership)
        return Response(PoolResultSerializer(result).data)


# --- assignment rules ----------------------------------------------------------------------------


class RuleMemberSerializer(serializers.Serializer):
    membership = serializers.IntegerField()
    weight = serializers.IntegerField()


class AssignmentRuleSerializer(serializers.ModelSerializer):
    members = serializers.SerializerMethodField()

    class Meta:
        model = AssignmentRule
        fields = ("id", "name", "order", "is_active", "strategy", "match_territory", "required_skills",
                  "skill_field", "conditions", "members")  # fmt: skip
        read_only_fields = fields

    def get_members(self, rule) -> list[dict]:
        return [{"membership": s.membership_id, "weight": s.weight} for s in rule.members.all()]


class AssignmentRuleInputSerializer(StrictSerializer):
    """`conditions`: [{field, operator, value}]; `members`: [{membership, weight}] in turn order."""

    name = serializers.CharField(max_length=100)
    order = serializers.IntegerField(required=False, min_value=0)
    is_active = serializers.BooleanField(required=False)
    strategy = serializers.CharField(help_text="round_robin, weighted, least_loaded or fixed.")
    match_territory = serializers.BooleanField(required=False)
    required_skills = serializers.ListField(child=serializers.CharField(), required=False)
    skill_field = serializers.CharField(required=False, allow_blank=True)
    conditions = serializers.ListField(child=ObjectField(), required=False)
    members = serializers.ListField(child=ObjectField())
    ignored_keys = frozenset({"id"})


def _rules(company):
    return AssignmentRule.objects.filter(company=company).prefetch_related("members").order_by("order", "pk")


class AssignmentRuleListView(TenantAPIView):
    crm_permission = "rules.manage"

    @extend_schema(tags=TAGS, summary="The assignment rules, in order", responses=AssignmentRuleSerializer(many=True))
    def get(self, request, company_id):
        return Response(AssignmentRuleSerializer(_rules(request.company), many=True).data)

    @extend_schema(tags=TAGS, summary="Add an assignment rule", request=AssignmentRuleInputSerializer,
                   responses={201: AssignmentRuleSerializer})  # fmt: skip
    def post(self, request, company_id):
        data = self.parse(AssignmentRuleInputSerializer)
        rule = assignment.assignment_rule_create(actor=request.membership, company=request.company, data=data)
        return Response(AssignmentRuleSerializer(_rules(request.company).get(pk=rule.pk)).data, status=201)


class AssignmentRuleDetailView(TenantAPIView):
    crm_permission = "rules.manage"

    def load_objects(self, *, rule_id, **kwargs):
        self.rule = visible_or_404(_rules(self.request.company), pk=rule_id)

    @extend_schema(tags=TAGS, summary="Read an assignment rule", responses=AssignmentRuleSerializer)
    def get(self, request, company_id, rule_id):
        return Response(AssignmentRuleSerializer(self.rule).data)

    @extend_schema(tags=TAGS, summary="Change some fields of an assignment rule",
                   request=AssignmentRuleInputSerializer, responses=AssignmentRuleSerializer)  # fmt: skip
    def patch(self, request, company_id, rule_id):
        data = self.parse(AssignmentRuleInputSerializer, partial=True)
        rule = assignment.assignment_rule_update(actor=request.membership, rule=self.rule, data=data)
        return Response(AssignmentRuleSerializer(_rules(request.company).get(pk=rule.pk)).data)

    @extend_schema(tags=TAGS, summary="Delete an assignment rule", request=None, responses={204: None})
    def delete(self, request, company_id, rule_id):
        assignment.assignment_rule_delete(actor=request.membership, rule=self.rule)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- scoring rules and settings -------------------------------------------------------------------


class ScoringRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScoringRule
        fields = ("id", "name", "field", "operator", "value", "points", "max_points", "order", "is_active")
        read_only_fields = fields


class ScoringRuleInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    field = serializers.CharField(help_text="A lead field, custom.<key>, profile.<key> or engagement.<kind>.")
    operator = serializers.CharField(help_text=", ".join(scoring.OPERATORS))
    value = serializers.CharField(required=False, allow_blank=True, default="")
    points = serializers.IntegerField()
    max_points = serializers.IntegerField(required=False, allow_null=True)
    order = serializers.IntegerField(required=False, min_value=0)
    is_active = serializers.BooleanField(required=False)
    ignored_keys = frozenset({"id"})


class ScoringRuleListView(TenantAPIView):
    crm_permission = "rules.manage"

    @extend_schema(tags=SCORING_TAGS, summary="The scoring rules", responses=ScoringRuleSerializer(many=True))
    def get(self, request, company_id):
        scoring.settings_for(request.company)
        rules = ScoringRule.objects.filter(company=request.company).order_by("order", "pk")
        return Response(ScoringRuleSerializer(rules, many=True).data)

    @extend_schema(tags=SCORING_TAGS, summary="Add a scoring rule", request=ScoringRuleInputSerializer,
                   responses={201: ScoringRuleSerializer})  # fmt: skip
    def post(self, request, company_id):
        data = self.parse(ScoringRuleInputSerializer)
        rule = scoring.scoring_rule_create(actor=request.membership, company=request.company, data=data)
        return Response(ScoringRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class ScoringRuleDetailView(TenantAPIView):
    crm_permission = "rules.manage"

    def load_objects(self, *, scoring_rule_id, **kwargs):
        self.rule = visible_or_404(ScoringRule.objects.filter(company=self.request.company), pk=scoring_rule_id)

    @extend_schema(tags=SCORING_TAGS, summary="Read a scoring rule", responses=ScoringRuleSerializer)
    def get(self, request, company_id, scoring_rule_id):
        return Response(ScoringRuleSerializer(self.rule).data)

    @extend_schema(tags=SCORING_TAGS, summary="Change some fields of a scoring rule",
                   request=ScoringRuleInputSerializer, responses=ScoringRuleSerializer)  # fmt: skip
    def patch(self, request, company_id, scoring_rule_id):
        data = self.parse(ScoringRuleInputSerializer, partial=True)
        rule = scoring.scoring_rule_update(actor=request.membership, rule=self.rule, data=data)
        return Response(ScoringRuleSerializer(rule).data)

    @extend_schema(tags=SCORING_TAGS, summary="Delete a scoring rule", request=None, responses={204: None})
    def delete(self, request, company_id, scoring_rule_id):
        scoring.scoring_rule_delete(actor=request.membership, rule=self.rule)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LeadSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = LeadSettings
        fields = ("hot_threshold", "warm_threshold", "sla_hours", "spam_threshold", "engagement_half_life_days")


class LeadSettingsInputSerializer(StrictSerializer):
    hot_threshold = serializers.IntegerField(required=False)
    warm_threshold = serializers.IntegerField(required=False)
    sla_hours = serializers.IntegerField(required=False)
    spam_threshold = serializers.IntegerField(required=False)
    engagement_half_life_days = serializers.IntegerField(required=False)


class LeadSettingsView(TenantAPIView):
    crm_permission = "leads.view"
    write_permission = "rules.manage"

    @extend_schema(tags=SCORING_TAGS, summary="Priority thresholds, spam threshold, SLA and decay",
                   responses=LeadSettingsSerializer)  # fmt: skip
    def get(self, request, company_id):
        return Response(LeadSettingsSerializer(scoring.settings_for(request.company)).data)

    @extend_schema(tags=SCORING_TAGS, summary="Change the prioritisation settings",
                   request=LeadSettingsInputSerializer, responses=LeadSettingsSerializer)  # fmt: skip
    def patch(self, request, company_id):
        data = self.parse(LeadSettingsInputSerializer, partial=True)
        settings = scoring.lead_settings_update(actor=request.membership, company=request.company, data=data)
        return Response(LeadSettingsSerializer(settings).data)


# --- stats -------------------------------------------------------------------------------------------


class StatSerializer(serializers.Serializer):
    label = serializers.CharField()
    assigned = serializers.IntegerField()
    claimed = serializers.IntegerField()
    open = serializers.IntegerField(allow_null=True)
    responded = serializers.IntegerField()
    median_seconds = serializers.FloatField(source="median", allow_null=True)
    p90_seconds = serializers.FloatField(source="p90", allow_null=True)
    sla_breaches = serializers.IntegerField(source="breaches")


class StatsSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    sla_hours = serializers.IntegerField()
    total = StatSerializer()
    members = StatSerializer(many=True)
    by_day = StatSerializer(many=True)
    by_rule = StatSerializer(many=True)


class StatsQuerySerializer(StrictSerializer):
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False, help_text="Inclusive.")


class AssignmentStatsView(TenantAPIView):
    crm_permission = "stats.view"
    query_params = ("since", "until")

    @extend_schema(tags=TAGS, summary="Assignment stats of your team (admins: the company)",
                   parameters=[StatsQuerySerializer], responses=StatsSerializer)  # fmt: skip
    def get(self, request, company_id):
        query = StatsQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        until_day = query.validated_data.get("until") or timezone.localdate()
        try:  # the calendar ends: 9999-12-31 has no next day, 0001-01-01 no 29 days before
            since_day = query.validated_data.get("since") or until_day - dt.timedelta(days=29)
            until = timezone.make_aware(dt.datetime.combine(until_day + dt.timedelta(days=1), dt.time.min))
        except OverflowError:
            raise APIValidationError({"until": ["Give a period inside the years 1 to 9999."]}) from None
        if since_day > until_day or (until_day - since_day).days > 366:
            raise APIValidationError({"since": ["Give a period of 1 to 367 days with since ≤ until."]})
        since = timezone.make_aware(dt.datetime.combine(since_day, dt.time.min))
        return Response(StatsSerializer(assignment_stats(viewer=request.membership, since=since, until=until)).data)
