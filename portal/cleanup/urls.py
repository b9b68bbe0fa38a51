from django.urls import path

from portal.cleanup import views

urlpatterns = [
    path("", views.cleanup_policies, name="cleanup"),
    path("new/", views.cleanup_policy_create, name="cleanup_policy_create"),
    path("runs/", views.cleanup_runs, name="cleanup_runs"),
    path("runs/export.csv", views.cleanup_runs_export, name="cleanup_runs_export"),
    path("runs/<id:run_id>/", views.cleanup_run, name="cleanup_run"),
    path("<id:policy_id>/", views.cleanup_policy, name="cleanup_policy"),
    path("<id:policy_id>/edit/", views.cleanup_policy_edit, name="cleanup_policy_edit"),
    path("<id:policy_id>/preview/", views.cleanup_policy_preview, name="cleanup_policy_preview"),
    path("<id:policy_id>/run/", views.cleanup_policy_run, name="cleanup_policy_run"),
]
