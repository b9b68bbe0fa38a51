from django.urls import path

from portal.core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon),
    path("operations/", views.operations, name="operations"),
    path("operations/check-connection/", views.operation_check_connection, name="operation_check_connection"),
    path("operations/<id:operation_id>/", views.operation_detail, name="operation_detail"),
    path("operations/<id:operation_id>/secrets/", views.operation_secrets_reveal, name="operation_secrets_reveal"),
    path("operations/batches/<id:batch_id>/", views.operation_batch, name="operation_batch"),
    path("people/", views.people, name="people"),
    path("people/end/", views.people_end, name="people_end"),
    path("drift/", views.drift, name="drift"),
    path("drift/<id:drift_id>/resolve/", views.drift_resolve_one, name="drift_resolve"),
    path("dead-letters/", views.dead_letters, name="dead_letters"),
    path("audit/", views.audit, name="audit"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
]
