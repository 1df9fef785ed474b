"""Pages under /c/<company_slug>/accounts/ (namespace accounts)."""

from django.urls import path

from accounts import exports, views, views_conversion, views_stages

app_name = "accounts"

urlpatterns = [
    path("", views.account_list, name="account_list"),
    path("new/", views.account_create, name="account_create"),
    path("export/", exports.export_view, name="export"),
    path("<int:account_id>/", views.account_detail, name="account_detail"),
    path("<int:account_id>/edit/", views.account_edit, name="account_edit"),
    path("<int:account_id>/delete/", views.account_delete, name="account_delete"),
    path("<int:account_id>/log/", views.account_log, name="account_log"),
    path("contacts/", views.contact_list, name="contact_list"),
    path("contacts/new/", views.contact_create, name="contact_create"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact_detail"),
    path("contacts/<int:contact_id>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:contact_id>/delete/", views.contact_delete, name="contact_delete"),
    path("contacts/<int:contact_id>/log/", views.contact_log, name="contact_log"),
    path("opportunities/", views.opportunity_list, name="opportunity_list"),
    path("opportunities/new/", views.opportunity_create, name="opportunity_create"),
    path("opportunities/<int:opportunity_id>/", views.opportunity_detail, name="opportunity_detail"),
    path("opportunities/<int:opportunity_id>/edit/", views.opportunity_edit, name="opportunity_edit"),
    path("opportunities/<int:opportunity_id>/delete/", views.opportunity_delete, name="opportunity_delete"),
    path("opportunities/<int:opportunity_id>/log/", views.opportunity_log, name="opportunity_log"),
    path("opportunities/<int:opportunity_id>/move/", views.opportunity_move, name="opportunity_move"),
    path("pipeline/", views.pipeline_board, name="pipeline"),
    path("forecast/", views.forecast_page, name="forecast"),
    path("leads/<int:lead_id>/qualify/", views_conversion.lead_qualify_page, name="lead_qualify"),
    path("leads/<int:lead_id>/convert/", views_conversion.lead_convert_page, name="lead_convert"),
    path("leads/convert/", views_conversion.bulk_convert_page, name="bulk_convert"),
    path("qualification-settings/", views_conversion.qualification_settings_page, name="qualification_settings"),
    path("stages/", views_stages.stage_list, name="stage_list"),
    path("stages/new/", views_stages.stage_create, name="stage_create"),
    path("stages/<int:stage_id>/edit/", views_stages.stage_edit, name="stage_edit"),
    path("stages/<int:stage_id>/delete/", views_stages.stage_delete, name="stage_delete"),
]
