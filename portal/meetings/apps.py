from django.apps import AppConfig

from portal.core.sections import Section


class MeetingsConfig(AppConfig):
    name = "portal.meetings"
    label = "meetings"
    verbose_name = "Chime SDK meetings"
    sections = (
        Section(
            label="Meetings",
            url_name="meetings",
            position=10,
            summary="Amazon Chime SDK meetings and their attendees, kept in the portal's own registry.",
        ),
    )
