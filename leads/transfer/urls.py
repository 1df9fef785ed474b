"""Pages for the transfer area (namespace leads:transfer): the import wizard and the exports page."""

from django.urls import path

from leads.transfer import views

app_name = "transfer"

urlpatterns = [
    path("import/", views.import_upload, name="import"),
    path("import/<int:job_id>/", views.import_job, name="import_job"),
    path("import/<int:job_id>/progress/", views.import_progress, name="import_progress"),
    path("import/<int:job_id>/errors/", views.import_errors_file, name="import_errors"),
    path("import/<int:job_id>/revert/", views.import_revert, name="import_revert"),
    path("export/", views.export_download, name="export"),
    path("exports/", views.export_list, name="export_list"),
    path("exports/<int:run_id>/download/", views.export_run_download, name="export_download"),
    path("exports/templates/new/", views.template_create, name="template_create"),
    path("exports/templates/<int:template_id>/", views.template_edit, name="template_edit"),
    path("exports/templates/<int:template_id>/delete/", views.template_delete, name="template_delete"),
    path("exports/schedules/new/", views.schedule_create, name="schedule_create"),
    path("exports/schedules/<int:schedule_id>/", views.schedule_edit, name="schedule_edit"),
    path("exports/schedules/<int:schedule_id>/delete/", views.schedule_delete, name="schedule_delete"),
    path("exports/schedules/<int:schedule_id>/run/", views.schedule_run, name="schedule_run"),
]
