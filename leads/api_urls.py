"""REST API under /api/companies/<company_id>/ (namespace api)."""

from django.urls import include, path

from leads import api

app_name = "api"

urlpatterns = [
    path("leads", api.LeadListView.as_view(), name="lead-list"),
    path("leads/from-profile", api.LeadFromProfileView.as_view(), name="lead-from-profile"),
    path("leads/<int:lead_id>", api.LeadDetailView.as_view(), name="lead-detail"),
    path("leads/<int:lead_id>/transition", api.LeadTransitionView.as_view(), name="lead-transition"),
    path("leads/<int:lead_id>/restore", api.LeadRestoreView.as_view(), name="lead-restore"),
    path("leads/<int:lead_id>/comments", api.LeadCommentListView.as_view(), name="lead-comments"),
    path(
        "leads/<int:lead_id>/comments/<int:comment_id>", api.LeadCommentDetailView.as_view(), name="lead-comment-detail"
    ),
    path(
        "leads/<int:lead_id>/comments/<int:comment_id>/history",
        api.LeadCommentHistoryView.as_view(),
        name="lead-comment-history",
    ),
    path("leads/<int:lead_id>/activities", api.LeadActivityListView.as_view(), name="lead-activities"),
    path("leads/<int:lead_id>/history", api.LeadHistoryView.as_view(), name="lead-history"),
    path("campaigns", api.CampaignListView.as_view(), name="campaign-list"),
    # One module per area; each adds its paths under this same "api" namespace.
    path("", include("leads.api_urls_listing")),
    path("", include("leads.assignment.api_urls")),
    path("", include("leads.transfer.api_urls")),
    path("", include("leads.dedup.api_urls")),
    path("", include("leads.config.api_urls")),
]
