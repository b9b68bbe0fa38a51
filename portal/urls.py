from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from portal.core.converters import IdConverter
from portal.pstn.views import sma_invocation

register_converter(IdConverter, "id")  # before the includes: every app's routes take <id:...>

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("channels/", include("portal.channels.urls")),
    path("meetings/", include("portal.meetings.urls")),
    path("pipelines/", include("portal.pipelines.urls")),
    path("stages/", include("portal.stages.urls")),
    path("cleanup/", include("portal.cleanup.urls")),
    path("users/", include("portal.users.urls")),
    path("calls/", include("portal.pstn.urls")),
    path("pstn/sma/", sma_invocation, name="pstn_sma_invocation"),
    path("", include("portal.core.urls")),
]
