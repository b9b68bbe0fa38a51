from django.apps import AppConfig

from portal.core.sections import Section


class ChannelsConfig(AppConfig):
    name = "portal.channels"
    label = "channels"
    verbose_name = "KVS signaling channels"
    sections = (
        Section(
            label="Channels",
            url_name="channels",
            position=30,
            title="Signaling channels",
            summary="Kinesis Video Streams WebRTC signaling channels.",
            coming=(
                "Create channels with a message TTL; follow CREATING → ACTIVE",
                "Versioned update and delete",
                "Show endpoints for each role and protocol",
            ),
        ),
    )
