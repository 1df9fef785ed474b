"""API paths for bulk operations, included under /api/companies/<company_id>/ (namespace api)."""

from django.urls import path

from leads import api_listing

urlpatterns = [
    path("leads/bulk", api_listing.BulkCreateView.as_view(), name="lead-bulk"),
    path("bulk-jobs/<int:bulk_job_id>", api_listing.BulkJobDetailView.as_view(), name="bulk-job-detail"),
]
