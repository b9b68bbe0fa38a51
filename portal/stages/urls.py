from django.urls import path

from portal.stages import views

urlpatterns = [
    path("", views.stage_list, name="stages"),
    path("new/", views.stage_create, name="stage_create"),
    path("sync/", views.stage_sync, name="stage_sync"),
    path("delete/", views.stages_delete, name="stages_delete"),
    path("<int:stage_id>/", views.stage_detail, name="stage_detail"),
    path("<int:stage_id>/rename/", views.stage_rename, name="stage_rename"),
    path("<int:stage_id>/tags/add/", views.stage_tag_add, name="stage_tag_add"),
    path("<int:stage_id>/tags/remove/", views.stage_tag_remove, name="stage_tag_remove"),
    path("<int:stage_id>/tokens/", views.stage_tokens_issue, name="stage_tokens_issue"),
    path("<int:stage_id>/delete/", views.stage_delete, name="stage_delete"),
    path(
        "<int:stage_id>/participants/<int:participant_pk>/timeline/",
        views.participant_timeline,
        name="participant_timeline",
    ),
    path(
        "<int:stage_id>/participants/<int:participant_pk>/disconnect/",
        views.participant_disconnect,
        name="participant_disconnect",
    ),
]
