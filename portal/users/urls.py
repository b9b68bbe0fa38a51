from django.urls import path

from portal.users import views

urlpatterns = [
    path("", views.users, name="users"),
    path("new/", views.user_create, name="user_create"),
    path("<id:user_id>/role/", views.user_role, name="user_role"),
    path("<id:user_id>/active/", views.user_active, name="user_active"),
    path("<id:user_id>/password/", views.user_password, name="user_password"),
    path("unlock/", views.login_unlock, name="login_unlock"),
]
