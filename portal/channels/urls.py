from django.urls import path

from portal.channels import views

urlpatterns = [
    path("", views.channel_list, name="channels"),
    path("new/", views.channel_create, name="channel_create"),
    path("fleet/", views.fleet_create, name="channel_fleet_create"),
    path("delete/", views.channels_delete, name="channels_delete"),
    path("<id:channel_id>/", views.channel_detail, name="channel_detail"),
    path("<id:channel_id>/ttl/", views.channel_ttl_update, name="channel_ttl_update"),
    path("<id:channel_id>/ttl/<id:operation_id>/", views.channel_ttl_reapply, name="channel_ttl_reapply"),
    path("<id:channel_id>/tags/add/", views.channel_tag_add, name="channel_tag_add"),
    path("<id:channel_id>/tags/remove/", views.channel_tag_remove, name="channel_tag_remove"),
    path("<id:channel_id>/ice-servers/", views.channel_ice_servers, name="channel_ice_servers"),
    path("<id:channel_id>/delete/", views.channel_delete, name="channel_delete"),
]
