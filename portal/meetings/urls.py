from django.urls import path

from portal.meetings import views

urlpatterns = [
    path("", views.meeting_list, name="meetings"),
    path("new/", views.meeting_create, name="meeting_create"),
    path("<id:meeting_pk>/", views.meeting_detail, name="meeting_detail"),
    path("<id:meeting_pk>/end/", views.meeting_end, name="meeting_end"),
    path("<id:meeting_pk>/attendees/add/", views.attendees_add, name="meeting_attendees_add"),
    path("<id:meeting_pk>/capabilities/", views.meeting_capabilities_except, name="meeting_capabilities_except"),
    path("<id:meeting_pk>/attendees/<id:attendee_pk>/revoke/", views.attendee_revoke, name="meeting_attendee_revoke"),
    path(
        "<id:meeting_pk>/attendees/<id:attendee_pk>/capabilities/",
        views.attendee_capabilities,
        name="meeting_attendee_capabilities",
    ),
]
