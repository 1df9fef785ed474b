"""REST API for duplicates and merges: the review queue, a lead's possible duplicates, merges (with
preview and undo) and the company's duplicate rule. Same queries and services as the pages; the
services' ``ValidationError`` becomes a 400 with field messages (``crm.api``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from crm.api import NewestFirstPagination, StrictSerializer, TenantAPIView, TenantListAPIView
from crm.api import get_object_or_404 as visible_or_404
from crm.api_errors import IdField, id_list_field
from leads import dedup
from leads.api import LeadObjectMixin
from leads.dedup import merge, undo
from leads.dedup.tasks import queue_scan
from leads.models import DuplicateCandidate, DuplicateRule, MergeRecord

TAGS = ["duplicates"]


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="email, phone, profile_url, custom:<key>, name_company or company_domain.")
    label = serializers.CharField(help_text="Why, in words: “same phone”, “name 94% + same company”.")
    score = serializers.IntegerField(min_value=0, max_value=100)


class CandidateSerializer(serializers.ModelSerializer):
    reasons = ReasonSerializer(many=True, read_only=True)

    class Meta:
        model = DuplicateCandidate
        fields = ("id", "lead_a", "lead_b", "score", "reasons", "is_exact", "status", "source", "group_key",
                  "found_at", "reviewed_by", "reviewed_at")  # fmt: skip
        read_only_fields = fields


class MatchSerializer(serializers.Serializer):
    lead = serializers.IntegerField(source="lead_id")
    name = serializers.SerializerMethodField(help_text="Null when you cannot see that lead.")
    owner_name = serializers.CharField(help_text="The other lead's owner (empty: the pool).")
    score = serializers.IntegerField()
    exact = serializers.BooleanField(help_text="Exact matches block creating a lead without “create anyway”.")
    reasons = ReasonSerializer(many=True)

    def get_name(self, match) -> str | None:
        return match.name if match.visible else None


class MoveSerializer(serializers.Serializer):
    model = serializers.CharField()
    field = serializers.CharField()
    content_type_field = serializers.CharField(allow_blank=True)
    lead = serializers.IntegerField(source="from", help_text="The merged lead the rows came from.")
    ids = serializers.ListField(child=serializers.IntegerField())
    kept = serializers.ListField(child=serializers.IntegerField(), help_text="Rows left on the merged lead.")


@extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"}})
class ChoicesField(serializers.DictField):
    """Field name → id of the merged lead whose value the survivor takes."""

    child = IdField()


class MergeRecordSerializer(serializers.ModelSerializer):
    leads = serializers.ListField(source="lead_ids", child=serializers.IntegerField(), read_only=True)
    field_choices = ChoicesField(read_only=True)
    moves = MoveSerializer(many=True, read_only=True)
    warnings = serializers.ListField(child=serializers.CharField(), read_only=True)
    undo_report = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = MergeRecord
        fields = ("id", "survivor", "leads", "field_choices", "moves", "warnings", "merged_by", "merged_at",
                  "undone_by", "undone_at", "undo_report")  # fmt: skip
        read_only_fields = fields


class MergeInputSerializer(StrictSerializer):
    survivor = IdField(help_text="The lead that stays.")
    leads = id_list_field(allow_empty=True, help_text="The leads merged into the survivor.")
    choices = ChoicesField(required=False, default=dict, help_text="Field (or custom_fields.<key>) → lead id.")


class PreviewFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    values = serializers.SerializerMethodField(help_text="Lead id → the value as shown.")
    chosen = serializers.IntegerField(help_text="The lead whose value the survivor would keep.")
    differs = serializers.BooleanField()

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_values(self, row) -> dict:
        return {str(pk): value for pk, value in row.values}


class PreviewSerializer(serializers.Serializer):
    survivor = serializers.IntegerField(source="survivor.pk")
    leads = serializers.SerializerMethodField()
    fields = PreviewFieldSerializer(source="rows", many=True)
    moves = serializers.SerializerMethodField(help_text="Merged lead id → relation → rows that would move.")
    warnings = serializers.ListField(child=serializers.CharField())

    def get_leads(self, preview) -> list[int]:
        return [lead.pk for lead in preview.others]

    @extend_schema_field(
        {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}}}
    )
    def get_moves(self, preview) -> dict:
        return {str(lead.pk): {name: count for name, count, _ in counts} for lead, counts in preview.moves}


class RuleSerializer(serializers.ModelSerializer):
    custom_field_keys = serializers.ListField(child=serializers.CharField(), required=False)
    free_mail_domains = serializers.ListField(child=serializers.CharField(), required=False)

    class Meta:
        model = DuplicateRule
        fields = dedup.RULE_FIELDS


class RuleInputSerializer(StrictSerializer):
    match_email = serializers.BooleanField(required=False)
    match_phone = serializers.BooleanField(required=False)
    match_profile_url = serializers.BooleanField(required=False)
    match_name_company = serializers.BooleanField(required=False)
    match_company_domain = serializers.BooleanField(required=False)
    name_threshold = serializers.IntegerField(required=False, help_text="50–100")
    company_threshold = serializers.IntegerField(required=False, help_text="50–100")
    custom_field_keys = serializers.ListField(child=serializers.CharField(), required=False)
    free_mail_domains = serializers.ListField(child=serializers.CharField(), required=False)


class ScanSerializer(serializers.Serializer):
    queued = serializers.BooleanField()


# --- views --------------------------------------------------------------------------------------


class BestFirstPagination(NewestFirstPagination):
    ordering = ("-score", "id")


class DuplicateListView(TenantListAPIView):
    crm_permission = "leads.merge"
    pagination_class = BestFirstPagination

    def get_queryset(self):
        return dedup.candidates_visible_to(self.request.membership)

    @extend_schema(tags=TAGS, summary="The review queue: pairs that may be duplicates, best first",
                   responses=CandidateSerializer(many=True))  # fmt: skip
    def get(self, request, company_id):
        return self.paginated(self.get_queryset(), CandidateSerializer)


class DuplicateScanView(TenantAPIView):
    crm_permission = "leads.merge"

    @extend_schema(tags=TAGS, summary="Scan the company for duplicates now (in the background)", request=None,
                   responses={202: ScanSerializer})  # fmt: skip
    def post(self, request, company_id):
        queue_scan(request.company.pk)
        return Response({"queued": True}, status=status.HTTP_202_ACCEPTED)


class DuplicateDismissView(TenantAPIView):
    crm_permission = "leads.merge"

    def load_objects(self, *, candidate_id, **kwargs):
        self.candidate = visible_or_404(dedup.candidates_visible_to(self.request.membership), pk=candidate_id)

    @extend_schema(tags=TAGS, summary="Mark a pair “not a duplicate”: it is never proposed again", request=None,
                   responses=CandidateSerializer)  # fmt: skip
    def post(self, request, company_id, candidate_id):
        candidate = dedup.candidate_dismiss(actor=request.membership, candidate=self.candidate)
        return Response(CandidateSerializer(candidate).data)


class LeadDuplicatesView(LeadObjectMixin, TenantAPIView):
    crm_permission = "leads.view"

    @extend_schema(tags=TAGS, summary="A lead's possible duplicates now, with reasons and scores",
                   responses=MatchSerializer(many=True))  # fmt: skip
    def get(self, request, company_id, lead_id):
        matches = dedup.matches_of(self.lead, request.membership)
        return Response(MatchSerializer(matches, many=True).data)


class LatestMergeFirstPagination(NewestFirstPagination):
    ordering = ("-merged_at", "-id")


class MergeListView(TenantListAPIView):
    crm_permission = "leads.merge"
    pagination_class = LatestMergeFirstPagination

    def get_queryset(self):
        return dedup.merges_visible_to(self.request.membership)

    @extend_schema(tags=TAGS, summary="Merges, latest first", responses=MergeRecordSerializer(many=True))
    def get(self, request, company_id):
        return self.paginated(self.get_queryset(), MergeRecordSerializer)

    @extend_schema(tags=TAGS, summary="Merge leads into a survivor (one transaction; undoable)",
                   request=MergeInputSerializer, responses={201: MergeRecordSerializer})  # fmt: skip
    def post(self, request, company_id):
        data = self.parse(MergeInputSerializer)
        record = merge.leads_merge(
            actor=request.membership, survivor=data["survivor"], others=data["leads"], choices=data["choices"]
        )
        return Response(MergeRecordSerializer(record).data, status=status.HTTP_201_CREATED)


class MergePreviewView(TenantAPIView):
    crm_permission = "leads.merge"

    @extend_schema(tags=TAGS, summary="What a merge would do: values side by side, rows that would move",
                   request=MergeInputSerializer, responses=PreviewSerializer)  # fmt: skip
    def post(self, request, company_id):
        data = self.parse(MergeInputSerializer)
        preview = merge.merge_preview(
            actor=request.membership, survivor=data["survivor"], others=data["leads"], choices=data["choices"]
        )
        return Response(PreviewSerializer(preview).data)


class MergeObjectMixin:
    def load_objects(self, *, merge_id, **kwargs):
        self.record = visible_or_404(dedup.merges_visible_to(self.request.membership), pk=merge_id)


class MergeDetailView(MergeObjectMixin, TenantAPIView):
    crm_permission = "leads.merge"

    @extend_schema(tags=TAGS, summary="A merge record", responses=MergeRecordSerializer)
    def get(self, request, company_id, merge_id):
        return Response(MergeRecordSerializer(self.record).data)


class MergeUndoView(MergeObjectMixin, TenantAPIView):
    crm_permission = "leads.merge"

    @extend_schema(tags=TAGS, summary="Undo a merge (edits made since are kept; undo_report says what)",
                   request=None, responses=MergeRecordSerializer)  # fmt: skip
    def post(self, request, company_id, merge_id):
        record = undo.merge_undo(actor=request.membership, record=self.record)
        return Response(MergeRecordSerializer(record).data)


class DuplicateRuleView(TenantAPIView):
    crm_permission = "leads.merge"
    write_permission = "rules.manage"

    @extend_schema(tags=TAGS, summary="The company's duplicate rule", responses=RuleSerializer)
    def get(self, request, company_id):
        return Response(RuleSerializer(dedup.rule_for(request.company)).data)

    @extend_schema(tags=TAGS, summary="Change the duplicate rule (fields left out keep their value)",
                   request=RuleInputSerializer, responses=RuleSerializer)  # fmt: skip
    def patch(self, request, company_id):
        data = self.parse(RuleInputSerializer)
        rule = dedup.duplicate_rule_update(actor=request.membership, data=data)
        return Response(RuleSerializer(rule).data)
