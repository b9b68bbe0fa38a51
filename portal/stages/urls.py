from django.urls import path

from portal.stages import views

urlpatterns = [
    path("", views.stage_list, name="stages"),
    path("new/", views.stage_create, name="stage_create"),
    path("sync/", views.stage_sync, name="stage_sync"),
    path("delete/", views.stages_delete, name="stages_delete"),
    path("<id:stage_id>/", views.stage_detail, name="stage_detail"),
    path("<id:stage_id>/rename/", views.stage_rename, name="stage_rename"),
    path("<id:stage_id>/tags/add/", views.stage_tag_add, name="stage_tag_add"),
    path("<id:stage_id>/tags/remove/", views.stage_tag_remove, name="stage_tag_remove"),
    path("<id:stage_id>/tokens/", views.stage_tokens_issue, name="stage_tokens_issue"),
    path("<id:stage_id>/delete/", views.stage_delete, name="stage_delete"),
    path(
        "<id:stage_id>/participants/<id:participant_pk>/timeline/",
        views.participant_timeline,
        name="participant_timeline",
    ),
    path(
        "<id:stage_id>/participants/<id:participant_pk>/disconnect/",
        views.participant_disconnect,
        name="participant_disconnect",
    ),
]
