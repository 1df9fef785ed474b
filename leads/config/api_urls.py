"""API paths for the workflow, saved views and export setup, included under
/api/companies/<company_id>/ (namespace api)."""

from django.urls import path

from leads.config import api

urlpatterns = [
    path("statuses", api.StatusListView.as_view(), name="status-list"),
    path("statuses/<int:status_id>", api.StatusDetailView.as_view(), name="status-detail"),
    path("statuses/<int:status_id>/retire", api.StatusRetireView.as_view(), name="status-retire"),
    path("statuses/<int:status_id>/unretire", api.StatusUnretireView.as_view(), name="status-unretire"),
    path("transitions", api.TransitionListView.as_view(), name="transition-list"),
    path("transitions/<int:transition_id>", api.TransitionDetailView.as_view(), name="transition-detail"),
    path("saved-views", api.SavedViewListView.as_view(), name="saved-view-list"),
    path("saved-views/<int:view_id>", api.SavedViewDetailView.as_view(), name="saved-view-detail"),
    path("export-templates", api.ExportTemplateListView.as_view(), name="export-template-list"),
    path("export-templates/<int:template_id>", api.ExportTemplateDetailView.as_view(), name="export-template-detail"),
    path("scheduled-exports", api.ScheduledExportListView.as_view(), name="scheduled-export-list"),
    path(
        "scheduled-exports/<int:schedule_id>", api.ScheduledExportDetailView.as_view(), name="scheduled-export-detail"
    ),
    path("scheduled-exports/<int:schedule_id>/run", api.ScheduledExportRunView.as_view(), name="scheduled-export-run"),
]
