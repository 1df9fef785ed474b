"""REST API for qualification and conversion, under /api/companies/<company_id>/:

* ``POST leads/<id>/qualify`` — record the BANT/MEDDICC scorecard; the guide's ``qualification_result``
  and ``lead_status`` (the status moves through the workflow; a refused move says why);
* ``GET leads/<id>/qualification`` — the scorecard and its earlier versions;
* ``GET leads/<id>/conversion`` — eligibility, the accounts proposed, and the conversion if any;
* ``POST leads/<id>/convert`` — the account-first conversion (409 with the existing result when the
  lead was converted already);
* ``POST leads/convert`` — managers convert many leads as one all-or-nothing bulk job;
* ``GET/PATCH qualification-settings`` — the company's weights and thresholds (admins edit).

The services hold every rule; a lead the caller cannot see is a 404."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.conversion import (
    BULK_OPERATION,
    AlreadyConverted,
    ConversionResult,
    account_matches,
    conversion_eligibility,
)
from accounts.conversion import lead_convert as convert_lead
from accounts.models import Account, Contact, LeadConversion
from accounts.models_qualification import BANT, MEDDICC, Qualification, QualificationSettings, RiskScore
from accounts.qualification import (
    MAX_ANSWER,
    SETTINGS_FIELDS,
    lead_qualify,
    qualification_settings_update,
    settings_for,
)
from crm.api import CompanyObjectField, StrictSerializer, TenantAPIView
from crm.api import get_object_or_404 as visible_or_404
from crm.api_errors import id_list_field
from leads import bulk
from leads.api_listing import BulkJobSerializer
from leads.queries import leads_visible_to

TAGS = ["qualification and conversion"]


def _answer():
    return serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=MAX_ANSWER)


BantSerializer = type("BantSerializer", (StrictSerializer,), {key: _answer() for key in BANT})
MeddiccSerializer = type("MeddiccSerializer", (StrictSerializer,), {key: _answer() for key in MEDDICC})


class QualifyInputSerializer(StrictSerializer):
    bant = BantSerializer(required=False, help_text="Omitted: taken from the lead's budget, authority, need, timeline.")
    meddicc = MeddiccSerializer(required=False)
    risk_score = serializers.ChoiceField(choices=RiskScore.values, required=False, default=RiskScore.LOW)
    note = serializers.CharField(required=False, allow_blank=True, default="",
                                 help_text="The workflow's note, when the status change needs one.")  # fmt: skip


class QualificationSerializer(serializers.ModelSerializer):
    qualified_by_name = serializers.SerializerMethodField()

    class Meta:
        model = Qualification
        fields = read_only_fields = ("id", "lead", "bant", "meddicc", "risk_score", "score", "is_qualified",
                                     "missing_criteria", "recommendation", "weights", "qualified_by",
                                     "qualified_by_name", "qualified_at")  # fmt: skip

    def get_qualified_by_name(self, qualification) -> str | None:
        user = getattr(qualification, "qualified_by", None)
        return None if user is None else (user.user.full_name or user.user.email)


class ConversionOpportunitySerializer(StrictSerializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                 help_text="Default: the account's name and the lead's product of interest.")  # fmt: skip
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, allow_null=True,
                                      help_text='Not negative; send it as a string ("1250.50").')  # fmt: skip
    close_date = serializers.DateField(required=False, allow_null=True, help_text="Default: 90 days from today.")


def _company_field(model, name: str, **kwargs):
    return CompanyObjectField(queryset_for=lambda company: model.objects.filter(company=company), name=name,
                              required=False, allow_null=True, **kwargs)  # fmt: skip


class ConvertInputSerializer(StrictSerializer):
    account_id = _company_field(Account, "account", help_text="Omitted: the account matching the lead's email "
                                "domain or company name exactly, else a new account.")  # fmt: skip
    new_account = serializers.BooleanField(required=False, default=False, help_text="Create an account anyway.")
    contact_id = _company_field(Contact, "contact", help_text="Omitted: the account's contact with the lead's "
                                "email, else a new contact.")  # fmt: skip
    opportunity = ConversionOpportunitySerializer(required=False, allow_null=True)
    override_note = serializers.CharField(required=False, allow_blank=True, default="",
                                          help_text="Managers: convert although the qualification or the lead "
                                          "score falls short, saying why.")  # fmt: skip


class QualificationSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = QualificationSettings
        fields = SETTINGS_FIELDS


QualificationSettingsInputSerializer = type("QualificationSettingsInputSerializer", (StrictSerializer,), {
    name: serializers.IntegerField(required=False, min_value=0, max_value=100, allow_null=name == "min_lead_score")
    for name in SETTINGS_FIELDS
})  # fmt: skip


# --- JSON shapes -------------------------------------------------------------------------------------------


def _member_name(member) -> str | None:
    return None if member is None else (member.user.full_name or member.user.email)


def conversion_json(conversion: LeadConversion, result: ConversionResult | None = None) -> dict:
    """The conversion as the convert call answers it (and as a 409 repeats it)."""
    account, contact, deal = conversion.account, conversion.contact, conversion.opportunity
    return {
        "conversion_result": {"account_id": account.pk, "contact_id": contact.pk if contact else None,
                              "opportunity_id": deal.pk if deal else None},
        "account": {"id": account.pk, "name": account.name, "created": result.account_created if result else None,
                    "matched_by": list(result.matched_by) if result else None},
        "contact": None if contact is None else {
            "id": contact.pk, "name": contact.display_name, "email": contact.email, "is_primary": contact.is_primary,
            "created": result.contact_created if result else None},
        "opportunity": None if deal is None else {
            "id": deal.pk, "name": deal.name, "amount": str(deal.amount), "currency": deal.currency,
            "close_date": deal.close_date.isoformat(), "stage": deal.stage.name, "probability": deal.probability},
        "filled": result.filled if result else None,
        "lead_id": conversion.lead_id,
        "converted_at": conversion.converted_at.isoformat(),
        "converted_by": _member_name(conversion.converted_by),
    }  # fmt: skip


def _conversion_of(lead_id: int) -> LeadConversion | None:
    related = ("account", "contact", "opportunity__stage", "converted_by__user")
    return LeadConversion.objects.filter(lead_id=lead_id).select_related(*related).first()


# --- views -------------------------------------------------------------------------------------------------


class LeadMixin:
    def load_objects(self, *, lead_id, **kwargs):
        visible = leads_visible_to(self.request.membership).select_related("status", "company", "owner")
        self.lead = visible_or_404(visible, pk=lead_id)


class LeadQualifyView(LeadMixin, TenantAPIView):
    crm_permission = "leads.qualify"

    @extend_schema(
        tags=TAGS, summary="Qualify a lead (BANT / MEDDICC)", request=QualifyInputSerializer,
        responses=OpenApiTypes.OBJECT,
        description="Scores the answers with the company's weights (default: 25 per BANT answer, 5 per MEDDICC "
        "answer up to 20; from 75 qualified, from 50 nurture more, else disqualify) and moves the lead to "
        "qualified or unqualified through the workflow. A move the workflow refuses keeps the scorecard: "
        "`status_error` says why. Nurture more enrols the lead in the company's nurture-more sequences.",
    )  # fmt: skip
    def post(self, request, company_id, lead_id):
        data = self.parse(QualifyInputSerializer)
        outcome = lead_qualify(actor=request.membership, lead=self.lead, **data)
        return Response({
            "success": True,
            "qualification_result": outcome.result.as_dict(),
            "lead_status": outcome.lead.status.key,
            "status_changed": outcome.status_changed,
            "status_error": outcome.status_error or None,
            "qualification": QualificationSerializer(outcome.qualification).data,
            "enrolments": [enrolment.pk for enrolment in outcome.enrolments],
        })  # fmt: skip


class LeadQualificationView(LeadMixin, TenantAPIView):
    crm_permission = "leads.view"

    @extend_schema(tags=TAGS, summary="A lead's scorecard and its earlier versions", responses=OpenApiTypes.OBJECT)
    def get(self, request, company_id, lead_id):
        qualification = Qualification.objects.filter(lead=self.lead).select_related("qualified_by__user").first()
        if qualification is None:
            return Response({"qualification": None, "history": []})
        rows = qualification.history.order_by("-history_date", "-history_id").select_related("history_user")
        history = [{"score": row.score, "recommendation": row.recommendation, "is_qualified": row.is_qualified,
                    "risk_score": row.risk_score, "bant": row.bant, "meddicc": row.meddicc,
                    "by": str(row.history_user) if row.history_user else None, "at": row.history_date}
                   for row in rows]  # fmt: skip
        return Response({"qualification": QualificationSerializer(qualification).data, "history": history})


class LeadConversionView(LeadMixin, TenantAPIView):
    crm_permission = "leads.view"

    @extend_schema(
        tags=TAGS, summary="Whether a lead can be converted, and into which accounts", responses=OpenApiTypes.OBJECT,
        description="`eligibility.problems` names each reason (status, qualification, score); `proposals` are the "
        "visible accounts matching the lead (same email domain, same or similar name) with a score; "
        "`hidden_matches` counts those you cannot see. A converted lead has `conversion`.",
    )  # fmt: skip
    def get(self, request, company_id, lead_id):
        conversion = _conversion_of(self.lead.pk)
        eligibility = conversion_eligibility(self.lead)
        matches = [] if conversion else account_matches(self.lead, membership=request.membership)
        return Response({
            "conversion": conversion_json(conversion) if conversion else None,
            "eligibility": {"eligible": eligibility.eligible, "problems": eligibility.problems,
                            "overridable": eligibility.overridable, "converted_without_account": eligibility.legacy},
            "proposals": [{"account_id": m.account.pk, "name": m.account.name, "domain": m.account.domain,
                           "score": m.score, "reasons": list(m.reasons)} for m in matches if m.visible],
            "hidden_matches": sum(1 for m in matches if not m.visible),
        })  # fmt: skip


class LeadConvertView(LeadMixin, TenantAPIView):
    crm_permission = "leads.convert"

    @extend_schema(
        tags=TAGS, summary="Convert a lead, account first", request=ConvertInputSerializer,
        responses={201: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        description="In one transaction: the account (`account_id`, else the exact match, else a new one; the "
        "answer says which), the contact (reused by email, else created; primary when the account has none), "
        "only empty fields filled on existing records, an optional opportunity, a \"Lead converted\" activity, "
        "and the lead moved to converted. A lead converted already: 409 with that conversion.",
    )  # fmt: skip
    def post(self, request, company_id, lead_id):
        data = self.parse(ConvertInputSerializer)
        try:
            result = convert_lead(
                actor=request.membership, lead=self.lead, account=data.get("account_id"),
                new_account=data["new_account"], contact=data.get("contact_id"), opportunity=data.get("opportunity"),
                override_note=data["override_note"],
            )  # fmt: skip
        except AlreadyConverted as refused:
            body = {"detail": str(refused), **conversion_json(_conversion_of(self.lead.pk))}
            return Response(body, status=status.HTTP_409_CONFLICT)
        body = {"success": True, "message": "Lead converted successfully", "lead_status": "converted",
                **conversion_json(_conversion_of(self.lead.pk), result)}  # fmt: skip
        return Response(body, status=status.HTTP_201_CREATED)


class QualificationSettingsView(TenantAPIView):
    crm_permission = "leads.view"
    write_permission = "qualification.manage"

    @extend_schema(tags=TAGS, summary="The company's qualification weights and thresholds",
                   responses=QualificationSettingsSerializer)  # fmt: skip
    def get(self, request, company_id):
        return Response(QualificationSettingsSerializer(settings_for(request.company)).data)

    @extend_schema(tags=TAGS, summary="Edit the qualification weights and thresholds (admins)",
                   request=QualificationSettingsInputSerializer, responses=QualificationSettingsSerializer)  # fmt: skip
    def patch(self, request, company_id):
        data = self.parse(QualificationSettingsInputSerializer, partial=True)
        saved = qualification_settings_update(actor=request.membership, company=request.company, data=data)
        return Response(QualificationSettingsSerializer(saved).data)


class BulkConvertInputSerializer(StrictSerializer):
    ids = id_list_field(max_length=bulk.MAX_LEADS)


class BulkConvertView(TenantAPIView):
    crm_permission = "leads.convert_override"

    @extend_schema(
        tags=TAGS, summary="Convert many leads (managers; all or nothing)", request=BulkConvertInputSerializer,
        operation_id="companies_leads_convert_many",
        responses={200: BulkJobSerializer, 202: BulkJobSerializer},
        description="Each lead must be eligible; accounts are picked by an exact email-domain or name match and "
        "created for the rest. One lead that cannot be converted fails the job and nothing changes. Large jobs "
        "run in a worker: follow `bulk-jobs/{id}` for the progress.",
    )  # fmt: skip
    def post(self, request, company_id):
        data = self.parse(BulkConvertInputSerializer)
        job = bulk.bulk_job_create(actor=request.membership, operation=BULK_OPERATION, lead_ids=data["ids"])
        job = bulk.bulk_job_start(job)
        code = status.HTTP_200_OK if job.is_finished else status.HTTP_202_ACCEPTED
        return Response(BulkJobSerializer(job).data, status=code)
