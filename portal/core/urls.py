from django.urls import path

from portal.core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("operations/", views.operations, name="operations"),
    path("operations/check-connection/", views.operation_check_connection, name="operation_check_connection"),
    path("operations/<int:operation_id>/", views.operation_detail, name="operation_detail"),
    path("audit/", views.audit, name="audit"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
    path("meetings/", views.section_coming, {"section": "meetings"}, name="meetings"),
    path("channels/", views.section_coming, {"section": "channels"}, name="channels"),
    path("pipelines/", views.section_coming, {"section": "pipelines"}, name="pipelines"),
]
