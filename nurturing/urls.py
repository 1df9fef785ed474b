"""Nurturing pages under /c/<company_slug>/nurturing/ (namespace nurturing)."""

from django.urls import path

from nurturing import views

app_name = "nurturing"

STEP = "sequences/<int:sequence_id>/steps/<int:step_id>/"

urlpatterns = [
    path("", views.sequence_list, name="sequence_list"),
    path("sequences/new/", views.sequence_create, name="sequence_create"),
    path("sequences/<int:sequence_id>/", views.sequence_detail, name="sequence_detail"),
    path("sequences/<int:sequence_id>/edit/", views.sequence_edit, name="sequence_edit"),
    path("sequences/<int:sequence_id>/activation/", views.sequence_activation, name="sequence_activation"),
    path("sequences/<int:sequence_id>/enrol/", views.sequence_enrol_bulk, name="sequence_enrol_bulk"),
    path("sequences/<int:sequence_id>/enrol/<int:bulk_job_id>/", views.bulk_job_detail, name="bulk_job"),
    path("sequences/<int:sequence_id>/steps/new/", views.step_create, name="step_create"),
    path(f"{STEP}edit/", views.step_edit, name="step_edit"),
    path(f"{STEP}move/", views.step_move, name="step_move"),
    path(f"{STEP}activation/", views.step_activation, name="step_activation"),
    path(f"{STEP}preview/", views.step_preview, name="step_preview"),
    path(f"{STEP}test/", views.step_test_send, name="step_test_send"),
    path(f"{STEP}delete/", views.step_delete, name="step_delete"),
    path("settings/", views.settings_edit, name="settings"),
    path("leads/<int:lead_id>/enrol/", views.lead_enrol, name="lead_enrol"),
    path("enrolments/<int:enrolment_id>/stop/", views.enrolment_stop, name="enrolment_stop"),
    path("enrolments/<int:enrolment_id>/pause/", views.enrolment_pause, name="enrolment_pause"),
    path("enrolments/<int:enrolment_id>/resume/", views.enrolment_resume, name="enrolment_resume"),
]
