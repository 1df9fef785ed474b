"""API paths for the assignment area, included under /api/companies/<company_id>/ (namespace api)."""

from django.urls import path

from leads.assignment import api

urlpatterns = [
    path("leads/<int:lead_id>/assign", api.LeadAssignView.as_view(), name="lead-assign"),
    path("leads/<int:lead_id>/claim", api.LeadClaimView.as_view(), name="lead-claim"),
    path("leads/<int:lead_id>/release", api.LeadReleaseView.as_view(), name="lead-release"),
    path("leads/<int:lead_id>/score", api.LeadScoreView.as_view(), name="lead-score"),
    path("leads/<int:lead_id>/assignments", api.LeadAssignmentsView.as_view(), name="lead-assignments"),
    path("leads/<int:lead_id>/engagement", api.LeadEngagementView.as_view(), name="lead-engagement"),
    path("queue", api.QueueView.as_view(), name="queue"),
    path("pool/preview", api.PoolPreviewView.as_view(), name="pool-preview"),
    path("pool/assign", api.PoolAssignView.as_view(), name="pool-assign"),
    path("assignment-rules", api.AssignmentRuleListView.as_view(), name="assignment-rule-list"),
    path("assignment-rules/<int:rule_id>", api.AssignmentRuleDetailView.as_view(), name="assignment-rule-detail"),
    path("scoring-rules", api.ScoringRuleListView.as_view(), name="scoring-rule-list"),
    path("scoring-rules/<int:scoring_rule_id>", api.ScoringRuleDetailView.as_view(), name="scoring-rule-detail"),
    path("lead-settings", api.LeadSettingsView.as_view(), name="lead-settings"),
    path("assignment-stats", api.AssignmentStatsView.as_view(), name="assignment-stats"),
]
