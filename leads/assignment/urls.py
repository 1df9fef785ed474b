"""Pages for the assignment area (namespace leads:assignment), under /c/<company_slug>/leads/."""

from django.urls import path

from leads.assignment import views

app_name = "assignment"

urlpatterns = [
    path("queue/", views.queue, name="queue"),
    path("queue/<int:lead_id>/next/", views.queue_next, name="queue_next"),
    path("queue/<int:lead_id>/previous/", views.queue_previous, name="queue_previous"),
    path("<int:lead_id>/claim/", views.claim, name="claim"),
    path("<int:lead_id>/release/", views.release, name="release"),
    path("<int:lead_id>/assign/", views.assign, name="assign"),
    path("<int:lead_id>/not-spam/", views.not_spam, name="not_spam"),
    path("pool/", views.pool, name="pool"),
    path("pool/assign/", views.pool_assign, name="pool_assign"),
    path("spam/", views.spam_list, name="spam_list"),
    path("stats/", views.stats, name="stats"),
    path("team/", views.team, name="team"),
    path("team/<int:member_id>/", views.member_edit, name="member_edit"),
    path("assignment-rules/", views.rule_list, name="rule_list"),
    path("assignment-rules/new/", views.rule_create, name="rule_create"),
    path("assignment-rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("assignment-rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("assignment-rules/<int:rule_id>/move/", views.rule_move, name="rule_move"),
    path("scoring/", views.scoring_list, name="scoring_list"),
    path("scoring/new/", views.scoring_create, name="scoring_create"),
    path("scoring/settings/", views.settings_edit, name="settings"),
    path("scoring/<int:scoring_rule_id>/", views.scoring_edit, name="scoring_edit"),
    path("scoring/<int:scoring_rule_id>/delete/", views.scoring_delete, name="scoring_delete"),
]
