"""REST API under /api/companies/<company_id>/ (namespace accounts_api)."""

from django.urls import path

from accounts import api, api_conversion

app_name = "accounts_api"

urlpatterns = [
    path("accounts", api.AccountListView.as_view(), name="account-list"),
    path("accounts/<int:account_id>", api.AccountDetailView.as_view(), name="account-detail"),
    path("contacts", api.ContactListView.as_view(), name="contact-list"),
    path("contacts/<int:contact_id>", api.ContactDetailView.as_view(), name="contact-detail"),
    path("opportunities", api.OpportunityListView.as_view(), name="opportunity-list"),
    path("opportunities/<int:opportunity_id>", api.OpportunityDetailView.as_view(), name="opportunity-detail"),
    path("opportunities/<int:opportunity_id>/stage", api.OpportunityStageView.as_view(), name="opportunity-stage"),
    path("stages", api.StageListView.as_view(), name="stage-list"),
    path("pipeline", api.PipelineView.as_view(), name="pipeline"),
    path("forecast", api.ForecastView.as_view(), name="forecast"),
    path("leads/<int:lead_id>/qualify", api_conversion.LeadQualifyView.as_view(), name="lead-qualify"),
    path(
        "leads/<int:lead_id>/qualification", api_conversion.LeadQualificationView.as_view(), name="lead-qualification"
    ),
    path("leads/<int:lead_id>/convert", api_conversion.LeadConvertView.as_view(), name="lead-convert"),
    path("leads/<int:lead_id>/conversion", api_conversion.LeadConversionView.as_view(), name="lead-conversion"),
    path("leads/convert", api_conversion.BulkConvertView.as_view(), name="leads-convert"),
    path("qualification-settings", api_conversion.QualificationSettingsView.as_view(), name="qualification-settings"),
]
