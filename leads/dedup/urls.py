"""Pages for the dedup area (namespace leads:dedup), under /c/<company_slug>/leads/duplicates/."""

from django.urls import path

from leads.dedup import views

app_name = "dedup"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("scan/", views.scan, name="scan"),
    path("candidates/<int:candidate_id>/dismiss/", views.dismiss, name="dismiss"),
    path("merge/", views.merge_page, name="merge"),
    path("merges/", views.merge_list, name="merge_list"),
    path("merges/<int:merge_id>/", views.merge_detail, name="merge_detail"),
    path("merges/<int:merge_id>/undo/", views.merge_undo, name="merge_undo"),
    path("rules/", views.rules, name="rules"),
]
