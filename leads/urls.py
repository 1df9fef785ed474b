from django.urls import include, path

from leads import views

app_name = "leads"

urlpatterns = [
    path("", views.lead_list, name="list"),
    path("new/", views.lead_create, name="create"),
    path("from-profile/", views.lead_from_profile, name="from_profile"),
    path("trash/", views.lead_trash, name="trash"),
    path("activity/", views.activity_dashboard, name="activity"),
    path("bulk/", views.bulk_create, name="bulk"),
    path("bulk/<int:bulk_job_id>/", views.bulk_job_detail, name="bulk_job"),
    path("views/", views.saved_view_create, name="saved_view_create"),
    path("views/default/", views.saved_view_default, name="saved_view_default"),
    path("views/<int:view_id>/delete/", views.saved_view_delete, name="saved_view_delete"),
    path("<int:lead_id>/", views.lead_detail, name="detail"),
    path("<int:lead_id>/edit/", views.lead_edit, name="edit"),
    path("<int:lead_id>/delete/", views.lead_delete, name="delete"),
    path("<int:lead_id>/restore/", views.lead_restore, name="restore"),
    path("<int:lead_id>/status/", views.lead_transition, name="transition"),
    path("<int:lead_id>/timeline/", views.lead_timeline_partial, name="timeline"),
    path("<int:lead_id>/comments/", views.comment_create, name="comment_create"),
    path("<int:lead_id>/comments/<int:comment_id>/edit/", views.comment_edit, name="comment_edit"),
    path("<int:lead_id>/comments/<int:comment_id>/delete/", views.comment_delete, name="comment_delete"),
    path("<int:lead_id>/activities/", views.activity_create, name="activity_create"),
    path("settings/", include("leads.config.urls")),
    # One module per area (namespaces leads:assignment, leads:transfer, leads:dedup).
    path("", include("leads.assignment.urls")),
    path("", include("leads.transfer.urls")),
    path("duplicates/", include("leads.dedup.urls")),
]
