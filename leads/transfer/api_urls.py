"""API paths for the transfer area, included under /api/companies/<company_id>/ (namespace api)."""

from django.urls import path

from leads.transfer import api

urlpatterns = [
    path("imports", api.ImportListView.as_view(), name="import-list"),
    path("imports/<int:job_id>", api.ImportDetailView.as_view(), name="import-detail"),
    path("imports/<int:job_id>/errors", api.ImportErrorsView.as_view(), name="import-errors"),
    path("imports/<int:job_id>/revert", api.ImportRevertView.as_view(), name="import-revert"),
    path("exports", api.ExportListView.as_view(), name="export-list"),
    path("exports/<int:run_id>", api.ExportDetailView.as_view(), name="export-detail"),
    path("exports/<int:run_id>/download", api.ExportDownloadView.as_view(), name="export-download"),
]
