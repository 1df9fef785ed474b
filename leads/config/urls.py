"""Company-admin pages for statuses, transitions, campaigns and custom fields (namespace leads:config)."""

from django.urls import path

from leads.config import views

app_name = "config"

urlpatterns = [
    path("", views.index, name="index"),
    path("statuses/", views.status_list, name="status_list"),
    path("statuses/new/", views.status_create, name="status_create"),
    path("statuses/<int:status_id>/", views.status_edit, name="status_edit"),
    path("statuses/<int:status_id>/retire/", views.status_retire, name="status_retire"),
    path("statuses/<int:status_id>/unretire/", views.status_unretire, name="status_unretire"),
    path("statuses/<int:status_id>/delete/", views.status_delete, name="status_delete"),
    path("transitions/", views.transition_list, name="transition_list"),
    path("transitions/new/", views.transition_create, name="transition_create"),
    path("transitions/<int:transition_id>/", views.transition_edit, name="transition_edit"),
    path("transitions/<int:transition_id>/delete/", views.transition_delete, name="transition_delete"),
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path("campaigns/<int:campaign_id>/", views.campaign_edit, name="campaign_edit"),
    path("fields/", views.field_list, name="field_list"),
    path("fields/new/", views.field_create, name="field_create"),
    path("fields/<int:field_id>/", views.field_edit, name="field_edit"),
]
