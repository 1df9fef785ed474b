"""API paths for the dedup area, included under /api/companies/<company_id>/ (namespace api)."""

from django.urls import path

from leads.dedup import api

urlpatterns = [
    path("duplicates", api.DuplicateListView.as_view(), name="duplicate-list"),
    path("duplicates/scan", api.DuplicateScanView.as_view(), name="duplicate-scan"),
    path("duplicates/<int:candidate_id>/dismiss", api.DuplicateDismissView.as_view(), name="duplicate-dismiss"),
    path("duplicate-rule", api.DuplicateRuleView.as_view(), name="duplicate-rule"),
    path("leads/<int:lead_id>/duplicates", api.LeadDuplicatesView.as_view(), name="lead-duplicates"),
    path("merges", api.MergeListView.as_view(), name="merge-list"),
    path("merges/preview", api.MergePreviewView.as_view(), name="merge-preview"),
    path("merges/<int:merge_id>", api.MergeDetailView.as_view(), name="merge-detail"),
    path("merges/<int:merge_id>/undo", api.MergeUndoView.as_view(), name="merge-undo"),
]
