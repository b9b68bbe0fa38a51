from django.urls import path

from portal.users import views

urlpatterns = [
    path("", views.users, name="users"),
    path("new/", views.user_create, name="user_create"),
    path("<id:user_id>/role/", views.user_role, name="user_role"),
    path("<id:user_id>/deactivate/", views.user_deactivate, name="user_deactivate"),
    path("<id:user_id>/reactivate/", views.user_reactivate, name="user_reactivate"),
    path("<id:user_id>/password/", views.user_password, name="user_password"),
    path("passwords/<id:entry_id>/", views.user_password_issued, name="user_password_issued"),
    path("passwords/<id:entry_id>/reveal/", views.user_password_reveal, name="user_password_reveal"),
    path("unlock/", views.login_unlock, name="login_unlock"),
]
