from django.urls import path

from portal.pipelines import views

urlpatterns = [
    path("", views.pipeline_list, name="pipelines"),
    path("<id:capture_pk>/", views.pipeline_detail, name="pipeline_detail"),
    path("<id:capture_pk>/stop/", views.capture_stop, name="pipeline_stop"),
    path("<id:capture_pk>/concatenate/", views.capture_concatenate, name="pipeline_concatenate"),
    path("meetings/<id:meeting_pk>/record/", views.capture_start, name="pipeline_start"),
    path("meetings/<id:meeting_pk>/capture/", views.meeting_capture_panel, name="pipeline_meeting_panel"),
]
