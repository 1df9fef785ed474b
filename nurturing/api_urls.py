"""Nurturing REST API under /api/companies/<company_id>/ (namespace nurturing_api)."""

from django.urls import path

from nurturing import api

app_name = "nurturing_api"

urlpatterns = [
    path("sequences", api.SequenceListView.as_view(), name="sequence-list"),
    path("sequences/<int:sequence_id>", api.SequenceDetailView.as_view(), name="sequence-detail"),
    path("sequences/<int:sequence_id>/steps", api.StepListView.as_view(), name="step-list"),
    path("sequences/<int:sequence_id>/steps/<int:step_id>", api.StepDetailView.as_view(), name="step-detail"),
    path("sequences/<int:sequence_id>/enrolments", api.SequenceEnrolView.as_view(), name="sequence-enrol"),
    path("sequences/<int:sequence_id>/enrol-bulk", api.SequenceEnrolBulkView.as_view(), name="sequence-enrol-bulk"),
    path("enrolments/<int:enrolment_id>/stop", api.EnrolmentStopView.as_view(), name="enrolment-stop"),
    path("enrolments/<int:enrolment_id>/pause", api.EnrolmentPauseView.as_view(), name="enrolment-pause"),
    path("enrolments/<int:enrolment_id>/resume", api.EnrolmentResumeView.as_view(), name="enrolment-resume"),
    path("nurturing-settings", api.NurturingSettingsView.as_view(), name="settings"),
    path("leads/<int:lead_id>/email-messages", api.LeadMessagesView.as_view(), name="lead-messages"),
]
